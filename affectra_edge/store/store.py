"""The encrypted session store: one writer thread, many readers.

Writes (session events, outbox acknowledgements, settings, retention) go through a queue to the
single writer thread (:mod:`~affectra_edge.store.writer`) that owns the write connection, so
the pipeline thread never waits for the disk, and a session is never dropped silently.

Durability: WAL with ``synchronous = FULL``. NORMAL would survive a process crash but could
lose the last commits on a power cut, and the promise here is that every session whose end was
acknowledged (``flush()`` returned) survives a power cut too; group commit keeps the number of
fsyncs low (a few per minute in a gallery).

Readers (web UI, API, MQTT) use one connection per thread and see committed data only.

:class:`Store` is the façade the rest of the appliance uses; the SQL lives in
:mod:`~affectra_edge.store.sessions_sql`, :mod:`~affectra_edge.store.outbox`,
:mod:`~affectra_edge.store.retention`, :mod:`~affectra_edge.store.settings_sql` and
:mod:`~affectra_edge.store.queries`, and :func:`~affectra_edge.store.opening.open_store` is
the one way to open it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Literal, TextIO

from affectra_edge.config import StorageConfig
from affectra_edge.errors import StoreError
from affectra_edge.measures import with_holding_power
from affectra_edge.metrics import Registry
from affectra_edge.store import outbox, queries, retention, schema, sessions_sql, settings_sql
from affectra_edge.store.db import Connection, ReaderPool, WriterLock
from affectra_edge.store.outbox import Outbox, OutboxItem
from affectra_edge.store.schema import DAY_S
from affectra_edge.store.writer import Backlog, Writer
from affectra_edge.types import SessionEvent, ViewerSession

logger = logging.getLogger(__name__)


class Store:
    """Use :func:`affectra_edge.store.open_store`; see the module docstring.

    ``wconn`` is the write connection (``None``: read-only, no writer). ``device_id`` and
    ``artwork`` are stamped on sessions that arrive without their own."""

    def __init__(
        self,
        storage: StorageConfig,
        key_hex: str | None,
        wconn: Connection | None = None,
        *,
        lock: WriterLock | None = None,
        registry: Registry | None = None,
        device_id: str = "",
        artwork: str = "",
    ):
        self.path = Path(storage.path)
        self._key = key_hex
        self.readonly = wconn is None
        self.recovered: dict[str, int] = {"closed": 0, "discarded": 0}
        self._device_id = device_id
        self._artwork = artwork
        self._lock = lock
        self._limits = retention.Limits(int(storage.retention_days), int(storage.max_sessions))
        self._closed = False
        self._readers = ReaderPool(self.path, key_hex)
        # without a registry (CLI, tests) the store counts into one nobody reads
        r = registry or Registry()
        self._outbox = Outbox(
            str(self.path),
            # a read-only store asks the database each time instead (a daemon may be writing)
            outbox.count(wconn) if wconn is not None else 0,
            int(storage.outbox_max),
            dropped=r.counter("mqtt_outbox_dropped_total", "outbox rows dropped by the cap"),
        )
        outbox.register_depth_gauge(r, lambda: self._outbox.depth)
        self._writer: Writer | None = None
        if wconn is not None:
            w = self._writer = Writer(
                wconn,
                str(self.path),
                errors=r.counter("store_errors_total", "store write errors (retried)"),
                periodic=retention.scheduled(self._limits, float(storage.retention_interval_s)),
            )
            stored = r.counter("store_sessions_total", "sessions stored")
            w.on_commit(self._outbox.committed)
            w.on_commit(lambda tx: stored.inc(tx.get(sessions_sql.CLOSED)))
            r.gauge("store_write_queue", "store writes waiting for the writer", fn=w.queued)
            r.gauge(
                "store_waiting_for_disk",
                "1 while store writes fail and are retried (disk full, I/O error)",
                fn=lambda: float(w.backlog().waiting_for_disk),
            )

    # ---- the opening sequence's last two steps ---------------------------------------------
    def recover(self, min_dwell_s: float) -> None:
        """Close sessions a crash left open, before :meth:`start`; see
        :func:`~affectra_edge.store.sessions_sql.recover`."""
        writer = self._writable()
        rows = [(i, self._stamp(s)) for i, s in sessions_sql.open_rows(writer.conn)]
        if rows:
            self.recovered = writer.run_once(
                lambda tx: sessions_sql.recover(tx, self._outbox, rows, float(min_dwell_s))
            )

    def start(self) -> None:
        self._writable().start()

    # ---- writes ----------------------------------------------------------------------------
    def on_event(self, event: SessionEvent) -> None:
        """EventSink: queue the event for the writer; never blocks on I/O."""
        self._writable().submit(
            lambda tx: sessions_sql.apply_event(
                tx, self._outbox, event.kind, self._stamp(event.session)
            ),
            f"session {event.kind} {event.session.session_id}",
        )

    def count_passers_by(self, last_seen: Sequence[float]) -> None:
        """Queue passers-by (the last sightings of faces that left before ``min_dwell_s``) to
        be counted per 15-minute slot; only the counts are stored. Never blocks on I/O."""
        stamps = [float(t) for t in last_seen]
        if stamps:
            self._writable().submit(
                partial(sessions_sql.count_passers_by, last_seen=stamps),
                f"passers-by ({len(stamps)})",
            )

    def flush(self, timeout: float | None = None) -> bool:
        """True once everything queued before this call is committed (or failed loudly)."""
        return True if self._writer is None else self._writer.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the writer and close every connection. Idempotent."""
        if self._closed:
            return
        if self._writer is not None:
            self._writer.close(timeout)
        self._closed = True
        self._outbox.close()
        self._readers.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def import_sessions(self, sessions: Iterable[ViewerSession], batch: int = 5000) -> int:
        """Store already-closed sessions in bulk (benchmarks, moving data between devices).

        No outbox rows: an import is not news for MQTT subscribers. Existing ids are skipped.
        Returns the number stored."""
        total = 0
        it = iter(sessions)
        while chunk := [self._stamp(s) for s in islice(it, max(1, batch))]:
            total += self._writable().call(
                partial(sessions_sql.import_closed, items=chunk), "import"
            )
        return total

    def clear_all(self) -> int:
        """Delete every session, roll-up and outbox row (settings stay). Returns sessions."""
        n = self._writable().call(sessions_sql.clear_all, "clear all")
        logger.warning("store: cleared all data (%d sessions)", n)
        return n

    def set_retention(self, retention_days: int, max_sessions: int) -> None:
        """Change the limits for the next scheduled run (0 = no limit)."""
        self._limits.days = int(retention_days)
        self._limits.max_sessions = int(max_sessions)

    def retention_run(self, now: float | None = None) -> int:
        """Delete closed sessions older than ``retention_days`` and beyond the newest
        ``max_sessions`` (0 turns a limit off); returns how many. Open sessions stay."""
        return self._writable().call(
            lambda tx: retention.run(tx.conn, time.time() if now is None else now, self._limits),
            "retention",
            standalone=True,
        )

    def set_setting(self, key: str, value: Any) -> None:
        text = json.dumps(value)
        self._writable().call(partial(settings_sql.put, key=key, text=text), f"setting {key}")

    def get_setting(self, key: str, default: Any = None) -> Any:
        return settings_sql.get(self._reader(), key, default)

    # ---- outbox ----------------------------------------------------------------------------
    def outbox_peek(self, limit: int = 100) -> list[OutboxItem]:
        return outbox.peek(self._reader(), limit)

    def outbox_ack(self, ids: Sequence[int]) -> None:
        ids = [int(i) for i in ids]
        if ids:
            self._writable().call(partial(outbox.ack, ids=ids), f"outbox ack ({len(ids)})")

    def outbox_depth(self) -> int:
        return outbox.count(self._reader()) if self.readonly else self._outbox.depth

    @property
    def outbox_dropped(self) -> int:
        """Rows the cap dropped since the store opened."""
        return self._outbox.dropped

    def outbox_wait(self, timeout: float) -> bool:
        """True when an outbox row was committed since the previous call (or, on the first
        call, since the store opened); otherwise waits up to ``timeout`` for one."""
        return self._outbox.wait(timeout)

    def outbox_off(self) -> None:
        """``[mqtt] enabled = false``: queue no session messages and discard those left over
        (:mod:`~affectra_edge.store.outbox` says why)."""
        self._outbox.enabled = False
        if self._writer is not None and self._outbox.depth:
            self._writer.submit(partial(outbox.discard, name=str(self.path)), "outbox discard")

    def on_outbox(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn()`` after each commit that added outbox rows (on the writer thread: quick,
        and never waiting for the store); returns the function that unsubscribes it."""
        return self._outbox.subscribe(fn)

    # ---- reads -----------------------------------------------------------------------------
    def viewers_now(self) -> int:
        return queries.viewers_now(self._reader())

    def count_sessions(self) -> int:
        """Closed sessions (from the roll-ups: a year of sessions is not counted row by row)."""
        return queries.count_sessions(self._reader())

    def recent_sessions(self, limit: int = 50, offset: int = 0) -> list[dict]:
        return queries.recent_sessions(self._reader(), limit, offset)

    def summary(self, start: float, end: float) -> dict[str, Any]:
        """Closed sessions with ``start <= ended_at < end``, plus the viewers in view now."""
        out = self._readers.snapshot(queries.summary, float(start), float(end))
        out["viewers_now"] = self.viewers_now()
        return out

    def buckets(
        self,
        start: float,
        end: float,
        bucket: Literal["hour", "day"],
        tz_offset_s: int = 0,
        *,
        medians: bool = False,
    ) -> list[dict]:
        """Per-hour or per-day figures over ``[start, end)``, buckets aligned to local time
        (``tz_offset_s`` east of UTC); buckets with neither viewers nor passers-by are left out.
        ``medians``: also each bucket's exact ``median_dwell_s`` (reads the range's rows; null
        above :data:`~affectra_edge.store.queries.BUCKET_MEDIAN_MAX` sessions)."""
        if bucket not in ("hour", "day"):
            raise ValueError(f"bucket must be 'hour' or 'day', not {bucket!r}")
        size = 3600 if bucket == "hour" else DAY_S
        return self._readers.snapshot(
            queries.buckets, float(start), float(end), size, int(tz_offset_s), medians
        )

    def dwell_histogram(self, start: float, end: float) -> list[dict[str, Any]]:
        """Closed sessions per dwell band (under 3 s, 3–10 s, 10–30 s, 30 s and over) with
        ``start <= ended_at < end``: ``[{"min_s", "max_s", "visitors"}, …]``."""
        return self._readers.snapshot(queries.dwell_histogram, float(start), float(end))

    def export_csv(self, fp: TextIO, start: float | None = None, end: float | None = None) -> int:
        """Closed sessions with ``start <= ended_at < end`` as CSV, oldest first; header first.

        Streams in chunks on one read snapshot, so memory stays flat for any size."""
        lo = -math.inf if start is None else float(start)
        hi = math.inf if end is None else float(end)
        return self._readers.snapshot(queries.export_csv, fp, lo, hi)

    def write_backlog(self) -> Backlog | None:
        """What is waiting for the disk (None: read-only)."""
        return None if self._writer is None else self._writer.backlog()

    def export_measures_csv(
        self,
        fp: TextIO,
        start: float,
        end: float,
        bucket: Literal["hour", "day"],
        tz_offset_s: int,
        expected_dwell_s: float,
    ) -> int:
        """The measures of :meth:`buckets` (with holding power against ``expected_dwell_s``)
        as CSV, one row a bucket, oldest first; returns how many rows."""
        rows = self.buckets(start, end, bucket, tz_offset_s, medians=True)
        return queries.write_measures_csv(
            fp, (with_holding_power(b, expected_dwell_s) for b in rows)
        )

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` rows: ``["ok"]`` when the file is sound."""
        return queries.integrity_check(self._reader())

    def schema_version(self) -> int:
        return schema.current_version(self._reader())

    # ---- helpers ---------------------------------------------------------------------------
    def _reader(self) -> Connection:
        return self._readers.get()

    def _writable(self) -> Writer:
        if self._writer is None:
            raise StoreError(f"{self.path}: store is read-only")
        return self._writer

    def _stamp(self, s: ViewerSession) -> ViewerSession:
        device, artwork = s.device_id or self._device_id, s.artwork or self._artwork
        if device == s.device_id and artwork == s.artwork:
            return s
        return replace(s, device_id=device, artwork=artwork)
