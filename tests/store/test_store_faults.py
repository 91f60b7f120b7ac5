"""A damaged database is refused at open, and a full disk cannot grow the write queue without
bound or hold shutdown up (hostile-input review, defects 8–9).

Real SQLCipher files. The full disk is SQLite's own: ``PRAGMA max_page_count`` makes every
write that needs a new page fail with SQLITE_FULL ("database or disk is full"), the error a
full SD card gives, on the same code path.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from pathlib import Path

import pytest

from affectra_edge.errors import EXIT_STORE, StoreError
from affectra_edge.metrics import Registry
from affectra_edge.store.db import connect
from affectra_edge.store.writer import Writer
from tests.store.conftest import config_file, lifecycle, random_sessions, session, store_cli
from tests.support import wait_for


def _damaged_db(open_, storage) -> Path:
    """A database with a few hundred sessions, then 200 zero bytes in its third page."""
    store = open_()
    assert store.import_sessions(random_sessions(400, 1.7e9, 86400)) == 400
    store.close()
    path = Path(storage.path)
    assert path.stat().st_size > 20_000
    with path.open("r+b") as f:
        f.seek(9000)
        f.write(b"\0" * 200)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_page_is_refused_at_open_and_by_db_check(open_, storage, tmp_path):
    """It used to open "ready", then fail every write and drop them all at shutdown; and
    `db check` printed a traceback with exit 1. Now: refused at open (file untouched), and
    `db check` says damaged with exit 4."""
    path = _damaged_db(open_, storage)
    before = _digest(path)
    with pytest.raises(StoreError, match="the database is damaged"):
        open_()
    assert _digest(path) == before

    cfg = config_file(tmp_path, storage)
    check = store_cli("db", "check", "--config", str(cfg))
    assert check.returncode == EXIT_STORE, check.stderr
    assert "Traceback" not in check.stderr
    assert "integrity check failed: the database is damaged" in check.stderr
    assert "integrity: " in check.stdout and "integrity: ok" not in check.stdout


def test_run_refuses_a_damaged_database_with_exit_4(open_, storage, tmp_path):
    path = _damaged_db(open_, storage)
    cfg = config_file(tmp_path, storage, '\n[camera]\ntype = "demo"\n[web]\nenabled = false\n')
    run = store_cli("run", "--config", str(cfg), "--duration", "30")
    assert run.returncode == EXIT_STORE, run.stderr
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("affectra-edge: error:")]
    assert len(errors) == 1 and "the database is damaged" in errors[0], run.stderr
    assert "ready" not in run.stderr and "Traceback" not in run.stderr
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def _full_writer(tmp_path: Path, max_queued: int) -> Writer:
    conn = connect(tmp_path / "w.db", "ab" * 32)
    conn.execute("CREATE TABLE t (b BLOB)")
    # no room for one more page: every insert below fails as on a full disk
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    w = Writer(conn, "w.db", errors=Registry().counter("e", "errors"), max_queued=max_queued)
    w.start()
    return w


def test_write_queue_is_bounded_while_the_disk_is_full_and_close_keeps_its_timeout(
    tmp_path, caplog
):
    """A full disk used to let the queue grow without limit (1,262 items a minute under
    stress) and a stop then waited 38 s before dropping them all without names."""
    caplog.set_level(logging.ERROR, logger="affectra_edge.store.writer")
    w = _full_writer(tmp_path, max_queued=50)
    blob = b"x" * 8192

    def insert(tx):
        tx.conn.execute("INSERT INTO t VALUES (?)", (blob,))

    w.submit(insert, "session end s000")
    wait_for(lambda: w.backlog().waiting_for_disk, timeout=20)
    for i in range(1, 300):
        w.submit(insert, f"session end s{i:03d}")
    backlog = w.backlog()
    # the writer holds s000 and retries it; 50 wait behind it, the rest were refused
    assert backlog.queued == 50 and backlog.refused == 300 - 1 - 50
    assert "full" in (backlog.last_error or "")
    with pytest.raises(StoreError, match="waiting for the disk"):
        w.call(insert, "setting x")

    closer = threading.Thread(target=w.close, kwargs={"timeout": 1.0})
    closer.start()
    closer.join(30)
    assert not closer.is_alive()
    text = caplog.text
    assert "not stored" in text and "refused so far" in text
    assert "session end s000" in text  # the ones that were lost, by name


def test_store_status_says_sessions_wait_for_disk_and_recovers(open_):
    """While writes fail the store's backlog says so (``/api/status`` shows it); when space
    returns everything queued is written."""
    registry = Registry()
    store = open_(registry=registry)
    writer = store._writable()
    pages = writer.call(lambda tx: tx.conn.execute("PRAGMA page_count").fetchone()[0], "pages")
    writer.call(lambda tx: tx.conn.execute(f"PRAGMA max_page_count = {pages}"), "full")
    sessions = [session(f"full-{i:03d}", 1.7e9 + i * 60, 20.0) for i in range(40)]
    for s in sessions:
        for ev in lifecycle(s):
            store.on_event(ev)
    wait_for(lambda: store.write_backlog().waiting_for_disk, timeout=20)
    assert store.count_sessions() == 0
    assert re.search(r"^affectra_store_waiting_for_disk 1(\.0)?$", registry.render(), re.M)
    # room again: the writer's next retry stores everything, nothing lost
    writer.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.flush(60)
    assert store.count_sessions() == 40
    assert not store.write_backlog().waiting_for_disk
    assert re.search(r"^affectra_store_waiting_for_disk 0(\.0)?$", registry.render(), re.M)
