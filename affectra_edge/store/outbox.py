"""The MQTT outbox: session messages waiting for the broker's PUBACK.

A row is written in the same transaction that closes its session (see
:mod:`affectra_edge.store.sessions_sql`) and deleted only when the publisher acknowledges it,
so a message can be delivered twice but never lost. The table is capped (``outbox_max``):
when a broker stays away for months, the oldest undelivered messages go first — the sessions
themselves stay.

With ``[mqtt] enabled = false`` there is no outbox to speak of: nothing is queued (an install
that never uses MQTT must not fill 100 000 rows and then log drops), and the rows left from a
time it was enabled are discarded when the daemon starts (:func:`discard`), so enabling MQTT
months later publishes only the sessions that end from then on, not a flood of old ones. The
sessions themselves stay in the database, the API and the CSV export either way.

:class:`Outbox` is the in-memory side: the depth (kept from the counts of each committed
transaction, not re-counted), the drops, and whom to wake after a commit that added rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from affectra_edge.errors import StoreError
from affectra_edge.metrics import Counter, Registry
from affectra_edge.store.db import Connection, chunks
from affectra_edge.store.writer import Tx

logger = logging.getLogger(__name__)

#: counts a transaction keeps (see :class:`~affectra_edge.store.writer.Tx`)
ADDED = "outbox_added"
REMOVED = "outbox_removed"
DROPPED = "outbox_dropped"


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    payload: str
    created_at: float


def register_depth_gauge(registry: Registry, depth: Callable[[], float]) -> None:
    """The ``mqtt_outbox_depth`` gauge, read from the store's count when scraped.

    The store registers it, and so does the publisher, because each may be built with a
    registry of its own; in the daemon they share one, where the first registration stands.
    Both read the same count, so there is one source and no writer to forget."""
    registry.gauge("mqtt_outbox_depth", "session messages waiting in the outbox", fn=depth)


class Outbox:
    def __init__(self, name: str, depth: int, cap: int, *, dropped: Counter):
        #: the database path, for messages
        self.name = name
        self.depth = depth
        self.cap = cap
        #: rows dropped by the cap since the store opened
        self.dropped = 0
        self._m_dropped = dropped
        self._cond = threading.Condition()
        self._seq = 0
        self._seen = 0
        self._closed = False
        self._listeners: tuple[Callable[[], None], ...] = ()
        #: False while MQTT is disabled: :meth:`insert` queues nothing
        self.enabled = True

    # ---- in a write transaction (writer thread) --------------------------------------------
    def insert(self, tx: Tx, kind: str, payload: str, now: float) -> None:
        if not self.enabled:
            return
        conn = tx.conn
        conn.execute(
            "INSERT INTO outbox(kind, payload, created_at) VALUES (?, ?, ?)", (kind, payload, now)
        )
        tx.add(ADDED)
        over = self.depth + tx.get(ADDED) - tx.get(REMOVED) - tx.get(DROPPED) - self.cap
        if over > 0:
            cur = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                (over,),
            )
            tx.add(DROPPED, max(0, cur.rowcount))

    def committed(self, tx: Tx) -> None:
        """The writer's commit listener: apply what ``tx`` did, then wake the subscribers."""
        added, removed, dropped = tx.get(ADDED), tx.get(REMOVED), tx.get(DROPPED)
        if dropped:
            self.dropped += dropped
            self._m_dropped.inc(dropped)
            logger.warning(
                "store: outbox over its cap of %d rows; dropped the %d oldest undelivered "
                "message(s) (%d since start)",
                self.cap,
                dropped,
                self.dropped,
            )
        if not (added or removed or dropped):
            return
        with self._cond:
            self.depth += added - removed - dropped
            if added:
                self._seq += 1
                self._cond.notify_all()
            listeners = self._listeners
        if added:
            for fn in listeners:
                try:
                    fn()
                except Exception:
                    logger.exception("store: outbox listener failed")

    # ---- any thread ------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn()`` after each commit that added rows; returns the unsubscribe function.

        ``fn`` runs on the writer thread: it must be quick and must not wait for the store."""
        with self._cond:
            self._listeners = (*self._listeners, fn)

        def unsubscribe() -> None:
            with self._cond:
                self._listeners = tuple(f for f in self._listeners if f is not fn)

        return unsubscribe

    def wait(self, timeout: float) -> bool:
        """True when a row was committed since the previous call (or, on the first call, since
        the store opened); otherwise waits up to ``timeout`` for one."""
        with self._cond:
            if self._closed:
                raise StoreError(f"{self.name}: store is closed")
            if self._seq == self._seen:
                self._cond.wait_for(lambda: self._seq != self._seen or self._closed, timeout)
            fresh = self._seq != self._seen
            self._seen = self._seq
            return fresh

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


# ---- SQL -----------------------------------------------------------------------------------
def count(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def peek(conn: Connection, limit: int) -> list[OutboxItem]:
    rows = conn.execute(
        "SELECT id, kind, payload, created_at FROM outbox ORDER BY id LIMIT ?", (int(limit),)
    )
    return [OutboxItem(int(r[0]), r[1], r[2], float(r[3])) for r in rows]


def ack(tx: Tx, ids: Sequence[int]) -> None:
    for part, marks in chunks(ids):
        cur = tx.conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", part)
        tx.add(REMOVED, max(0, cur.rowcount))


def clear(tx: Tx) -> None:
    tx.add(REMOVED, max(0, tx.conn.execute("DELETE FROM outbox").rowcount))


def discard(tx: Tx, name: str) -> None:
    """MQTT is disabled: drop the messages left from when it was not (see the module doc)."""
    n = max(0, tx.conn.execute("DELETE FROM outbox").rowcount)
    tx.add(REMOVED, n)
    if n:
        logger.info(
            "store: [mqtt] is disabled: discarded %d undelivered session message(s) from %s; "
            "the sessions stay in the database",
            n,
            name,
        )
