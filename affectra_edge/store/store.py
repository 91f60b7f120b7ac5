"""The encrypted session store: one writer thread, many readers.

Writes (session events, outbox acknowledgements, settings, retention) go through a queue to a
single writer thread that owns the write connection — the pipeline thread never waits for the
disk. The writer groups whatever is queued into one transaction (group commit), with a
savepoint per item so one bad item cannot take its neighbours down. On I/O errors (disk full,
a failing SD card) it rolls back, keeps the items queued and retries with back-off; a session
is never dropped silently.

Durability: WAL with ``synchronous = FULL``. NORMAL would survive a process crash but could
lose the last commits on a power cut, and the promise here is that every session whose end was
acknowledged (``flush()`` returned) survives a power cut too; group commit keeps the number of
fsyncs low (a few per minute in a gallery).

Readers (web UI, API, MQTT) use one connection per thread and see committed data only.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np

from affectra_edge.errors import StoreError
from affectra_edge.metrics import Registry
from affectra_edge.store import schema
from affectra_edge.store.db import (
    Connection,
    DatabaseError,
    OperationalError,
    WriterLock,
    connect,
    verify_key,
)
from affectra_edge.store.schema import DAY_S, FRACTION_COLUMNS, SLOT_S, slot_of
from affectra_edge.types import EMOTIONS, Emotions, SessionEvent, ViewerSession, iso_utc

logger = logging.getLogger(__name__)

#: CSV export columns, in this order forever (integrators' scripts rely on it)
CSV_COLUMNS: tuple[str, ...] = (
    "session_id",
    "device_id",
    "artwork",
    "started_at",
    "ended_at",
    "duration_s",
    "frames",
    "dominant",
    *EMOTIONS,
)

#: up to this many sessions in a range the median dwell is exact; above it comes from the daily
#: histograms (within a few percent) so that a year's summary stays fast on a Pi
EXACT_MEDIAN_MAX = 20_000
MAX_BATCH = 512
RETENTION_BATCH = 5_000
_SESSION_COLS = (
    "session_id, device_id, artwork, track_id, state, started_at, ended_at, dwell_s, frames, "
    + ", ".join(FRACTION_COLUMNS)
    + ", dominant"
)
#: one row of :meth:`Store._values` plus ``updated_at``
_INSERT_SESSION = (
    f"INSERT INTO sessions({_SESSION_COLS}, updated_at) "
    f"VALUES ({', '.join('?' for _ in _SESSION_COLS.split(','))}, ?)"
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    payload: str
    created_at: float


class _Tx:
    """What one write transaction changed, applied to in-memory state only after COMMIT."""

    __slots__ = ("closed", "conn", "outbox_added", "outbox_dropped", "outbox_removed")

    def __init__(self, conn: Connection):
        self.conn = conn
        self.outbox_added = 0
        self.outbox_removed = 0
        self.outbox_dropped = 0
        self.closed = 0

    def snapshot(self) -> tuple[int, int, int, int]:
        return (self.outbox_added, self.outbox_removed, self.outbox_dropped, self.closed)

    def restore(self, snap: tuple[int, int, int, int]) -> None:
        self.outbox_added, self.outbox_removed, self.outbox_dropped, self.closed = snap


class _Op:
    __slots__ = ("done", "error", "fn", "label", "result", "standalone")

    def __init__(self, fn: Callable[[_Tx], Any], label: str, *, wait: bool, standalone=False):
        self.fn = fn
        self.label = label
        self.done = threading.Event() if wait else None
        self.result: Any = None
        self.error: BaseException | None = None
        #: runs outside the group transaction and manages its own (retention)
        self.standalone = standalone


_STOP = object()


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying: the disk, locks, I/O — not bad data in one item."""
    return isinstance(exc, OperationalError) or type(exc) is DatabaseError


def _clean_fraction(v: float) -> float:
    v = float(v)
    return min(1.0, max(0.0, v)) if math.isfinite(v) else 0.0


def _dominant(fractions: Sequence[float]) -> str | None:
    if not fractions or max(fractions) <= 0:
        return None
    return EMOTIONS[int(np.argmax(fractions))]


class Store:
    """Use :func:`affectra_edge.store.open_store`; see the module docstring."""

    def __init__(
        self,
        path: Path,
        key_hex: str | None,
        *,
        device_id: str,
        artwork: str = "",
        min_dwell_s: float = 0.0,
        retention_days: int = 0,
        max_sessions: int = 0,
        retention_interval_s: float = 3600.0,
        outbox_max: int = 100_000,
        registry: Registry | None = None,
        readonly: bool = False,
    ):
        self.path = Path(path)
        self._key = key_hex
        self.device_id = device_id
        self.artwork = artwork
        self.min_dwell_s = float(min_dwell_s)
        self.retention_days = int(retention_days)
        self.max_sessions = int(max_sessions)
        self.retention_interval_s = float(retention_interval_s)
        self.outbox_max = int(outbox_max)
        self.readonly = readonly
        self._q: queue.Queue = queue.Queue()
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, Connection]] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._closing = False
        self._abort = threading.Event()
        self._outbox_cond = threading.Condition()
        self._outbox_seq = 0
        self._outbox_seen = 0
        self._outbox_depth = 0
        self.outbox_dropped = 0
        self._writer: threading.Thread | None = None
        self._wconn: Connection | None = None
        self._lock: WriterLock | None = None
        # First run a little after start (not at once: start-up stays quick, and an explicit
        # retention_run() right after opening reports what it deleted), then every interval.
        self._next_retention = time.monotonic() + min(self.retention_interval_s, 300.0)
        self.recovered: dict[str, int] = {"closed": 0, "discarded": 0}
        r = registry
        self._m_sessions = r.counter("store_sessions_total", "sessions stored") if r else None
        self._m_errors = (
            r.counter("store_errors_total", "store write errors (retried)") if r else None
        )
        self._m_dropped = (
            r.counter("mqtt_outbox_dropped_total", "outbox rows dropped by the cap") if r else None
        )
        self._m_depth = (
            r.gauge(
                "mqtt_outbox_depth", "session messages waiting in the outbox", fn=self._depth_fn
            )
            if r
            else None
        )
        if r:
            r.gauge("store_write_queue", "store writes waiting for the writer", fn=self._q.qsize)

    # ---- opening ---------------------------------------------------------------------------
    def _open(self) -> None:
        """Open (creating or migrating), recover crashed sessions and start the writer."""
        existed = self.path.exists() and self.path.stat().st_size > 0
        if self.readonly:
            if not existed:
                raise StoreError(f"{self.path}: no database here (nothing recorded yet?)")
            if self._key:
                verify_key(self.path, self._key)
            conn = self._reader()
            version = schema.current_version(conn)
            if version != schema.LATEST:
                raise StoreError(
                    f"{self.path}: database schema version {version}, this software reads "
                    f"version {schema.LATEST}; start the daemon once to upgrade it"
                    if version < schema.LATEST
                    else f"{self.path}: database schema version {version} is newer than this "
                    f"software (version {schema.LATEST}); upgrade affectra-edge"
                )
            self._outbox_depth = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = WriterLock(self.path)
        self._lock.acquire()
        try:
            if not existed:
                # SQLite would create it 0644; the -wal and -shm files inherit this mode.
                try:
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                except FileExistsError:
                    pass
            if existed and self._key:
                verify_key(self.path, self._key)
            conn = connect(self.path, self._key, cache_kib=8192)
            self._wconn = conn
            version = schema.current_version(conn)
            if existed and version == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                ).fetchone()[0]
                if tables:
                    raise StoreError(
                        f"cannot decrypt {self.path}: wrong key or not an Affectra database"
                    )
            if version > schema.LATEST:
                raise StoreError(
                    f"{self.path}: database schema version {version} is newer than this "
                    f"software (version {schema.LATEST}); upgrade affectra-edge"
                )
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.create_function("affectra_slot", 2, slot_of, deterministic=True)
            applied = schema.migrate(conn)
            if applied:
                logger.info("store: %s at schema version %d", self.path, schema.LATEST)
            self._recover()
            self._outbox_depth = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except BaseException:
            self._close_connections()
            self._lock.release()
            raise
        self._writer = threading.Thread(target=self._writer_main, name="store-writer", daemon=True)
        self._writer.start()

    def _recover(self) -> None:
        """Close sessions a crash left open at their last checkpoint, exactly once.

        Runs before the writer starts, in one transaction: the rows flip to ``closed`` together
        with their roll-up and outbox rows, so a crash during recovery just repeats it."""
        conn = self._wconn
        assert conn is not None
        rows = conn.execute(
            f"SELECT id, {_SESSION_COLS} FROM sessions WHERE state = 'open'"
        ).fetchall()
        if not rows:
            return
        tx = _Tx(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                s = self._row_session(row[1:])
                if s.duration_s < self.min_dwell_s:
                    conn.execute("DELETE FROM sessions WHERE id = ?", (row[0],))
                    self.recovered["discarded"] += 1
                    continue
                self._close_row(tx, row[0], replace(s, state="closed"))
                self.recovered["closed"] += 1
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if self._m_sessions:
            self._m_sessions.inc(tx.closed)
        self.outbox_dropped += tx.outbox_dropped
        logger.warning(
            "store: closed %d session(s) left open by an unclean shutdown at their last sighting"
            ", discarded %d shorter than %.1f s",
            self.recovered["closed"],
            self.recovered["discarded"],
            self.min_dwell_s,
        )

    # ---- connections -----------------------------------------------------------------------
    def _reader(self) -> Connection:
        if self._closed:
            raise StoreError(f"{self.path}: store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._key, cache_kib=4096)
            self._local.conn = conn
            with self._readers_lock:
                # Threads come and go (test clients, a server that spawns per request): close
                # the connections of threads that have ended, so they cannot pile up.
                alive = []
                for thread, c in self._readers:
                    if thread.is_alive():
                        alive.append((thread, c))
                    else:
                        c.close()
                alive.append((threading.current_thread(), conn))
                self._readers = alive
        return conn

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        """Run several SELECTs on one snapshot (a deferred read transaction)."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def _close_connections(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for _thread, c in readers:
            try:
                c.close()
            except Exception:
                pass
        if self._wconn is not None:
            try:
                self._wconn.close()
            except Exception:
                pass
            self._wconn = None

    # ---- writer thread ---------------------------------------------------------------------
    def _submit(self, fn: Callable[[_Tx], Any], label: str, *, wait: bool, standalone=False):
        if self._closing or self.readonly:
            raise StoreError(f"{self.path}: store is {'read-only' if self.readonly else 'closed'}")
        op = _Op(fn, label, wait=wait, standalone=standalone)
        self._q.put(op)
        return op

    def _call(self, fn: Callable[[_Tx], Any], label: str, *, standalone=False, timeout=None):
        """Run ``fn`` on the writer and return its result once committed."""
        op = self._submit(fn, label, wait=True, standalone=standalone)
        assert op.done is not None
        if not op.done.wait(timeout):
            raise StoreError(f"{self.path}: timed out waiting for the writer ({label})")
        if op.error is not None:
            if isinstance(op.error, StoreError):
                raise op.error
            raise StoreError(f"{self.path}: {label} failed: {op.error}") from op.error
        return op.result

    def _writer_main(self) -> None:
        pending: list = []
        stopping = False
        while True:
            # checked on every turn, so a steady stream of events cannot starve retention
            if not stopping and time.monotonic() >= self._next_retention:
                self._scheduled_retention()
            if not pending:
                if stopping:
                    return
                wait = max(0.0, self._next_retention - time.monotonic())
                try:
                    pending.append(self._q.get(timeout=wait))
                except queue.Empty:
                    continue
            while len(pending) < MAX_BATCH:
                try:
                    pending.append(self._q.get_nowait())
                except queue.Empty:
                    break
            # Take the leading run of ordinary ops as one group; a standalone op or the stop
            # marker ends the run and is handled on its own, keeping queue order.
            group: list[_Op] = []
            while pending and pending[0] is not _STOP and not pending[0].standalone:
                group.append(pending.pop(0))
            if group:
                if not self._commit_group(group):
                    # aborted while retrying: report what is lost, loudly
                    while True:
                        try:
                            pending.append(self._q.get_nowait())
                        except queue.Empty:
                            break
                    lost = [op for op in group + pending if op is not _STOP]
                    self._abandon(lost)
                    return
                continue
            head = pending.pop(0)
            if head is _STOP:
                stopping = True
                continue
            self._run_standalone(head)

    def _commit_group(self, ops: list[_Op]) -> bool:
        conn = self._wconn
        assert conn is not None
        attempt = 0
        while True:
            tx = _Tx(conn)
            for op in ops:
                op.error = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                for op in ops:
                    snap = tx.snapshot()
                    conn.execute("SAVEPOINT op")
                    try:
                        op.result = op.fn(tx)
                        conn.execute("RELEASE op")
                    except Exception as exc:
                        if _transient(exc):
                            raise
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        tx.restore(snap)
                        op.error = exc
                conn.execute("COMMIT")
            except Exception as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except Exception:
                        pass
                # Whatever failed at the transaction level (I/O, disk full, a lock, something
                # unexpected), the items stay queued and are retried: never dropped silently.
                attempt += 1
                if self._m_errors:
                    self._m_errors.inc()
                delay = min(30.0, 0.25 * 2 ** min(attempt, 7))
                if attempt <= 3 or attempt % 20 == 0:
                    logger.error(
                        "store: cannot write to %s (%s: %s); %d item(s) kept queued, retry %d in "
                        "%.1f s",
                        self.path,
                        type(exc).__name__,
                        exc,
                        len(ops),
                        attempt,
                        delay,
                    )
                if self._abort.wait(delay):
                    return False
                continue
            if attempt:
                logger.warning(
                    "store: writing to %s works again after %d retries", self.path, attempt
                )
            self._after_commit(tx)
            for op in ops:
                if op.error is not None:
                    if self._m_errors:
                        self._m_errors.inc()
                    if op.done is None:
                        logger.error("store: %s could not be stored: %s", op.label, op.error)
                if op.done is not None:
                    op.done.set()
            return True

    def _run_standalone(self, op: _Op) -> None:
        try:
            op.result = op.fn(_Tx(self._wconn))  # type: ignore[arg-type]
        except Exception as exc:
            op.error = exc
            if self._m_errors:
                self._m_errors.inc()
            logger.error("store: %s failed: %s", op.label, exc)
        if op.done is not None:
            op.done.set()

    def _after_commit(self, tx: _Tx) -> None:
        if tx.closed and self._m_sessions:
            self._m_sessions.inc(tx.closed)
        if tx.outbox_dropped:
            self.outbox_dropped += tx.outbox_dropped
            if self._m_dropped:
                self._m_dropped.inc(tx.outbox_dropped)
            logger.warning(
                "store: outbox over its cap of %d rows; dropped the %d oldest undelivered "
                "message(s) (%d since start)",
                self.outbox_max,
                tx.outbox_dropped,
                self.outbox_dropped,
            )
        if tx.outbox_added or tx.outbox_removed or tx.outbox_dropped:
            with self._outbox_cond:
                self._outbox_depth += tx.outbox_added - tx.outbox_removed - tx.outbox_dropped
                if tx.outbox_added:
                    self._outbox_seq += 1
                    self._outbox_cond.notify_all()
            if self._m_depth:
                self._m_depth.set(self._outbox_depth)

    def _abandon(self, ops: list[_Op]) -> None:
        events = sum(1 for op in ops if op.label.startswith("session"))
        logger.error(
            "store: closing with %d write(s) not stored (%d session event(s)); open sessions "
            "are recovered from their last checkpoint on the next start",
            len(ops),
            events,
        )
        for op in ops:
            op.error = StoreError(f"{self.path}: store closed before {op.label} was written")
            if op.done is not None:
                op.done.set()

    # ---- sessions (writer side) ------------------------------------------------------------
    def _row_session(self, row: Sequence[Any]) -> ViewerSession:
        (sid, device, artwork, track, state, started, ended, _dwell, frames, *rest) = row
        fr = rest[: len(FRACTION_COLUMNS)]
        return ViewerSession(
            session_id=sid,
            track_id=int(track),
            started_at=float(started),
            ended_at=float(ended),
            frames=int(frames),
            emotions=Emotions(tuple(float(v) for v in fr)),
            state=state,
            device_id=device,
            artwork=artwork,
        )

    def _values(self, s: ViewerSession, state: str) -> tuple:
        fr = [_clean_fraction(v) for v in s.emotions.probs]
        started = float(s.started_at)
        ended = max(float(s.ended_at), started)
        return (
            s.session_id,
            s.device_id or self.device_id,
            s.artwork or self.artwork,
            int(s.track_id),
            state,
            started,
            ended,
            ended - started,
            max(0, int(s.frames)),
            *fr,
            EMOTIONS[int(np.argmax(fr))] if any(fr) else s.dominant,
        )

    def _close_row(self, tx: _Tx, row_id: int | None, s: ViewerSession) -> None:
        """Mark a session closed, count it in the roll-ups and queue its MQTT message — in the
        caller's transaction, so none of the three can exist without the others."""
        conn = tx.conn
        v = self._values(s, "closed")
        now = time.time()
        if row_id is None:
            conn.execute(_INSERT_SESSION, (*v, now))
        else:
            sets = ", ".join(f"{c.strip()} = ?" for c in _SESSION_COLS.split(","))
            conn.execute(
                f"UPDATE sessions SET {sets}, updated_at = ? WHERE id = ?", (*v, now, row_id)
            )
        schema.add_to_rollups(conn, [(v[6], v[7], v[9 : 9 + len(FRACTION_COLUMNS)])])
        doc = replace(s, device_id=v[1], artwork=v[2], ended_at=v[6], state="closed").to_json()
        self._outbox_insert(tx, "session", json.dumps(doc, separators=(",", ":")), now)
        tx.closed += 1

    def _outbox_insert(self, tx: _Tx, kind: str, payload: str, now: float) -> None:
        conn = tx.conn
        conn.execute(
            "INSERT INTO outbox(kind, payload, created_at) VALUES (?, ?, ?)", (kind, payload, now)
        )
        tx.outbox_added += 1
        depth = self._outbox_depth + tx.outbox_added - tx.outbox_removed - tx.outbox_dropped
        over = depth - self.outbox_max
        if over > 0:
            cur = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                (over,),
            )
            tx.outbox_dropped += max(0, cur.rowcount)

    def _apply_event(self, tx: _Tx, ev: SessionEvent) -> None:
        conn = tx.conn
        s = ev.session
        row = conn.execute(
            "SELECT id, state FROM sessions WHERE session_id = ?", (s.session_id,)
        ).fetchone()
        if row is not None and row[1] == "closed":
            # Already final (a repeated end, or an update racing the end): counting it again
            # would double-count the visitor.
            logger.debug("store: ignoring %s for closed session %s", ev.kind, s.session_id)
            return
        if ev.kind == "end":
            self._close_row(tx, row[0] if row else None, s)
            return
        v = self._values(s, "open")
        now = time.time()
        if row is None:
            conn.execute(_INSERT_SESSION, (*v, now))
        else:
            # a checkpoint: how far the viewer got, so a crash loses at most one interval
            conn.execute(
                "UPDATE sessions SET ended_at = ?, dwell_s = ?, frames = ?, "
                + ", ".join(f"{e} = ?" for e in FRACTION_COLUMNS)
                + ", dominant = ?, updated_at = ? WHERE id = ?",
                (v[6], v[7], v[8], *v[9:], now, row[0]),
            )

    # ---- public: writes --------------------------------------------------------------------
    def on_event(self, event: SessionEvent) -> None:
        """EventSink: queue the event for the writer; never blocks on I/O."""
        self._submit(
            lambda tx: self._apply_event(tx, event),
            f"session {event.kind} {event.session.session_id}",
            wait=False,
        )

    def flush(self, timeout: float | None = None) -> bool:
        """True once everything queued before this call is committed (or failed loudly)."""
        if self._closing or self.readonly:
            return True
        op = self._submit(lambda tx: None, "flush", wait=True)
        assert op.done is not None
        return op.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the writer and close every connection. Idempotent."""
        if self._closed:
            return
        if self._writer is not None:
            if not self.flush(timeout):
                logger.error("store: writer did not drain within %.0f s; giving up", timeout)
                self._abort.set()
            self._closing = True
            self._q.put(_STOP)
            self._writer.join(timeout)
        self._closing = self._closed = True
        with self._outbox_cond:
            self._outbox_cond.notify_all()
        self._close_connections()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def import_sessions(self, sessions: Iterable[ViewerSession], batch: int = 5000) -> int:
        """Store already-closed sessions in bulk (benchmarks, moving data between devices).

        No outbox rows: an import is not news for MQTT subscribers. Existing ids are skipped.
        Returns the number stored."""
        total = 0
        chunk: list[ViewerSession] = []

        def write(items: list[ViewerSession]) -> Callable[[_Tx], int]:
            def fn(tx: _Tx) -> int:
                now = time.time()
                by_id = {s.session_id: self._values(s, "closed") for s in items}
                for i in range(0, len(by_id), 500):
                    part = list(by_id)[i : i + 500]
                    for (sid,) in tx.conn.execute(
                        "SELECT session_id FROM sessions WHERE session_id IN "
                        f"({','.join('?' * len(part))})",
                        part,
                    ):
                        del by_id[sid]
                vals = list(by_id.values())
                if not vals:
                    return 0
                tx.conn.executemany(_INSERT_SESSION, [(*v, now) for v in vals])
                schema.add_to_rollups(
                    tx.conn, [(v[6], v[7], v[9 : 9 + len(FRACTION_COLUMNS)]) for v in vals]
                )
                tx.closed += len(vals)
                return len(vals)

            return fn

        for s in sessions:
            chunk.append(s)
            if len(chunk) >= batch:
                total += self._call(write(chunk), "import", standalone=False)
                chunk = []
        if chunk:
            total += self._call(write(chunk), "import", standalone=False)
        return total

    def clear_all(self) -> int:
        """Delete every session, roll-up and outbox row (settings stay). Returns sessions."""

        def fn(tx: _Tx) -> int:
            c = tx.conn
            n = c.execute("SELECT count(*) FROM sessions").fetchone()[0]
            c.execute("DELETE FROM sessions")
            c.execute("DELETE FROM rollup")
            c.execute("DELETE FROM dwell_hist")
            removed = c.execute("DELETE FROM outbox").rowcount
            tx.outbox_removed += max(0, removed)
            return int(n)

        n = self._call(fn, "clear all")
        logger.warning("store: cleared all data (%d sessions)", n)
        return n

    def set_retention(self, retention_days: int, max_sessions: int) -> None:
        """Change the limits for the next scheduled run (0 = no limit)."""
        self.retention_days = int(retention_days)
        self.max_sessions = int(max_sessions)

    def retention_run(self, now: float | None = None) -> int:
        """Delete closed sessions older than ``retention_days`` and beyond the newest
        ``max_sessions`` (0 turns a limit off); returns how many. Open sessions stay."""
        return self._call(
            lambda tx: self._retention(tx.conn, time.time() if now is None else now),
            "retention",
            standalone=True,
        )

    def _scheduled_retention(self) -> None:
        self._next_retention = time.monotonic() + self.retention_interval_s
        try:
            self._retention(self._wconn, time.time())  # type: ignore[arg-type]
        except Exception as exc:
            if self._m_errors:
                self._m_errors.inc()
            logger.error(
                "store: scheduled retention failed (next try in %.0f s): %s",
                self.retention_interval_s,
                exc,
            )

    def _retention(self, conn: Connection, now: float) -> int:
        # Batches in their own transactions so queued events are not held up for long, each
        # batch rebuilding the roll-ups it touched before it commits.
        deleted = 0
        if self.retention_days > 0:
            cutoff = now - self.retention_days * DAY_S
            deleted += self._delete_oldest(
                conn, "state = 'closed' AND ended_at < ?", (cutoff,), limit=None
            )
        if self.max_sessions > 0:
            total = conn.execute("SELECT COALESCE(SUM(visitors), 0) FROM rollup").fetchone()[0]
            excess = int(total) - self.max_sessions
            if excess > 0:
                deleted += self._delete_oldest(conn, "state = 'closed'", (), limit=excess)
        if deleted:
            logger.info("store: retention deleted %d session(s)", deleted)
        return deleted

    def _delete_oldest(self, conn: Connection, where: str, args: tuple, limit: int | None) -> int:
        deleted = 0
        while limit is None or deleted < limit:
            n = RETENTION_BATCH if limit is None else min(RETENTION_BATCH, limit - deleted)
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    f"SELECT id, ended_at FROM sessions WHERE {where} "
                    "ORDER BY ended_at, id LIMIT ?",
                    (*args, n),
                ).fetchall()
                if not rows:
                    conn.execute("ROLLBACK")
                    break
                ids = [r[0] for r in rows]
                for i in range(0, len(ids), 500):
                    part = ids[i : i + 500]
                    conn.execute(
                        f"DELETE FROM sessions WHERE id IN ({','.join('?' * len(part))})", part
                    )
                schema.rebuild_rollups(conn, rows[0][1], rows[-1][1])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            deleted += len(rows)
        return deleted

    def set_setting(self, key: str, value: Any) -> None:
        text = json.dumps(value)

        def fn(tx: _Tx) -> None:
            tx.conn.execute(
                "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (key, text, time.time()),
            )

        self._call(fn, f"setting {key}")

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._reader().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            logger.warning("store: setting %r holds invalid JSON; using the default", key)
            return default

    # ---- public: outbox --------------------------------------------------------------------
    def outbox_peek(self, limit: int = 100) -> list[OutboxItem]:
        rows = self._reader().execute(
            "SELECT id, kind, payload, created_at FROM outbox ORDER BY id LIMIT ?", (int(limit),)
        )
        return [OutboxItem(int(r[0]), r[1], r[2], float(r[3])) for r in rows]

    def outbox_ack(self, ids: Sequence[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return

        def fn(tx: _Tx) -> None:
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                cur = tx.conn.execute(
                    f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(part))})", part
                )
                tx.outbox_removed += max(0, cur.rowcount)

        self._call(fn, f"outbox ack ({len(ids)})")

    def outbox_depth(self) -> int:
        if self.readonly:
            return int(self._reader().execute("SELECT count(*) FROM outbox").fetchone()[0])
        return self._outbox_depth

    def _depth_fn(self) -> float:
        return float(self._outbox_depth)

    def outbox_wait(self, timeout: float) -> bool:
        """True when an outbox row was committed since the previous call (or, on the first
        call, since the store opened); otherwise waits up to ``timeout`` for one."""
        with self._outbox_cond:
            if self._closed:
                raise StoreError(f"{self.path}: store is closed")
            if self._outbox_seq == self._outbox_seen:
                self._outbox_cond.wait_for(
                    lambda: self._outbox_seq != self._outbox_seen or self._closed, timeout
                )
            fresh = self._outbox_seq != self._outbox_seen
            self._outbox_seen = self._outbox_seq
            return fresh

    # ---- public: reads ---------------------------------------------------------------------
    def viewers_now(self) -> int:
        return int(
            self._reader()
            .execute("SELECT count(*) FROM sessions WHERE state = 'open'")
            .fetchone()[0]
        )

    def count_sessions(self) -> int:
        """Closed sessions (from the roll-ups: a year of sessions is not counted row by row)."""
        return int(
            self._reader().execute("SELECT COALESCE(SUM(visitors), 0) FROM rollup").fetchone()[0]
        )

    def recent_sessions(self, limit: int = 50, offset: int = 0) -> list[dict]:
        rows = self._reader().execute(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE state = 'closed' "
            "ORDER BY ended_at DESC, id DESC LIMIT ? OFFSET ?",
            (max(0, int(limit)), max(0, int(offset))),
        )
        return [self._row_session(r).to_json() for r in rows]

    def _raw_sums(self, conn: Connection, start: float, end: float) -> list[float]:
        if end <= start:
            return [0.0] * (2 + len(FRACTION_COLUMNS))
        row = conn.execute(
            "SELECT count(*), TOTAL(dwell_s), "
            + ", ".join(f"TOTAL({e})" for e in FRACTION_COLUMNS)
            + " FROM sessions WHERE state = 'closed' AND ended_at >= ? AND ended_at < ?",
            (start, end),
        ).fetchone()
        return [float(v) for v in row]

    def _dwells(self, conn: Connection, start: float, end: float) -> list[float]:
        if end <= start:
            return []
        return [
            r[0]
            for r in conn.execute(
                "SELECT dwell_s FROM sessions WHERE state = 'closed' AND ended_at >= ? "
                "AND ended_at < ?",
                (start, end),
            )
        ]

    def _summary(self, conn: Connection, start: float, end: float) -> dict[str, Any]:
        s0 = slot_of(start) + (0 if slot_of(start) * SLOT_S == start else 1)
        s1 = slot_of(end)
        if s0 < s1:
            row = conn.execute(
                "SELECT COALESCE(SUM(visitors), 0), TOTAL(dwell_sum), "
                + ", ".join(f"TOTAL({e})" for e in FRACTION_COLUMNS)
                + " FROM rollup WHERE slot >= ? AND slot < ?",
                (s0, s1),
            ).fetchone()
            sums = np.array([float(v) for v in row])
            sums += self._raw_sums(conn, start, s0 * SLOT_S)
            sums += self._raw_sums(conn, s1 * SLOT_S, end)
        else:
            sums = np.array(self._raw_sums(conn, start, end))
        n = int(sums[0])
        fr = [float(v) / n if n else 0.0 for v in sums[2:]]
        return {
            "visitors": n,
            "avg_dwell_s": round(float(sums[1]) / n, 3) if n else 0.0,
            "median_dwell_s": round(self._median(conn, start, end, n), 3) if n else 0.0,
            "total_dwell_s": round(float(sums[1]), 3),
            "dominant": _dominant(fr),
            "emotions": {e: round(v, 4) for e, v in zip(EMOTIONS, fr, strict=True)},
        }

    def _median(self, conn: Connection, start: float, end: float, n: int) -> float:
        d0 = slot_of(start, DAY_S) + (0 if slot_of(start, DAY_S) * DAY_S == start else 1)
        d1 = slot_of(end, DAY_S)
        if n <= EXACT_MEDIAN_MAX or d0 >= d1:
            return float(statistics.median(self._dwells(conn, start, end)))
        h = np.zeros(schema.HIST_BINS, dtype=np.int64)
        for (blob,) in conn.execute(
            "SELECT hist FROM dwell_hist WHERE day >= ? AND day < ?", (d0, d1)
        ):
            h += schema.blob_to_hist(blob)
        h += schema.hist_of(self._dwells(conn, start, d0 * DAY_S))
        h += schema.hist_of(self._dwells(conn, d1 * DAY_S, end))
        return schema.hist_median(h)

    def summary(self, start: float, end: float) -> dict[str, Any]:
        """Closed sessions with ``start <= ended_at < end``, plus the viewers in view now."""
        out = self._read(lambda c: self._summary(c, float(start), float(end)))
        out["viewers_now"] = self.viewers_now()
        return out

    def buckets(
        self,
        start: float,
        end: float,
        bucket: Literal["hour", "day"],
        tz_offset_s: int = 0,
    ) -> list[dict]:
        """Per-hour or per-day figures over ``[start, end)``, buckets aligned to local time
        (``tz_offset_s`` east of UTC); empty buckets are left out."""
        if bucket not in ("hour", "day"):
            raise ValueError(f"bucket must be 'hour' or 'day', not {bucket!r}")
        size = 3600 if bucket == "hour" else DAY_S
        tz = int(tz_offset_s)
        start, end = float(start), float(end)
        return self._read(lambda c: self._buckets(c, start, end, size, tz))

    def _buckets(self, conn: Connection, start: float, end: float, size: int, tz: int):
        acc: dict[int, np.ndarray] = {}

        def add(key: int, sums: Sequence[float]) -> None:
            if sums[0]:
                acc.setdefault(key, np.zeros(2 + len(FRACTION_COLUMNS)))[:] += sums

        def add_edge(lo: float, hi: float) -> None:
            # an edge lies inside one slot, and with tz a multiple of the slot every bucket
            # boundary is a slot boundary: the whole edge belongs to the bucket of its slot
            if hi > lo:
                add((slot_of(lo) * SLOT_S + tz) // size, self._raw_sums(conn, lo, hi))

        def add_grouped(lo: float, hi: float) -> None:
            cur = conn.execute(
                "SELECT CAST((ended_at + ?) / ? AS INTEGER), count(*), TOTAL(dwell_s), "
                + ", ".join(f"TOTAL({e})" for e in FRACTION_COLUMNS)
                + " FROM sessions WHERE state = 'closed' AND ended_at >= ? AND ended_at < ? "
                "GROUP BY 1",
                (tz, size, lo, hi),
            )
            for r in cur:
                add(int(r[0]), [float(v) for v in r[1:]])

        s0 = slot_of(start) + (0 if slot_of(start) * SLOT_S == start else 1)
        s1 = slot_of(end)
        if tz % SLOT_S == 0 and s0 < s1:
            # slot·900 + tz is an exact integer, so the bucket of every slot is exact too
            cur = conn.execute(
                "SELECT (slot * ? + ?) / ?, SUM(visitors), TOTAL(dwell_sum), "
                + ", ".join(f"TOTAL({e})" for e in FRACTION_COLUMNS)
                + " FROM rollup WHERE slot >= ? AND slot < ? GROUP BY 1",
                (SLOT_S, tz, size, s0, s1),
            )
            for r in cur:
                add(int(r[0]), [float(v) for v in r[1:]])
            add_edge(start, s0 * SLOT_S)
            add_edge(s1 * SLOT_S, end)
        else:
            # an offset that is no multiple of 15 min (none in use today): no roll-ups fit
            add_grouped(start, end)
        out = []
        for k in sorted(acc):
            a = acc[k]
            n = int(a[0])
            if n == 0:
                continue
            fr = [float(v) / n for v in a[2:]]
            out.append(
                {
                    "start": k * size - tz,
                    "visitors": n,
                    "avg_dwell_s": round(float(a[1]) / n, 3),
                    "dominant": _dominant(fr),
                    "emotions": {e: round(v, 4) for e, v in zip(EMOTIONS, fr, strict=True)},
                }
            )
        return out

    def export_csv(self, fp: TextIO, start: float | None = None, end: float | None = None) -> int:
        """Closed sessions with ``start <= ended_at < end`` as CSV, oldest first; header first.

        Streams in chunks on one read snapshot, so memory stays flat for any size."""
        lo = -math.inf if start is None else float(start)
        hi = math.inf if end is None else float(end)
        w = csv.writer(fp, lineterminator="\n")
        w.writerow(CSV_COLUMNS)

        def run(conn: Connection) -> int:
            cur = conn.execute(
                "SELECT session_id, device_id, artwork, started_at, ended_at, dwell_s, frames, "
                "dominant, "
                + ", ".join(FRACTION_COLUMNS)
                + " FROM sessions WHERE state = 'closed' AND ended_at >= ? AND ended_at < ? "
                "ORDER BY ended_at, id",
                (lo, hi),
            )
            n = 0
            while True:
                rows = cur.fetchmany(1000)
                if not rows:
                    return n
                for r in rows:
                    w.writerow(
                        (
                            r[0],
                            r[1],
                            r[2],
                            iso_utc(r[3]),
                            iso_utc(r[4]),
                            f"{r[5]:.3f}",
                            r[6],
                            r[7],
                            *(f"{v:.6f}" for v in r[8:]),
                        )
                    )
                n += len(rows)

        return self._read(run)

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` rows: ``["ok"]`` when the file is sound."""
        return [r[0] for r in self._reader().execute("PRAGMA integrity_check")]

    def schema_version(self) -> int:
        return schema.current_version(self._reader())
