"""Session events, the dashboard queries against a brute-force reference, retention, CSV,
settings and the outbox — on real SQLCipher files."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import statistics
import time
from dataclasses import replace

import pytest

from affectra_edge.metrics import Registry
from affectra_edge.store import CSV_COLUMNS
from affectra_edge.types import EMOTIONS, SessionEvent, parse_iso_utc
from tests.store.conftest import DEVICE, lifecycle, random_sessions, session

DAY = 86400
# a fixed, slot-aligned origin so that some sessions end exactly on slot and day boundaries
T0 = 1_750_000_000 - 1_750_000_000 % DAY


def reference(sessions, start, end):
    """What summary() must say, computed the slow, obvious way."""
    chosen = [s for s in sessions if start <= s.ended_at < end]
    n = len(chosen)
    fr = [sum(s.emotions.probs[i] for s in chosen) / n if n else 0.0 for i in range(7)]
    return {
        "visitors": n,
        "avg_dwell_s": sum(s.duration_s for s in chosen) / n if n else 0.0,
        "median_dwell_s": statistics.median([s.duration_s for s in chosen]) if n else 0.0,
        "emotions": dict(zip(EMOTIONS, fr, strict=True)),
        "dominant": EMOTIONS[fr.index(max(fr))] if n else None,
    }


def assert_summary(got, want, median_rel=1e-6):
    assert got["visitors"] == want["visitors"]
    assert got["avg_dwell_s"] == pytest.approx(want["avg_dwell_s"], abs=2e-3)
    assert got["median_dwell_s"] == pytest.approx(want["median_dwell_s"], rel=median_rel, abs=2e-3)
    for e in EMOTIONS:
        assert got["emotions"][e] == pytest.approx(want["emotions"][e], abs=1e-4)
    assert got["dominant"] == want["dominant"]


@pytest.fixture(scope="module")
def dataset():
    sess = random_sessions(3000, T0, 20 * DAY, seed=7)
    # sessions ending exactly on slot, hour and day boundaries (the roll-up edges)
    for i, edge in enumerate([T0 + DAY, T0 + 5 * DAY + 900, T0 + 3 * DAY + 3600]):
        sess.append(session(f"edge{i}", edge - 10.0, 10.0))
    return sess


@pytest.fixture
def loaded(open_, dataset):
    store = open_()
    assert store.import_sessions(dataset, batch=700) == len(dataset)
    return store


def test_events_make_one_row_per_viewer_and_never_double_count(open_):
    reg = Registry()
    store = open_(registry=reg)
    a = session("a", T0, 30.0)
    for ev in lifecycle(a):
        store.on_event(ev)
    store.on_event(SessionEvent("end", a))  # repeated end
    store.on_event(SessionEvent("update", replace(a, state="open")))  # late update
    b = session("b", T0 + 100, 5.0)
    store.on_event(SessionEvent("end", b))  # an end without a start still counts once
    store.on_event(lifecycle(session("c", T0 + 200, 9.0, state="open"))[0])
    assert store.flush(10)
    assert store.count_sessions() == 2
    assert store.viewers_now() == 1
    assert [d["session_id"] for d in store.recent_sessions()] == ["b", "a"]
    assert store.recent_sessions()[1] == a.to_json()
    assert store.outbox_depth() == 2
    assert reg.counter("store_sessions_total", "").value() == 2
    s = store.summary(T0 - 1, T0 + DAY)
    assert s["visitors"] == 2 and s["viewers_now"] == 1
    assert s["avg_dwell_s"] == pytest.approx(17.5) and s["total_dwell_s"] == pytest.approx(35.0)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0, T0 + 20 * DAY),  # everything
        (T0 - 5, T0 + 30 * DAY),  # unaligned, beyond
        (T0 + DAY, T0 + 2 * DAY),  # one aligned day (edge0 ends exactly at its start)
        (T0 + 3 * DAY + 123.4, T0 + 3 * DAY + 3600),  # inside one hour, ends on a boundary
        (T0 + 5 * DAY + 450, T0 + 5 * DAY + 901),  # straddles a slot edge by a second
        (T0 + 7 * DAY + 1, T0 + 7 * DAY + 2),  # probably empty
    ],
)
def test_summary_matches_reference(loaded, dataset, start, end):
    assert_summary(loaded.summary(start, end), reference(dataset, start, end))


def test_median_from_histograms_for_large_ranges(loaded, dataset, monkeypatch):
    import affectra_edge.store.queries as mod

    monkeypatch.setattr(mod, "EXACT_MEDIAN_MAX", 100)
    for start, end in [(T0, T0 + 20 * DAY), (T0 + 0.5 * DAY, T0 + 9.25 * DAY)]:
        got = loaded.summary(start, end)
        want = reference(dataset, start, end)
        # the daily histograms have bins 10 % wide; interpolation does much better
        assert_summary(got, want, median_rel=0.05)
        assert got["median_dwell_s"] != pytest.approx(want["median_dwell_s"], rel=1e-9)


@pytest.mark.parametrize("tz", [0, 3600, -5 * 3600, 19800, 20700, 1234])
@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_buckets_match_reference(loaded, dataset, tz, bucket):
    size = 3600 if bucket == "hour" else DAY
    start, end = (
        (T0 + 2 * DAY + 1000.5, T0 + 3 * DAY + 7000)
        if bucket == "hour"
        else (
            T0 - 1000,
            T0 + 15 * DAY + 3,
        )
    )
    got = loaded.buckets(start, end, bucket, tz_offset_s=tz)
    want: dict[int, list] = {}
    for s in dataset:
        if start <= s.ended_at < end:
            want.setdefault(math.floor((s.ended_at + tz) / size) * size - tz, []).append(s)
    assert [b["start"] for b in got] == sorted(want)
    for b in got:
        members = want[b["start"]]
        ref = reference(members, -math.inf, math.inf)
        assert b["visitors"] == len(members)
        assert b["avg_dwell_s"] == pytest.approx(ref["avg_dwell_s"], abs=2e-3)
        assert b["dominant"] == ref["dominant"]
        for e in EMOTIONS:
            assert b["emotions"][e] == pytest.approx(ref["emotions"][e], abs=1e-4)


def test_csv_export_round_trips(loaded, dataset):
    buf = io.StringIO()
    lo, hi = T0 + 2 * DAY, T0 + 4 * DAY
    n = loaded.export_csv(buf, lo, hi)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    want = sorted((s for s in dataset if lo <= s.ended_at < hi), key=lambda s: s.ended_at)
    assert n == len(rows) - 1 == len(want) > 100
    by_id = {s.session_id: s for s in want}
    for r in rows[1:]:
        d = dict(zip(CSV_COLUMNS, r, strict=True))
        s = by_id.pop(d["session_id"])
        assert d["device_id"] == DEVICE and d["artwork"] == "Mona Lisa"
        assert d["started_at"].endswith("Z") and d["ended_at"].endswith("Z")
        assert parse_iso_utc(d["started_at"]) == pytest.approx(s.started_at, abs=1e-3)
        assert parse_iso_utc(d["ended_at"]) == pytest.approx(s.ended_at, abs=1e-3)
        assert float(d["duration_s"]) == pytest.approx(s.duration_s, abs=2e-3)
        assert int(d["frames"]) == s.frames and d["dominant"] == s.dominant
        for i, e in enumerate(EMOTIONS):
            assert float(d[e]) == pytest.approx(s.emotions.probs[i], abs=1e-6)
    assert not by_id
    times = [parse_iso_utc(r[4]) for r in rows[1:]]
    assert times == sorted(times)
    full = io.StringIO()
    assert loaded.export_csv(full) == len(dataset)


FORMULAS = ['=HYPERLINK("http://evil/","x")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tx", "\rx"]


def test_csv_export_prefixes_cells_that_start_like_formulas(open_):
    """OWASP's rule against CSV injection: a cell that starts with = + - @ TAB CR gets a
    leading single quote; everything else is exported as it is."""
    store = open_()
    names = [*FORMULAS, "Mona Lisa", "a=b", "'quoted", "", "x\r=1+1"]
    rows = [session(f"s{i}", T0 + 60 * i, 5.0, artwork=a) for i, a in enumerate(names)]
    rows.append(session("dev", T0 + 3600, 5.0, device="=cmd|' /C calc'!A0", artwork="x"))
    assert store.import_sessions(rows) == len(rows)
    buf = io.StringIO()
    assert store.export_csv(buf) == len(rows)
    got = {r["session_id"]: r for r in csv.DictReader(io.StringIO(buf.getvalue()))}
    for i, name in enumerate(FORMULAS):
        assert got[f"s{i}"]["artwork"] == "'" + name
    assert [got[f"s{i}"]["artwork"] for i in range(len(FORMULAS), len(names))] == [
        "Mona Lisa",
        "a=b",
        "'quoted",
        "",
        "x\r=1+1",
    ]
    # a cell with a CR is quoted, so the CR cannot end the row (and start one with "=")
    text = buf.getvalue()
    assert ',"\'\rx",' in text and ',"x\r=1+1",' in text
    assert got["dev"]["device_id"] == "'=cmd|' /C calc'!A0"
    assert got["s0"]["device_id"] == DEVICE and got["s0"]["duration_s"] == "5.000"
    assert got["s0"]["dominant"] == "happy" and got["s0"]["frames"] == "25"


def test_retention_deletes_exactly_the_old_and_the_excess(open_, storage):
    now = T0 + 100 * DAY
    old = [session(f"old{i}", now - 40 * DAY + i * 60, 20.0) for i in range(30)]
    keep = [session(f"new{i}", now - 20 * DAY + i * 3600, 20.0 + i) for i in range(50)]
    border = session("border", now - 30 * DAY - 20.0, 20.0)  # ends exactly at the cutoff: kept
    store = open_(replace(storage, retention_days=30, max_sessions=0))
    store.import_sessions([*old, *keep, border])
    store.on_event(lifecycle(session("open", now - 90 * DAY, 5.0, state="open"))[0])
    assert store.flush(10)
    assert store.retention_run(now) == 30
    ids = {r["session_id"] for r in store.recent_sessions(1000)}
    assert ids == {s.session_id for s in [*keep, border]}
    assert store.viewers_now() == 1  # open sessions are never deleted by retention
    # the roll-ups were rebuilt: totals and all-time summary still match the rows
    assert store.count_sessions() == 51
    assert_summary(store.summary(0, now), reference([*keep, border], 0, now))
    # now the cap: keep the newest 10
    store.set_retention(30, 10)
    assert store.retention_run(now) == 41
    newest = sorted([*keep, border], key=lambda s: s.ended_at)[-10:]
    assert [r["session_id"] for r in store.recent_sessions(1000)] == [
        s.session_id for s in reversed(newest)
    ]
    assert store.count_sessions() == 10
    assert_summary(store.summary(0, now), reference(newest, 0, now))
    assert store.retention_run(now) == 0


def test_scheduled_retention_runs_in_the_writer(open_, storage):
    from tests.support import wait_for

    store = open_(replace(storage, retention_days=1, retention_interval_s=1.0))
    store.import_sessions([session("ancient", time.time() - 10 * DAY, 3.0)])
    store.import_sessions([session("fresh", time.time() - 60, 3.0)])
    sent = []

    def busy_and_done() -> bool:
        # keep the writer busy all the while: retention must not be starved by traffic
        sent.append(session(f"busy{len(sent)}", time.time() - 30, 3.0))
        store.on_event(SessionEvent("end", sent[-1]))
        ids = {r["session_id"] for r in store.recent_sessions(10_000)}
        return "ancient" not in ids

    wait_for(busy_and_done, timeout=20, interval=0.01)
    store.flush(10)
    ids = {r["session_id"] for r in store.recent_sessions(10_000)}
    assert ids == {"fresh"} | {s.session_id for s in sent}


def test_clear_all(loaded):
    loaded.on_event(SessionEvent("end", session("x", T0, 1.0)))
    loaded.flush(10)
    n = loaded.count_sessions()
    assert loaded.outbox_depth() == 1
    assert loaded.clear_all() == n
    assert loaded.count_sessions() == 0 and loaded.outbox_depth() == 0
    assert loaded.summary(0, 2e9)["visitors"] == 0
    assert loaded.buckets(0, 2e9, "day") == []


def test_settings_are_json_and_persist(open_, storage):
    store = open_()
    assert store.get_setting("threshold") is None
    assert store.get_setting("threshold", 0.3) == 0.3
    store.set_setting("threshold", 0.45)
    store.set_setting("artwork", "Nachtwacht — zaal 2")
    store.set_setting("nested", {"a": [1, 2]})
    store.close()
    store = open_()
    assert store.get_setting("threshold") == 0.45
    assert store.get_setting("artwork") == "Nachtwacht — zaal 2"
    assert store.get_setting("nested") == {"a": [1, 2]}


def test_outbox_order_ack_wait_and_payload(open_):
    store = open_()
    assert store.outbox_wait(0.05) is False
    sessions = [session(f"o{i}", T0 + i, 2.0 + i) for i in range(5)]
    for s in sessions:
        store.on_event(SessionEvent("end", s))
    assert store.flush(10)
    assert store.outbox_wait(1.0) is True
    assert store.outbox_wait(0.05) is False  # nothing new since
    items = store.outbox_peek()
    assert [json.loads(i.payload) for i in items] == [s.to_json() for s in sessions]
    assert items[0].payload == json.dumps(sessions[0].to_json(), separators=(",", ":"))
    assert [i.kind for i in items] == ["session"] * 5
    assert [i.id for i in items] == sorted(i.id for i in items)
    store.outbox_ack([items[0].id, items[2].id])
    assert store.outbox_depth() == 3
    assert [i.id for i in store.outbox_peek(2)] == [items[1].id, items[3].id]
    store.outbox_ack([items[0].id])  # twice: harmless
    assert store.outbox_depth() == 3
    # acking does not touch the sessions
    assert store.count_sessions() == 5


def test_outbox_cap_drops_oldest_with_warning(open_, storage, caplog):
    reg = Registry()
    store = open_(replace(storage, outbox_max=3), registry=reg)
    with caplog.at_level(logging.WARNING, logger="affectra_edge.store.store"):
        for i in range(5):
            store.on_event(SessionEvent("end", session(f"c{i}", T0 + i, 1.0)))
            assert store.flush(10)
    assert store.outbox_depth() == 3
    assert store.outbox_dropped == 2
    assert reg.counter("mqtt_outbox_dropped_total", "").value() == 2
    assert [json.loads(i.payload)["session_id"] for i in store.outbox_peek()] == ["c2", "c3", "c4"]
    assert sum("outbox over its cap" in r.message for r in caplog.records) == 2
    assert store.count_sessions() == 5  # the sessions themselves are all kept
    assert reg.gauge("mqtt_outbox_depth", "").value() == 3


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def test_readers_on_many_threads_while_writing(open_):
    import threading

    store = open_()
    errors: list[BaseException] = []
    seen: dict[int, list[int]] = {}
    stop = threading.Event()

    def reader(k: int):
        mine = seen.setdefault(k, [])
        try:
            while not stop.is_set():
                s = store.summary(0, 2e9)
                mine.append(s["visitors"])
                assert s["emotions"]["happy"] == (0.5 if s["visitors"] else 0.0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for i in range(300):
        store.on_event(SessionEvent("end", session(f"w{i}", T0 + i, 3.0)))
        if i % 50 == 0:
            store.flush(10)
    store.flush(10)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors
    for counts in seen.values():  # each reader only ever sees the total grow
        assert counts and counts == sorted(counts) and counts[-1] <= 300
    assert store.count_sessions() == 300

    # short-lived threads must not leave connections (file descriptors) behind
    before = _open_fds()
    for _ in range(40):
        t = threading.Thread(target=lambda: store.summary(0, 2e9))
        t.start()
        t.join()
    assert _open_fds() - before <= 6


def test_one_bad_event_does_not_take_its_batch_down(open_, caplog):
    reg = Registry()
    store = open_(registry=reg)
    bad = session("bad", float("nan"), 5.0)
    events = [
        SessionEvent("end", session("before", T0, 5.0)),
        SessionEvent("end", bad),
        SessionEvent("end", session("marathon", T0, 3 * DAY)),  # beyond the histogram's range
        SessionEvent("end", session("after", T0 + 10, 5.0)),
    ]
    with caplog.at_level(logging.ERROR, logger="affectra_edge.store.store"):
        for ev in events:  # queued together: one group transaction
            store.on_event(ev)
        assert store.flush(10)
    assert {d["session_id"] for d in store.recent_sessions()} == {"before", "marathon", "after"}
    assert [r.message for r in caplog.records if "session end bad" in r.message]
    assert reg.counter("store_errors_total", "").value() == 1
    assert store.outbox_depth() == 3 and store.count_sessions() == 3
    assert store.summary(0, 2e9)["median_dwell_s"] == 5.0
