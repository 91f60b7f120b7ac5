"""Crash safety: SIGKILL in the middle of writing, disk full, recovery of open sessions,
migrations — real child processes on real SQLCipher files."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from affectra_edge.errors import StoreError
from affectra_edge.store.db import connect
from affectra_edge.store.schema import LATEST
from affectra_edge.types import SessionEvent
from tests.store.conftest import child_env, lifecycle, random_sessions, session
from tests.store.test_store_queries import assert_summary, reference

CHILD = Path(__file__).with_name("store_child.py")
T0 = 1_750_000_000.0


def _spawn(mode: str, storage) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, storage.path, storage.key_file],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=Path(__file__).resolve().parents[2],
    )


def _raw(storage):
    key = Path(storage.key_file).read_text().strip()
    return connect(storage.path, key)


@pytest.mark.parametrize("acks_before_kill", [25, 60])
def test_sigkill_mid_write_keeps_every_acknowledged_session(storage, open_, acks_before_kill):
    child = _spawn("loop", storage)
    acked: list[str] = []
    long_acked = 0.0
    try:
        assert child.stdout.readline().strip() == "open", child.stderr.read()
        while len(acked) < acks_before_kill:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            _, kept, _short, long = line.split()
            acked.append(kept)
            long_acked = float(long.split("=")[1])
        child.send_signal(signal.SIGKILL)  # while it is busy writing the next ones
    finally:
        child.kill()
        child.wait(10)
        child.stdout.close()
        child.stderr.close()

    # 1. the file as the crash left it: intact, and session/outbox/roll-up agree
    conn = _raw(storage)
    assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
    closed = {r[0] for r in conn.execute("SELECT session_id FROM sessions WHERE state='closed'")}
    assert set(acked) <= closed
    outbox = [
        r[0] for r in conn.execute("SELECT json_extract(payload, '$.session_id') FROM outbox")
    ]
    assert sorted(outbox) == sorted(closed), "session and outbox row not in one transaction"
    assert conn.execute("SELECT SUM(visitors) FROM rollup").fetchone()[0] == len(closed)
    long_state, long_end = conn.execute(
        "SELECT state, ended_at FROM sessions WHERE session_id='long'"
    ).fetchone()
    assert long_state == "open" and long_end >= long_acked
    open_rows = conn.execute("SELECT count(*) FROM sessions WHERE state='open'").fetchone()[0]
    conn.close()

    # 2. restart: open sessions closed at their last sighting, short ones discarded
    store = open_(min_dwell_s=1.0)
    assert store.recovered["closed"] >= 1
    assert store.recovered["closed"] + store.recovered["discarded"] == open_rows
    by_id = {d["session_id"]: d for d in store.recent_sessions(100000)}
    assert by_id["long"]["duration_s"] == pytest.approx(long_end - T0, abs=1e-3)
    assert set(acked) <= set(by_id)
    assert not [s for s in by_id if s.startswith("short-") and s not in closed]
    n = store.count_sessions()
    assert n == len(by_id) == store.summary(0, 2e9)["visitors"]
    payloads = [i.payload for i in store.outbox_peek(100000)]
    assert sum('"session_id":"long"' in p for p in payloads) == 1
    assert store.integrity_check() == ["ok"]
    store.close()

    # 3. and again: nothing is counted twice
    store = open_(min_dwell_s=1.0)
    assert store.recovered == {"closed": 0, "discarded": 0}
    assert store.count_sessions() == n and store.outbox_depth() == len(payloads)


def test_disk_full_keeps_sessions_queued_and_retries(storage, open_):
    child = _spawn("diskfull", storage)
    out, err = child.communicate(timeout=120)
    lines = out.splitlines()
    assert lines[:2] == ["open", "before ok"], err
    errors_line = lines[2].split()
    assert int(errors_line[1]) >= 2, err
    assert errors_line[2] == "flushed_while_full=False"
    assert lines[3] == "after flushed=True", err
    assert "cannot write to" in err and "kept queued" in err
    store = open_()
    ids = {d["session_id"] for d in store.recent_sessions()}
    assert ids == {f"before-{i}" for i in range(3)} | {f"during-{i}" for i in range(3)}
    assert store.outbox_depth() == 6 and store.integrity_check() == ["ok"]


def test_open_session_from_crash_snapshot_discarded_when_short(storage, open_, tmp_path):
    """A power cut is a snapshot of the files at one instant: copy them while the store runs."""
    store = open_()
    store.on_event(lifecycle(session("brief", T0, 0.4, state="open"))[0])
    long = session("lingering", T0, 30.0, state="open")
    store.on_event(lifecycle(long)[0])
    store.on_event(lifecycle(long)[1])  # checkpoint at 15 s
    store.on_event(SessionEvent("end", session("done", T0, 8.0)))
    assert store.flush(10)
    snap = tmp_path / "snap"
    snap.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(storage.path + suffix, snap / ("affectra.db" + suffix))
    copy = replace(storage, path=str(snap / "affectra.db"))
    restarted = open_(copy, min_dwell_s=1.0)
    assert restarted.recovered == {"closed": 1, "discarded": 1}
    docs = {d["session_id"]: d for d in restarted.recent_sessions()}
    assert set(docs) == {"done", "lingering"}
    assert docs["lingering"]["duration_s"] == pytest.approx(15.0)
    assert restarted.viewers_now() == 0


# The first release's layout, frozen here as it was shipped (the code only has migrations).
V1_SCHEMA = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
    applied_at REAL NOT NULL);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL, artwork TEXT NOT NULL DEFAULT '', track_id INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')), started_at REAL NOT NULL,
    ended_at REAL NOT NULL, dwell_s REAL NOT NULL, frames INTEGER NOT NULL,
    angry REAL NOT NULL DEFAULT 0, disgust REAL NOT NULL DEFAULT 0, fear REAL NOT NULL DEFAULT 0,
    happy REAL NOT NULL DEFAULT 0, sad REAL NOT NULL DEFAULT 0, surprise REAL NOT NULL DEFAULT 0,
    neutral REAL NOT NULL DEFAULT 0, dominant TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX sessions_state_ended ON sessions(state, ended_at);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    payload TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
INSERT INTO schema_migrations VALUES (1, 'sessions, outbox and settings', 1700000000);
PRAGMA user_version = 1;
"""


def _make_v1(storage, sessions, open_sessions=()):
    from affectra_edge.store.keys import new_key_hex, write_key_file

    key = new_key_hex()
    write_key_file(storage.key_file, key)
    conn = connect(storage.path, key)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(V1_SCHEMA)
    rows = []
    for s, state in [*((s, "closed") for s in sessions), *((s, "open") for s in open_sessions)]:
        rows.append(
            (
                s.session_id,
                s.device_id,
                s.artwork,
                s.track_id,
                state,
                s.started_at,
                s.ended_at,
                s.duration_s,
                s.frames,
                *s.emotions.probs,
                s.dominant,
                s.ended_at,
            )
        )
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO sessions(session_id, device_id, artwork, track_id, state, "
        f"started_at, ended_at, dwell_s, frames, angry, disgust, fear, happy, sad, "
        f"surprise, neutral, dominant, updated_at) VALUES ({','.join('?' * 18)})",
        rows,
    )
    conn.execute("INSERT INTO settings VALUES ('threshold', '0.4', 1700000000)")
    conn.execute("COMMIT")
    conn.close()


def test_upgrade_from_schema_v1(storage, open_):
    Path(storage.path).parent.mkdir(parents=True)
    old = random_sessions(400, T0, 5 * 86400, seed=3)
    _make_v1(storage, old, [session("was-open", T0 + 9 * 86400, 12.0, state="open")])
    store = open_(min_dwell_s=1.0)
    assert store.schema_version() == LATEST == 3
    conn = store._reader()
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")] == [
        1,
        2,
        3,
    ]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    # the roll-ups were back-filled: fast paths agree with the rows
    assert store.count_sessions() == 401
    assert_summary(store.summary(T0, T0 + 5 * 86400), reference(old, T0, T0 + 5 * 86400))
    assert store.get_setting("threshold") == 0.4
    assert store.recovered["closed"] == 1
    assert store.integrity_check() == ["ok"]
    store.close()
    assert open_().schema_version() == 3


def test_newer_schema_is_refused(storage, open_):
    store = open_()
    store.close()
    conn = _raw(storage)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        open_()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        open_(readonly=True)
