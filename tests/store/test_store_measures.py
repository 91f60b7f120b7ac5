"""Attraction power, holding power's inputs, valence/arousal and the schema-3 migration, on real
SQLCipher files."""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
from pathlib import Path

import pytest

from affectra_edge.measures import valence_arousal
from affectra_edge.store import CSV_COLUMNS
from affectra_edge.store import schema as schema_mod
from affectra_edge.store.db import connect
from affectra_edge.store.keys import new_key_hex, write_key_file
from affectra_edge.store.queries import MEASURES_CSV_COLUMNS
from affectra_edge.types import SessionEvent, iso_utc
from tests.store.conftest import config_file, random_sessions, session, store_cli

DAY = 86400
T0 = 1_750_000_000 - 1_750_000_000 % DAY
HAPPY_NEUTRAL = (0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.4)


def test_passers_by_are_counted_per_slot_and_give_attraction_power(open_):
    store = open_()
    # three viewers in the first hour, one in the second
    for i, start in enumerate([T0 + 100, T0 + 1000, T0 + 2000, T0 + 3700]):
        store.on_event(SessionEvent("end", session(f"v{i}", start, 5.0)))
    # nine passers-by in the first hour (two slots), none in the second, one in the third
    store.count_passers_by([T0 + 10.0] * 5 + [T0 + 950.0] * 4)
    store.count_passers_by([T0 + 2 * 3600 + 5.0])
    assert store.flush(10)
    day = store.summary(T0, T0 + DAY)
    assert day["visitors"] == 4 and day["passers_by"] == 10
    assert day["attraction_power"] == pytest.approx(4 / 14, abs=1e-4)
    hours = {b["start"]: b for b in store.buckets(T0, T0 + DAY, "hour")}
    assert hours[T0]["passers_by"] == 9
    assert hours[T0]["attraction_power"] == pytest.approx(3 / 12, abs=1e-4)
    assert hours[T0 + 3600]["attraction_power"] == 1.0
    # an hour with passers-by and nobody who stopped is a bucket too: nobody was attracted
    third = hours[T0 + 2 * 3600]
    assert third["visitors"] == 0 and third["passers_by"] == 1
    assert third["attraction_power"] == 0.0 and third["valence"] is None
    # only counts are stored: one row per slot, no time stamps, no per-person rows
    conn = store._reader()
    assert conn.execute("SELECT slot, n FROM passersby ORDER BY slot").fetchall() == [
        (T0 // 900, 5),
        (T0 // 900 + 1, 4),
        (T0 // 900 + 8, 1),
    ]
    # nobody passed and nobody stopped: there is nothing to measure
    empty = store.summary(T0 + 5 * DAY, T0 + 6 * DAY)
    assert empty["passers_by"] == 0 and empty["attraction_power"] is None


def test_retention_and_clear_remove_passers_by(open_, storage):
    store = open_()
    store.count_passers_by([T0 + 10.0, T0 + 40 * DAY])
    assert store.flush(10)
    store.set_retention(30, 0)
    store.retention_run(now=T0 + 41 * DAY)
    assert store.summary(T0 - DAY, T0 + 50 * DAY)["passers_by"] == 1
    store.clear_all()
    assert store.summary(T0 - DAY, T0 + 50 * DAY)["passers_by"] == 0


def test_session_valence_arousal_are_stored_exported_and_aggregated(open_):
    store = open_()
    sessions = random_sessions(300, T0, 2 * DAY, seed=11)
    sessions.append(session("happy-neutral", T0 + 50.0, 12.0, HAPPY_NEUTRAL))
    store.import_sessions(sessions)
    store.on_event(SessionEvent("end", session("live", T0 + 60.0, 3.0, HAPPY_NEUTRAL)))
    assert store.flush(10)
    # the documented worked example: 60 % happy, 40 % neutral → valence 0.6 × 0.81
    doc = next(d for d in store.recent_sessions(500) if d["session_id"] == "live")
    assert doc["valence"] == pytest.approx(0.486) and doc["arousal"] == pytest.approx(0.306)
    assert doc["version"] == 1  # additive fields, same schema version
    conn = store._reader()
    stored = dict(conn.execute("SELECT session_id, valence FROM sessions").fetchall())
    for s in sessions:
        assert stored[s.session_id] == pytest.approx(valence_arousal(s.emotions.probs)[0])

    buf = io.StringIO()
    store.export_csv(buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0])[-2:] == ["valence", "arousal"] == list(CSV_COLUMNS[-2:])
    by_id = {r["session_id"]: r for r in rows}
    assert by_id["happy-neutral"]["valence"] == "0.486000"
    negative = next(r for r in rows if r["valence"].startswith(("-", "'")))
    assert not negative["valence"].startswith("'")  # a number, not a formula to defuse

    # the roll-ups (summary and buckets) give the mean of the sessions' own values
    everyone = [*sessions, session("live", T0 + 60.0, 3.0, HAPPY_NEUTRAL)]
    summary = store.summary(T0, T0 + 3 * DAY)
    for i, key in enumerate(("valence", "arousal")):
        want = statistics.fmean(valence_arousal(s.emotions.probs)[i] for s in everyone)
        assert summary[key] == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize("tz", [0, 19800, 1234])
def test_buckets_have_the_exact_median_dwell(open_, tz):
    store = open_()
    sessions = random_sessions(600, T0, 2 * DAY, seed=5)
    store.import_sessions(sessions)
    start, end = T0 + 1000.5, T0 + 2 * DAY - 77
    assert "median_dwell_s" not in store.buckets(start, end, "hour", tz_offset_s=tz)[0]
    got = store.buckets(start, end, "hour", tz_offset_s=tz, medians=True)
    want: dict[float, list[float]] = {}
    for s in sessions:
        if start <= s.ended_at < end:
            key = math.floor((s.ended_at + tz) / 3600) * 3600 - tz
            want.setdefault(key, []).append(s.duration_s)
    assert [b["start"] for b in got] == sorted(want)
    for b in got:
        assert b["median_dwell_s"] == pytest.approx(statistics.median(want[b["start"]]), abs=2e-3)


def _v2_database(storage, sessions) -> None:
    """A database exactly as today's code made it at schema version 2 (its own migrations)."""
    Path(storage.path).parent.mkdir(parents=True)
    key = new_key_hex()
    write_key_file(storage.key_file, key)
    conn = connect(storage.path, key)
    conn.execute("PRAGMA journal_mode = WAL")
    assert schema_mod.migrate(conn, target=2) == [1, 2]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions(session_id, device_id, artwork, track_id, state, started_at, "
        "ended_at, dwell_s, frames, angry, disgust, fear, happy, sad, surprise, neutral, "
        f"dominant, updated_at) VALUES ({','.join('?' * 18)})",
        [
            (
                *(s.session_id, s.device_id, s.artwork, s.track_id, "closed"),
                *(s.started_at, s.ended_at, s.duration_s, s.frames, *s.emotions.probs),
                *(s.dominant, s.ended_at),
            )
            for s in sessions
        ],
    )
    schema_mod.rebuild_rollups(conn, None, None)
    conn.execute("COMMIT")
    conn.close()


def test_upgrade_from_schema_2_back_fills_valence_and_arousal(storage, open_):
    old = random_sessions(250, T0, 3 * DAY, seed=9)
    old.append(session("all-zero", T0 + 100.0, 4.0, (0.0,) * 7))
    _v2_database(storage, old)
    store = open_()
    assert store.schema_version() == schema_mod.LATEST == 3
    conn = store._reader()
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations")] == [1, 2, 3]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    rows = {r[0]: r[1:] for r in conn.execute("SELECT session_id, valence, arousal FROM sessions")}
    assert len(rows) == len(old)
    for s in old:
        want = valence_arousal(s.emotions.probs)
        assert rows[s.session_id] == pytest.approx(want, abs=1e-9)
    assert rows["all-zero"] == (0.0, 0.0)
    # the roll-ups are untouched and the old data reads as before, plus the new measures
    summary = store.summary(T0, T0 + 4 * DAY)
    assert summary["visitors"] == len(old)
    assert summary["valence"] == pytest.approx(
        statistics.fmean(valence_arousal(s.emotions.probs)[0] for s in old), abs=1e-4
    )
    # passers-by were never counted before the upgrade: attraction power is unknown there,
    # not 100 %, while new sessions and passers-by count from the upgrade on
    assert summary["passers_by"] == 0 and summary["attraction_power"] is None
    assert all(b["attraction_power"] is None for b in store.buckets(T0, T0 + 4 * DAY, "day"))
    (since,) = conn.execute("SELECT since FROM counting_since").fetchone()
    assert T0 + 4 * DAY < since <= time.time()
    store.on_event(SessionEvent("end", session("after", since + 1000, 5.0)))
    store.count_passers_by([since + 1000, since + 1001, since + 1002])  # the next slot on
    assert store.flush(10)
    later = store.summary(since, since + DAY)
    assert later["visitors"] == 1 and later["passers_by"] == 3
    assert later["attraction_power"] == 0.25
    store.close()
    # a second start finds nothing to do
    assert open_().schema_version() == 3


def test_new_database_counts_passers_by_from_the_start(open_):
    store = open_()
    store.on_event(SessionEvent("end", session("v", T0 + 10.0, 5.0)))
    store.count_passers_by([T0 + 20.0])
    assert store.flush(10)
    assert store.summary(T0, T0 + DAY)["attraction_power"] == 0.5


def test_export_measures_per_day_from_the_cli(open_, storage, tmp_path):
    store = open_()
    store.import_sessions([session("a", T0 + 100, 10.0), session("b", T0 + DAY + 100, 50.0)])
    store.count_passers_by([T0 + 10.0, T0 + 20.0, T0 + 30.0])
    store.close()
    cfg = config_file(tmp_path, storage)
    cfg.write_text(cfg.read_text().replace("[device]\n", "[device]\nexpected_dwell_s = 20.0\n"))
    out = store_cli(
        "export",
        "--csv",
        "--bucket",
        "day",
        "--from",
        iso_utc(T0),
        "--to",
        iso_utc(T0 + 2 * DAY),
        "--config",
        str(cfg),
        "-o",
        str(tmp_path / "m.csv"),
    )
    assert out.returncode == 0, out.stderr
    assert "exported 2 bucket(s)" in out.stderr
    rows = list(csv.DictReader((tmp_path / "m.csv").open(encoding="utf-8")))
    assert list(rows[0]) == list(MEASURES_CSV_COLUMNS)
    day1, day2 = rows
    assert day1["visitors"] == "1" and day1["passers_by"] == "3"
    assert day1["attraction_power"] == "0.25" and day1["holding_power"] == "0.5"
    assert day2["holding_power"] == "2.5" and day2["median_dwell_s"] == "50.0"


def test_the_appliance_counts_the_demo_scenes_passer_by_once_in_the_store(open_, storage):
    """The demo scene up to just after its passer-by (31 s): three visitors who stop are three
    viewers, the one who crosses in under a second is one passer-by, stored as a count."""
    from affectra_edge.app import Appliance
    from affectra_edge.config import Config
    from affectra_edge.sources.demo import scene_frames

    store = open_()
    app = Appliance(Config(), store=store)
    ended = []
    app.add_session_listener(lambda ev: ended.append(ev.session) if ev.kind == "end" else None)
    frames = list(scene_frames(34.0, fps=10))
    for frame in frames:
        app.process_frame(frame)
    app.stop()  # ends the pipeline (nobody is in view at 34 s) and closes the store
    t0 = frames[0].timestamp
    assert len(ended) == 3 and app.pipeline.sessions.passers_by_total == 1
    reopened = open_()
    day = reopened.summary(t0 - DAY, t0 + DAY)
    assert day["visitors"] == 3 and day["passers_by"] == 1
    assert day["attraction_power"] == 0.75
    (slot,) = reopened._reader().execute("SELECT slot FROM passersby").fetchall()
    # in the quarter hour of its last sighting, about 31.4 s into the scene
    assert slot[0] == schema_mod.slot_of(t0 + 31.4)
