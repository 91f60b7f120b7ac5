"""Retention: delete closed sessions older than ``retention_days`` and beyond the newest
``max_sessions`` (0 turns a limit off). Open sessions always stay.

Functions of the bare write connection: they run in batches, each in its own transaction, so
queued events are not held up for long, and each batch rebuilds the roll-ups it touched before
it commits. The writer runs them on a schedule (:func:`scheduled`) and on demand.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from affectra_edge.store import schema
from affectra_edge.store.db import Connection, chunks
from affectra_edge.store.schema import DAY_S
from affectra_edge.store.writer import Periodic

logger = logging.getLogger(__name__)

BATCH = 5_000


@dataclass
class Limits:
    """Changed at run time (settings); the scheduled job reads them on each run."""

    days: int
    max_sessions: int


def scheduled(limits: Limits, interval_s: float) -> Periodic:
    # First run a little after start (not at once: start-up stays quick, and an explicit
    # retention_run() right after opening reports what it deleted), then every interval.
    return Periodic(
        "retention", lambda conn: run(conn, time.time(), limits), interval_s, min(interval_s, 300.0)
    )


def run(conn: Connection, now: float, limits: Limits) -> int:
    """Apply both limits as of ``now``; returns how many sessions were deleted."""
    deleted = 0
    if limits.days > 0:
        cutoff = now - limits.days * DAY_S
        deleted += _delete_oldest(conn, "state = 'closed' AND ended_at < ?", (cutoff,), None)
        # passers-by go by age only: they are counts, not sessions (max_sessions is not theirs)
        conn.execute("DELETE FROM passersby WHERE slot < ?", (schema.slot_of(cutoff),))
    if limits.max_sessions > 0:
        total = conn.execute("SELECT COALESCE(SUM(visitors), 0) FROM rollup").fetchone()[0]
        excess = int(total) - limits.max_sessions
        if excess > 0:
            deleted += _delete_oldest(conn, "state = 'closed'", (), excess)
    if deleted:
        logger.info("store: retention deleted %d session(s)", deleted)
    return deleted


def _delete_oldest(conn: Connection, where: str, args: tuple, limit: int | None) -> int:
    deleted = 0
    while limit is None or deleted < limit:
        n = BATCH if limit is None else min(BATCH, limit - deleted)
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                f"SELECT id, ended_at FROM sessions WHERE {where} ORDER BY ended_at, id LIMIT ?",
                (*args, n),
            ).fetchall()
            if not rows:
                conn.execute("ROLLBACK")
                break
            for part, marks in chunks([r[0] for r in rows]):
                conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", part)
            schema.rebuild_rollups(conn, rows[0][1], rows[-1][1])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        deleted += len(rows)
    return deleted
