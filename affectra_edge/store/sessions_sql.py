"""Session rows, written inside the writer's transaction (functions of a :class:`Tx`).

A session row is ``open`` while the viewer is in view (updated at each checkpoint, so a crash
loses at most one interval) and ``closed`` once final. Closing a row, counting it in the
roll-ups and queueing its MQTT message happen in one transaction, so none of the three can
exist without the others.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from affectra_edge.measures import valence_arousal
from affectra_edge.store import schema
from affectra_edge.store.db import Connection, chunks
from affectra_edge.store.outbox import Outbox
from affectra_edge.store.outbox import clear as clear_outbox
from affectra_edge.store.schema import FRACTION_COLUMNS
from affectra_edge.store.writer import Tx
from affectra_edge.types import EMOTIONS, Emotions, ViewerSession

logger = logging.getLogger(__name__)

#: the count a transaction keeps of the sessions it closed
CLOSED = "closed"

SESSION_COLS = (
    "session_id, device_id, artwork, track_id, state, started_at, ended_at, dwell_s, frames, "
    + ", ".join(FRACTION_COLUMNS)
    + ", dominant, valence, arousal"
)
#: one row of :func:`values` plus ``updated_at``
_INSERT_SESSION = (
    f"INSERT INTO sessions({SESSION_COLS}, updated_at) "
    f"VALUES ({', '.join('?' for _ in SESSION_COLS.split(','))}, ?)"
)
_UPDATE_SESSION = (
    "UPDATE sessions SET "
    + ", ".join(f"{c.strip()} = ?" for c in SESSION_COLS.split(","))
    + ", updated_at = ? WHERE id = ?"
)
_CHECKPOINT = (
    "UPDATE sessions SET ended_at = ?, dwell_s = ?, frames = ?, "
    + ", ".join(f"{e} = ?" for e in FRACTION_COLUMNS)
    + ", dominant = ?, valence = ?, arousal = ?, updated_at = ? WHERE id = ?"
)


def _clean_fraction(v: float) -> float:
    v = float(v)
    return min(1.0, max(0.0, v)) if math.isfinite(v) else 0.0


def row_session(row: Sequence[Any]) -> ViewerSession:
    """A :class:`ViewerSession` from the ``SESSION_COLS`` of one row."""
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


def values(s: ViewerSession, state: str) -> tuple:
    """The ``SESSION_COLS`` of ``s``, cleaned: fractions in [0, 1], ``ended_at ≥ started_at``."""
    fr = [_clean_fraction(v) for v in s.emotions.probs]
    valence, arousal = valence_arousal(fr)
    started = float(s.started_at)
    ended = max(float(s.ended_at), started)
    return (
        s.session_id,
        s.device_id,
        s.artwork,
        int(s.track_id),
        state,
        started,
        ended,
        ended - started,
        max(0, int(s.frames)),
        *fr,
        EMOTIONS[int(np.argmax(fr))] if any(fr) else s.dominant,
        valence,
        arousal,
    )


def _rollup_row(v: tuple) -> tuple[float, float, Sequence[float]]:
    """``(ended_at, dwell_s, fractions)`` of a :func:`values` tuple, for the roll-ups."""
    return (v[6], v[7], v[9 : 9 + len(FRACTION_COLUMNS)])


def close_row(tx: Tx, outbox: Outbox, row_id: int | None, s: ViewerSession) -> None:
    """Mark a session closed, count it in the roll-ups and queue its MQTT message."""
    conn = tx.conn
    v = values(s, "closed")
    now = time.time()
    if row_id is None:
        conn.execute(_INSERT_SESSION, (*v, now))
    else:
        conn.execute(_UPDATE_SESSION, (*v, now, row_id))
    schema.add_to_rollups(conn, [_rollup_row(v)])
    doc = replace(s, device_id=v[1], artwork=v[2], ended_at=v[6], state="closed").to_json()
    outbox.insert(tx, "session", json.dumps(doc, separators=(",", ":")), now)
    tx.add(CLOSED)


def apply_event(tx: Tx, outbox: Outbox, kind: str, s: ViewerSession) -> None:
    """A session event (``start``, ``update`` or ``end``) from the pipeline."""
    conn = tx.conn
    row = conn.execute(
        "SELECT id, state FROM sessions WHERE session_id = ?", (s.session_id,)
    ).fetchone()
    if row is not None and row[1] == "closed":
        # Already final (a repeated end, or an update racing the end): counting it again
        # would double-count the visitor.
        logger.debug("store: ignoring %s for closed session %s", kind, s.session_id)
        return
    if kind == "end":
        close_row(tx, outbox, row[0] if row else None, s)
        return
    v = values(s, "open")
    now = time.time()
    if row is None:
        conn.execute(_INSERT_SESSION, (*v, now))
    else:
        # a checkpoint: how far the viewer got, so a crash loses at most one interval
        conn.execute(_CHECKPOINT, (v[6], v[7], v[8], *v[9:], now, row[0]))


def import_closed(tx: Tx, items: Sequence[ViewerSession]) -> int:
    """Store already-closed sessions, skipping ids that exist; no outbox rows. Returns how many."""
    by_id = {s.session_id: values(s, "closed") for s in items}
    for part, marks in chunks(list(by_id)):
        for (sid,) in tx.conn.execute(
            f"SELECT session_id FROM sessions WHERE session_id IN ({marks})", part
        ):
            del by_id[sid]
    rows = list(by_id.values())
    if not rows:
        return 0
    now = time.time()
    tx.conn.executemany(_INSERT_SESSION, [(*v, now) for v in rows])
    schema.add_to_rollups(tx.conn, [_rollup_row(v) for v in rows])
    tx.add(CLOSED, len(rows))
    return len(rows)


def count_passers_by(tx: Tx, last_seen: Sequence[float]) -> int:
    """Count passers-by (faces that left before ``min_dwell_s``) in the 15-minute slots of
    their last sightings; nothing else about them is stored. Returns how many."""
    slots: dict[int, int] = {}
    for ts in last_seen:
        if math.isfinite(ts):
            k = schema.slot_of(float(ts))
            slots[k] = slots.get(k, 0) + 1
    tx.conn.executemany(
        "INSERT INTO passersby(slot, n) VALUES (?, ?) "
        "ON CONFLICT(slot) DO UPDATE SET n = n + excluded.n",
        list(slots.items()),
    )
    return sum(slots.values())


def clear_all(tx: Tx) -> int:
    """Delete every session, its roll-ups and its queued message; returns how many sessions
    there were."""
    c = tx.conn
    n = c.execute("SELECT count(*) FROM sessions").fetchone()[0]
    c.execute("DELETE FROM sessions")
    c.execute("DELETE FROM rollup")
    c.execute("DELETE FROM dwell_hist")
    c.execute("DELETE FROM passersby")
    # nothing counted before now is left: attraction power is known for every range again
    c.execute("UPDATE counting_since SET since = 0")
    clear_outbox(tx)
    return int(n)


def open_rows(conn: Connection) -> list[tuple[int, ViewerSession]]:
    rows = conn.execute(f"SELECT id, {SESSION_COLS} FROM sessions WHERE state = 'open'")
    return [(int(r[0]), row_session(r[1:])) for r in rows]


def recover(
    tx: Tx, outbox: Outbox, rows: list[tuple[int, ViewerSession]], min_dwell_s: float
) -> dict[str, int]:
    """Close the ``open_rows`` a crash left behind at their last checkpoint, or delete those
    shorter than ``min_dwell_s``; returns ``{"closed": n, "discarded": n}``.

    Runs once, before the writer starts, in one transaction: the rows flip to ``closed``
    together with their roll-up and outbox rows, so a crash during recovery just repeats it."""
    done = {"closed": 0, "discarded": 0}
    for row_id, s in rows:
        if s.duration_s < min_dwell_s:
            tx.conn.execute("DELETE FROM sessions WHERE id = ?", (row_id,))
            done["discarded"] += 1
            continue
        close_row(tx, outbox, row_id, replace(s, state="closed"))
        done["closed"] += 1
    logger.warning(
        "store: closed %d session(s) left open by an unclean shutdown at their last sighting"
        ", discarded %d shorter than %.1f s",
        done["closed"],
        done["discarded"],
        min_dwell_s,
    )
    return done
