"""Read queries (dashboard, API, MQTT summary, CSV export): functions of a reader connection.

Ranges are ``start <= ended_at < end`` over closed sessions. Long ranges read the 15-minute
roll-ups for their whole slots and the ``sessions`` rows only at their two ragged edges (see
:mod:`affectra_edge.store.schema`), so a year's summary stays fast on a Raspberry Pi.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TextIO

import numpy as np

from affectra_edge.measures import DIGITS, attraction_power, mean_valence_arousal
from affectra_edge.store import schema
from affectra_edge.store.db import Connection
from affectra_edge.store.schema import DAY_S, FRACTION_COLUMNS, SLOT_S, slot_of
from affectra_edge.store.sessions_sql import SESSION_COLS, row_session
from affectra_edge.types import EMOTIONS, iso_utc

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
    # added later, at the end: existing columns keep their positions
    "valence",
    "arousal",
)

#: what makes a spreadsheet program read a cell as a formula ("CSV injection")
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: up to this many sessions in a range the median dwell is exact; above it comes from the daily
#: histograms (within a few percent) so that a year's summary stays fast on a Pi
EXACT_MEDIAN_MAX = 20_000
#: up to this many sessions in a range each bucket gets its exact median dwell when asked for
#: (one pass over the covering index: about 3 µs a row on the development VM, bench/store.py;
#: several times that on a Pi); above it the buckets' ``median_dwell_s`` is null: there is no
#: histogram per local hour or day
BUCKET_MEDIAN_MAX = 50_000

_CLOSED_IN_RANGE = "FROM sessions WHERE state = 'closed' AND ended_at >= ? AND ended_at < ?"
#: visitors, dwell and the emotion fractions summed: from rows, and from the roll-ups
_ROW_SUMS = "count(*), TOTAL(dwell_s), " + ", ".join(f"TOTAL({e})" for e in FRACTION_COLUMNS)
_ROLLUP_SUMS = "COALESCE(SUM(visitors), 0), TOTAL(dwell_sum), " + ", ".join(
    f"TOTAL({e})" for e in FRACTION_COLUMNS
)
_N_SUMS = 2 + len(FRACTION_COLUMNS)


def _first_whole(ts: float, size: int = SLOT_S) -> int:
    """The first slot that starts at or after ``ts``."""
    k = slot_of(ts, size)
    return k if k * size == ts else k + 1


def _dominant(fractions: Sequence[float]) -> str | None:
    if not fractions or max(fractions) <= 0:
        return None
    return EMOTIONS[int(np.argmax(fractions))]


def _emotion_fields(fractions: Sequence[float]) -> dict[str, Any]:
    # mean fractions → mean valence and arousal exactly (the mapping is linear)
    valence, arousal = mean_valence_arousal(fractions) if any(fractions) else (None, None)
    return {
        "dominant": _dominant(fractions),
        "emotions": {e: round(v, 4) for e, v in zip(EMOTIONS, fractions, strict=True)},
        "valence": None if valence is None else round(valence, DIGITS),
        "arousal": None if arousal is None else round(arousal, DIGITS),
    }


def _passers_by(conn: Connection, start: float, end: float) -> int:
    """Passers-by of the 15-minute slots that start in ``[start, end)`` (they are only kept per
    slot, so a range that begins or ends inside a slot counts it by where it starts)."""
    if end <= start:
        return 0
    row = conn.execute(
        "SELECT COALESCE(SUM(n), 0) FROM passersby WHERE slot >= ? AND slot < ?",
        (_first_whole(start), _first_whole(end)),
    ).fetchone()
    return int(row[0])


def _counting_since(conn: Connection) -> float:
    """Since when passers-by are counted (0: always; later for a database upgraded with data)."""
    row = conn.execute("SELECT since FROM counting_since WHERE what = 'passers_by'").fetchone()
    return float(row[0]) if row is not None else 0.0


def _attraction(viewers: int, passers_by: int, counted: bool = True) -> dict[str, Any]:
    """``counted``: passers-by were counted over the whole range; if not, attraction power is
    unknown (viewers alone would read as 100 %)."""
    power = attraction_power(viewers, passers_by) if counted else None
    return {"passers_by": passers_by, "attraction_power": power}


def _closed_in(conn: Connection, columns: str, start: float, end: float) -> Iterable[tuple]:
    if end <= start:
        return ()
    return conn.execute(f"SELECT {columns} {_CLOSED_IN_RANGE}", (start, end))


def _raw_sums(conn: Connection, start: float, end: float) -> list[float]:
    row = next(iter(_closed_in(conn, _ROW_SUMS, start, end)), None)
    return [float(v) for v in row] if row is not None else [0.0] * _N_SUMS


def _dwells(conn: Connection, start: float, end: float) -> list[float]:
    return [r[0] for r in _closed_in(conn, "dwell_s", start, end)]


# ---- counts and lists ----------------------------------------------------------------------
def viewers_now(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM sessions WHERE state = 'open'").fetchone()[0])


def count_sessions(conn: Connection) -> int:
    """Closed sessions (from the roll-ups: a year of sessions is not counted row by row)."""
    return int(conn.execute("SELECT COALESCE(SUM(visitors), 0) FROM rollup").fetchone()[0])


def recent_sessions(conn: Connection, limit: int, offset: int) -> list[dict]:
    rows = conn.execute(
        f"SELECT {SESSION_COLS} FROM sessions WHERE state = 'closed' "
        "ORDER BY ended_at DESC, id DESC LIMIT ? OFFSET ?",
        (max(0, int(limit)), max(0, int(offset))),
    )
    return [row_session(r).to_json() for r in rows]


# ---- figures -------------------------------------------------------------------------------
def summary(conn: Connection, start: float, end: float) -> dict[str, Any]:
    """Visitors, dwell (mean, median, total) and emotions of the closed sessions in the range."""
    s0, s1 = _first_whole(start), slot_of(end)
    if s0 < s1:
        row = conn.execute(
            f"SELECT {_ROLLUP_SUMS} FROM rollup WHERE slot >= ? AND slot < ?", (s0, s1)
        ).fetchone()
        sums = np.array([float(v) for v in row])
        sums += _raw_sums(conn, start, s0 * SLOT_S)
        sums += _raw_sums(conn, s1 * SLOT_S, end)
    else:
        sums = np.array(_raw_sums(conn, start, end))
    n = int(sums[0])
    fr = [float(v) / n if n else 0.0 for v in sums[2:]]
    return {
        "visitors": n,
        "avg_dwell_s": round(float(sums[1]) / n, 3) if n else 0.0,
        "median_dwell_s": round(_median(conn, start, end, n), 3) if n else 0.0,
        "total_dwell_s": round(float(sums[1]), 3),
        **_emotion_fields(fr),
        **_attraction(n, _passers_by(conn, start, end), start >= _counting_since(conn)),
    }


def _median(conn: Connection, start: float, end: float, n: int) -> float:
    d0, d1 = _first_whole(start, DAY_S), slot_of(end, DAY_S)
    if n <= EXACT_MEDIAN_MAX or d0 >= d1:
        return float(statistics.median(_dwells(conn, start, end)))
    h = np.zeros(schema.HIST_BINS, dtype=np.int64)
    for (blob,) in conn.execute("SELECT hist FROM dwell_hist WHERE day >= ? AND day < ?", (d0, d1)):
        h += schema.blob_to_hist(blob)
    h += schema.hist_of(_dwells(conn, start, d0 * DAY_S))
    h += schema.hist_of(_dwells(conn, d1 * DAY_S, end))
    return schema.hist_median(h)


def buckets(
    conn: Connection, start: float, end: float, size: int, tz: int, medians: bool = False
) -> list[dict]:
    """Per-``size``-seconds figures, buckets aligned ``tz`` seconds east of UTC; buckets with
    neither viewers nor passers-by are left out."""
    acc: dict[int, np.ndarray] = {}

    def add(key: int, sums: Sequence[float]) -> None:
        if sums[0]:
            acc.setdefault(key, np.zeros(_N_SUMS))[:] += sums

    def add_rows(sql: str, args: tuple) -> None:
        for r in conn.execute(sql, args):
            add(int(r[0]), [float(v) for v in r[1:]])

    def add_edge(lo: float, hi: float) -> None:
        # an edge lies inside one slot, and with tz a multiple of the slot every bucket
        # boundary is a slot boundary: the whole edge belongs to the bucket of its slot
        if hi > lo:
            add((slot_of(lo) * SLOT_S + tz) // size, _raw_sums(conn, lo, hi))

    s0, s1 = _first_whole(start), slot_of(end)
    if tz % SLOT_S == 0 and s0 < s1:
        # slot·900 + tz is an exact integer, so the bucket of every slot is exact too
        add_rows(
            f"SELECT (slot * ? + ?) / ?, {_ROLLUP_SUMS} FROM rollup "
            "WHERE slot >= ? AND slot < ? GROUP BY 1",
            (SLOT_S, tz, size, s0, s1),
        )
        add_edge(start, s0 * SLOT_S)
        add_edge(s1 * SLOT_S, end)
    else:
        # an offset that is no multiple of 15 min (none in use today): no roll-ups fit
        add_rows(
            f"SELECT CAST((ended_at + ?) / ? AS INTEGER), {_ROW_SUMS} {_CLOSED_IN_RANGE} "
            "GROUP BY 1",
            (tz, size, start, end),
        )
    passers: dict[int, int] = {}
    if end > start:
        # a slot belongs to the bucket its start falls in (exact when tz is whole slots)
        for slot, n in conn.execute(
            "SELECT slot, n FROM passersby WHERE slot >= ? AND slot < ?",
            (_first_whole(start), _first_whole(end)),
        ):
            key = (int(slot) * SLOT_S + tz) // size
            passers[key] = passers.get(key, 0) + int(n)
    # The medians read every row of the range: only for those who ask (the API, the CSV), not
    # for the dashboard's chart, which stays on the roll-ups.
    visitors = int(sum(a[0] for a in acc.values()))
    exact = medians and visitors <= BUCKET_MEDIAN_MAX
    by_bucket = _bucket_medians(conn, start, end, size, tz) if exact else {}
    since = _counting_since(conn)
    out = []
    for k in sorted(set(acc) | set(passers)):
        a = acc.get(k, np.zeros(_N_SUMS))
        n = int(a[0])
        median = by_bucket.get(k)
        doc = {
            "start": k * size - tz,
            "visitors": n,
            "avg_dwell_s": round(float(a[1]) / n, 3) if n else 0.0,
            **_emotion_fields([float(v) / n if n else 0.0 for v in a[2:]]),
            **_attraction(n, passers.get(k, 0), k * size - tz >= since),
        }
        if medians:
            doc["median_dwell_s"] = None if median is None else round(median, 3)
        out.append(doc)
    return out


def _bucket_medians(
    conn: Connection, start: float, end: float, size: int, tz: int
) -> dict[int, float]:
    """The exact median dwell per bucket, each session in the bucket :func:`buckets` counts it
    in (by the slot of ``ended_at`` when ``tz`` is whole slots, as the roll-ups do)."""
    by_key: dict[int, list[float]] = {}
    aligned = tz % SLOT_S == 0
    for ended, dwell in _closed_in(conn, "ended_at, dwell_s", start, end):
        key = (slot_of(ended) * SLOT_S + tz) // size if aligned else int((ended + tz) // size)
        by_key.setdefault(key, []).append(float(dwell))
    return {k: float(statistics.median(v)) for k, v in by_key.items()}


#: the dwell-time bands staff read (seconds): under 3, 3–10, 10–30, 30 and over
DWELL_BANDS: tuple[float, ...] = (3.0, 10.0, 30.0)


def dwell_histogram(
    conn: Connection,
    start: float,
    end: float,
    edges: Sequence[float] = DWELL_BANDS,
    exact_max: int = EXACT_MEDIAN_MAX,
) -> list[dict[str, Any]]:
    """Closed sessions per dwell band ``[0, e0)``, ``[e0, e1)`` … ``[e_last, ∞)``.

    Up to ``exact_max`` sessions (as for the median) every session is counted from its row.
    Above that, whole UTC days come from the stored daily histograms so a year stays fast on a
    Pi: a histogram bin that straddles a band edge is split in proportion to its width, and
    the ragged ends of the range are counted from the rows. Counts are whole numbers that add
    up to the visitors of the range."""
    bounds = [0.0, *edges, math.inf]
    counts = np.zeros(len(bounds) - 1)
    d0, d1 = _first_whole(start, DAY_S), slot_of(end, DAY_S)
    # the roll-ups' count of the slots the range touches: an upper bound, and cheap
    (about,) = conn.execute(
        "SELECT COALESCE(SUM(visitors), 0) FROM rollup WHERE slot >= ? AND slot <= ?",
        (slot_of(start), slot_of(end)),
    ).fetchone()
    raw: list[float] = []
    if d0 < d1 and int(about) > exact_max:
        h = np.zeros(schema.HIST_BINS, dtype=np.int64)
        for (blob,) in conn.execute(
            "SELECT hist FROM dwell_hist WHERE day >= ? AND day < ?", (d0, d1)
        ):
            h += schema.blob_to_hist(blob)
        lo, hi = schema.HIST_EDGES[:-1], schema.HIST_EDGES[1:]
        for i in range(len(counts)):
            # the share of each bin inside band i (the open last bin counts by its lower edge)
            a, b = bounds[i], bounds[i + 1]
            width = np.where(np.isfinite(hi), hi - lo, 1.0)
            inside = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)
            share = np.where(np.isfinite(hi), inside / width, (lo >= a) & (lo < b))
            counts[i] += float((h * share).sum())
        raw = _dwells(conn, start, d0 * DAY_S) + _dwells(conn, d1 * DAY_S, end)
    else:
        raw = _dwells(conn, start, end)
    if raw:
        band = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(raw), side="right")
        counts += np.bincount(band, minlength=len(counts))
    # largest remainder: whole visitors that still add up to the total
    whole = np.floor(counts + 1e-9)
    short = round(float(counts.sum()) - float(whole.sum()))
    for i in np.argsort(-(counts - whole))[: max(0, short)]:
        whole[i] += 1
    return [
        {
            "min_s": bounds[i],
            "max_s": None if math.isinf(bounds[i + 1]) else bounds[i + 1],
            "visitors": int(whole[i]),
        }
        for i in range(len(counts))
    ]


# ---- export --------------------------------------------------------------------------------
def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell that spreadsheets show as text and never evaluate: text that
    starts like a formula gets a single quote in front (OWASP's rule), e.g. an artwork named
    ``=HYPERLINK(…)`` is exported as ``'=HYPERLINK(…)``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _CsvRows:
    r"""Rows of :func:`csv_cell` cells, ``\n`` after each, to ``fp``.

    Python before 3.12 quotes a cell with a CR only when CR is part of the line terminator: a
    bare CR would end the row in a spreadsheet (and could start the next one with a formula).
    Such rare rows are written with ``\r\n`` (so quoted) and then given the usual ``\n``."""

    def __init__(self, fp: TextIO):
        self._fp = fp
        self._plain = csv.writer(fp, lineterminator="\n")
        self._buf = io.StringIO()
        self._quoting_cr = csv.writer(self._buf, lineterminator="\r\n")

    def write(self, cells: Iterable[Any]) -> None:
        row = [csv_cell(c) for c in cells]
        if not any(isinstance(c, str) and "\r" in c for c in row):
            self._plain.writerow(row)
            return
        self._buf.seek(0)
        self._buf.truncate()
        self._quoting_cr.writerow(row)
        self._fp.write(self._buf.getvalue()[:-2] + "\n")


#: columns of the per-hour / per-day measures CSV (``export --bucket``, ``/api/stats.csv``)
MEASURES_CSV_COLUMNS: tuple[str, ...] = (
    "start",
    "visitors",
    "passers_by",
    "attraction_power",
    "avg_dwell_s",
    "median_dwell_s",
    "holding_power",
    "valence",
    "arousal",
    "dominant",
)


def write_measures_csv(fp: TextIO, rows: Iterable[dict[str, Any]]) -> int:
    """Buckets (as :func:`buckets` gives them, plus ``holding_power``) as CSV, header first;
    ``start`` in ISO-8601 UTC, a measure that cannot be computed as an empty cell. Returns how
    many rows."""
    out = _CsvRows(fp)
    out.write(MEASURES_CSV_COLUMNS)
    n = 0
    for b in rows:
        cells: list[Any] = [iso_utc(float(b["start"]))]
        for key in MEASURES_CSV_COLUMNS[1:]:
            v = b.get(key)
            # numbers stay numbers (a negative valence is no formula to defuse)
            cells.append("" if v is None else Decimal(str(v)) if isinstance(v, float) else v)
        out.write(cells)
        n += 1
    return n


def export_csv(conn: Connection, fp: TextIO, start: float, end: float) -> int:
    """The closed sessions in the range as CSV, oldest first, header first; returns how many.

    Streams in chunks, so memory stays flat for any size. Every cell goes through
    :func:`csv_cell` (artwork and device names come from staff input)."""
    out = _CsvRows(fp)
    out.write(CSV_COLUMNS)
    cur = conn.execute(
        "SELECT session_id, device_id, artwork, started_at, ended_at, dwell_s, frames, "
        f"dominant, {', '.join(FRACTION_COLUMNS)}, valence, arousal {_CLOSED_IN_RANGE} "
        "ORDER BY ended_at, id",
        (start, end),
    )
    n = 0
    while True:
        rows = cur.fetchmany(1000)
        if not rows:
            return n
        for r in rows:
            out.write(
                (
                    r[0],
                    r[1],
                    r[2],
                    iso_utc(r[3]),
                    iso_utc(r[4]),
                    f"{r[5]:.3f}",
                    r[6],
                    r[7],
                    *(f"{v:.6f}" for v in r[8 : 8 + len(FRACTION_COLUMNS)]),
                    # valence and arousal can be negative: numbers, not text, so that
                    # csv_cell does not take the minus sign for the start of a formula
                    *(Decimal(f"{v:.6f}") for v in r[8 + len(FRACTION_COLUMNS) :]),
                )
            )
        n += len(rows)


def integrity_check(conn: Connection) -> list[str]:
    """``PRAGMA integrity_check`` rows: ``["ok"]`` when the file is sound."""
    return [r[0] for r in conn.execute("PRAGMA integrity_check")]
