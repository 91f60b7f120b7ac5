"""Database layout: numbered migrations, the time slots of the roll-ups and the dwell histogram.

Every migration runs in its own transaction together with the row that records it in
``schema_migrations`` (and ``PRAGMA user_version``), so a power cut during an upgrade leaves
the previous version intact and the next start simply runs it again.

Roll-ups exist because the dashboard asks for totals over up to a year of sessions on a
Raspberry Pi: ``rollup`` holds per-15-minute sums of closed sessions (keyed by the slot of
``ended_at``), ``dwell_hist`` a per-UTC-day histogram of dwell times for the median. Both are
maintained in the same transaction that closes (or deletes) a session, so they can never
disagree with the ``sessions`` table. 15 minutes, not an hour, so that hourly and daily buckets
can be cut at local midnight in every real time zone (offsets are multiples of 15 minutes).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from affectra_edge.measures import sql_valence_arousal
from affectra_edge.types import EMOTIONS

logger = logging.getLogger(__name__)

SLOT_S = 900
DAY_S = 86400

#: dwell histogram: bin 0 is [0, HIST_MIN_S), bin i ≥ 1 is [HIST_MIN_S·r^(i-1), HIST_MIN_S·r^i),
#: the last bin takes everything longer. r = 1.1 keeps the interpolated median within a few
#: percent while a day's histogram stays at 576 bytes.
HIST_MIN_S = 0.25
HIST_RATIO = 1.1
HIST_BINS = 144
_LOG_R = math.log(HIST_RATIO)
HIST_EDGES = np.concatenate(
    ([0.0], HIST_MIN_S * HIST_RATIO ** np.arange(HIST_BINS - 1, dtype=np.float64), [math.inf])
)

FRACTION_COLUMNS = EMOTIONS  # one REAL column per emotion, in the public order


def slot_of(ts: float, size: int = SLOT_S) -> int:
    """The slot ``k`` with ``k·size ≤ ts < (k+1)·size``.

    Decided by the same comparisons the range queries use (``ended_at >= k*size``), not by a
    division that could round across a boundary, so the roll-up and the raw edges of a range
    never both count (or both miss) a session.
    """
    k = math.floor(ts / size)
    if k * size > ts:
        k -= 1
    elif (k + 1) * size <= ts:
        k += 1
    return int(k)


def hist_bin(dwell_s: float) -> int:
    if not dwell_s >= HIST_MIN_S:  # also NaN
        return 0
    if not math.isfinite(dwell_s):
        return HIST_BINS - 1
    i = min(int(math.log(dwell_s / HIST_MIN_S) / _LOG_R) + 1, HIST_BINS - 1)
    # the float log may land one bin off at an edge; the edges table is the truth
    while i > 1 and dwell_s < HIST_EDGES[i]:
        i -= 1
    while i < HIST_BINS - 1 and dwell_s >= HIST_EDGES[i + 1]:
        i += 1
    return min(i, HIST_BINS - 1)


def hist_of(dwells: Iterable[float]) -> np.ndarray:
    h = np.zeros(HIST_BINS, dtype=np.int64)
    for d in dwells:
        h[hist_bin(d)] += 1
    return h


def hist_to_blob(h: np.ndarray) -> bytes:
    return np.asarray(h, dtype="<u4").tobytes()


def blob_to_hist(blob: bytes | None) -> np.ndarray:
    if not blob:
        return np.zeros(HIST_BINS, dtype=np.int64)
    return np.frombuffer(blob, dtype="<u4").astype(np.int64)


def hist_median(h: np.ndarray) -> float:
    """Median from a histogram, interpolating linearly inside the bin that holds it."""
    n = int(h.sum())
    if n == 0:
        return 0.0
    half = n / 2.0
    cum = np.cumsum(h)
    i = int(np.searchsorted(cum, half, side="left"))
    below = float(cum[i - 1]) if i > 0 else 0.0
    lo = float(HIST_EDGES[i])
    hi = float(HIST_EDGES[i + 1])
    if not math.isfinite(hi):  # the open-ended last bin: its lower edge is all we know
        return lo
    frac = (half - below) / float(h[i]) if h[i] else 0.0
    return lo + (hi - lo) * frac


# ---- migrations ----------------------------------------------------------------------------

_FRACTIONS_DDL = ",\n    ".join(f"{e} REAL NOT NULL DEFAULT 0" for e in FRACTION_COLUMNS)

V1_SQL = f"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at REAL NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    artwork TEXT NOT NULL DEFAULT '',
    track_id INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    dwell_s REAL NOT NULL,
    frames INTEGER NOT NULL,
    {_FRACTIONS_DDL},
    dominant TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX sessions_state_ended ON sessions(state, ended_at);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

_SUMS_DDL = ",\n    ".join(f"{e} REAL NOT NULL DEFAULT 0" for e in FRACTION_COLUMNS)

V2_SQL = f"""
CREATE TABLE rollup (
    slot INTEGER PRIMARY KEY,
    visitors INTEGER NOT NULL,
    dwell_sum REAL NOT NULL,
    {_SUMS_DDL}
);
CREATE TABLE dwell_hist (
    day INTEGER PRIMARY KEY,
    hist BLOB NOT NULL
);
-- (state, ended_at, dwell_s) covers range counts and the exact median without table lookups
DROP INDEX sessions_state_ended;
CREATE INDEX sessions_state_ended_dwell ON sessions(state, ended_at, dwell_s);
"""


def _v3_sql() -> str:
    valence, arousal = sql_valence_arousal()
    return f"""
ALTER TABLE sessions ADD COLUMN valence REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN arousal REAL NOT NULL DEFAULT 0;
-- every stored session has its distribution, so every one is back-filled exactly
UPDATE sessions SET valence = {valence}, arousal = {arousal};
-- faces seen for less than min_dwell_s, counted per 15-minute slot of their last sighting:
-- nothing else about them is kept
CREATE TABLE passersby (
    slot INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
-- when passers-by began to be counted: attraction power is unknown before (see _migrate_v3)
CREATE TABLE counting_since (
    what TEXT PRIMARY KEY,
    since REAL NOT NULL
)
"""


def _exec_script(conn, sql: str) -> None:
    # executescript() would COMMIT the migration's transaction; run statement by statement.
    for stmt in sql.split(";"):
        body = "\n".join(
            line for line in stmt.splitlines() if not line.strip().startswith("--")
        ).strip()
        if body:
            conn.execute(body)


def _migrate_v1(conn) -> None:
    _exec_script(conn, V1_SQL)


def _migrate_v2(conn) -> None:
    _exec_script(conn, V2_SQL)
    rebuild_rollups(conn, None, None)


def _migrate_v3(conn) -> None:
    _exec_script(conn, _v3_sql())
    # An upgrade of a database with sessions: they were counted while passers-by were not,
    # so before now attraction power would read 100 %. A new database counts both from the
    # start.
    had_sessions = conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchone() is not None
    conn.execute(
        "INSERT INTO counting_since(what, since) VALUES ('passers_by', ?)",
        (time.time() if had_sessions else 0.0,),
    )


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[object], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sessions, outbox and settings", _migrate_v1),
    Migration(2, "15-minute roll-ups, daily dwell histogram, covering index", _migrate_v2),
    Migration(3, "session valence and arousal, passers-by per 15 minutes", _migrate_v3),
)
LATEST = MIGRATIONS[-1].version


def current_version(conn) -> int:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    v = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    return int(v)


def migrate(conn, target: int = LATEST) -> list[int]:
    """Apply the migrations after the database's version up to ``target``; returns those run.

    ``conn`` is in autocommit mode (``isolation_level=None``) and owned by the caller."""
    applied: list[int] = []
    for m in MIGRATIONS:
        if m.version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read inside the write lock: another process may have migrated meanwhile
            if current_version(conn) >= m.version:
                conn.execute("ROLLBACK")
                continue
            logger.info("store: applying migration %d (%s)", m.version, m.name)
            m.apply(conn)
            conn.execute(
                "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, time.time()),
            )
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied


# ---- roll-up maintenance (inside the caller's transaction) --------------------------------

_SUM_COLS = ", ".join(FRACTION_COLUMNS)
_UPSERT_ROLLUP = (
    f"INSERT INTO rollup(slot, visitors, dwell_sum, {_SUM_COLS}) "
    f"VALUES (?, ?, ?, {', '.join('?' for _ in FRACTION_COLUMNS)}) "
    "ON CONFLICT(slot) DO UPDATE SET visitors = visitors + excluded.visitors, "
    "dwell_sum = dwell_sum + excluded.dwell_sum, "
    + ", ".join(f"{e} = {e} + excluded.{e}" for e in FRACTION_COLUMNS)
)


def add_to_rollups(conn, rows: Sequence[tuple[float, float, Sequence[float]]]) -> None:
    """Count closed sessions ``(ended_at, dwell_s, fractions)`` into the roll-ups."""
    slots: dict[int, list[float]] = {}
    days: dict[int, list[float]] = {}
    for ended_at, dwell, fr in rows:
        acc = slots.setdefault(slot_of(ended_at), [0.0] * (2 + len(FRACTION_COLUMNS)))
        acc[0] += 1
        acc[1] += dwell
        for i, v in enumerate(fr):
            acc[2 + i] += v
        days.setdefault(slot_of(ended_at, DAY_S), []).append(dwell)
    conn.executemany(_UPSERT_ROLLUP, [(slot, int(acc[0]), *acc[1:]) for slot, acc in slots.items()])
    for day, dwells in days.items():
        row = conn.execute("SELECT hist FROM dwell_hist WHERE day = ?", (day,)).fetchone()
        h = blob_to_hist(row[0] if row else None) + hist_of(dwells)
        conn.execute(
            "INSERT INTO dwell_hist(day, hist) VALUES (?, ?) "
            "ON CONFLICT(day) DO UPDATE SET hist = excluded.hist",
            (day, hist_to_blob(h)),
        )


def rebuild_rollups(conn, start: float | None, end: float | None) -> None:
    """Recompute the roll-ups of every slot and day touching ``[start, end]`` from ``sessions``.

    Used after deletions (retention) and by the migration that introduced them; ``None``
    means unbounded. Whole slots and days are rebuilt, so partial deletions stay exact."""
    if start is None or end is None:
        conn.execute("DELETE FROM rollup")
        conn.execute("DELETE FROM dwell_hist")
        lo, hi = -math.inf, math.inf
    else:
        # Whole days, because a day's histogram can only be rebuilt from all of its sessions
        # (and a day is a whole number of slots).
        d0, d1 = slot_of(start, DAY_S), slot_of(end, DAY_S)
        conn.execute("DELETE FROM dwell_hist WHERE day >= ? AND day <= ?", (d0, d1))
        lo, hi = float(d0 * DAY_S), float((d1 + 1) * DAY_S)
        conn.execute(
            "DELETE FROM rollup WHERE slot >= ? AND slot < ?",
            (d0 * DAY_S // SLOT_S, (d1 + 1) * DAY_S // SLOT_S),
        )
    cur = conn.execute(
        f"SELECT ended_at, dwell_s, {_SUM_COLS} FROM sessions "
        "WHERE state = 'closed' AND ended_at >= ? AND ended_at < ? ORDER BY ended_at",
        (lo, hi),
    )
    while True:
        chunk = cur.fetchmany(20000)
        if not chunk:
            break
        add_to_rollups(conn, [(r[0], r[1], r[2:]) for r in chunk])
