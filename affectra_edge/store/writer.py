"""The single writer: one thread owns the write connection and runs functions of it.

Callers hand over ``fn(tx)`` (the way Datasette's ``execute_write_fn`` runs "a function of the
write connection"); this module knows nothing about sessions, the outbox or retention. The
pipeline thread never waits for the disk: :meth:`Writer.submit` only queues.

The thread groups whatever is queued into one transaction (group commit), with a savepoint per
item so one bad item cannot take its neighbours down. On I/O errors (disk full, a failing SD
card) it rolls back, keeps the items queued and retries with back-off; an item is never
dropped silently. What a transaction changed outside the database (counts read by the commit
listeners) becomes true only after its COMMIT.

The queue is bounded (``max_queued``): with the disk full for hours it would otherwise grow
until the daemon is killed, losing everything in it. Beyond the bound a new item is refused,
counted and logged; :meth:`Writer.backlog` says what is waiting and why, for the status page.
:meth:`Writer.close` keeps to its timeout even while the disk is full, and names what it could
not store.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from affectra_edge.errors import StoreError
from affectra_edge.metrics import Counter
from affectra_edge.store.db import Connection, DatabaseError, OperationalError

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH = 512
#: items waiting for the disk before new ones are refused: hours of a busy gallery's sessions
#: (a few MB), while a stress run reached 1,262 items in a minute
MAX_QUEUED = 20_000


class Tx:
    """One write transaction: its connection, and counts of what it changed (``"closed"``,
    ``"outbox_added"``…) that the commit listeners apply once it has committed."""

    __slots__ = ("conn", "counts")

    def __init__(self, conn: Connection):
        self.conn = conn
        self.counts: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def get(self, key: str) -> int:
        return self.counts.get(key, 0)


@dataclass(frozen=True)
class Periodic:
    """A job the writer runs between groups every ``interval_s``, first after ``first_after_s``.

    It gets the bare connection and manages its own transactions, so that long work (retention
    deletes in batches) does not hold queued items up for long."""

    label: str
    fn: Callable[[Connection], object]
    interval_s: float
    first_after_s: float


class _Op:
    __slots__ = ("done", "error", "fn", "label", "result", "standalone")

    def __init__(self, fn: Callable[[Tx], Any], label: str, *, wait: bool, standalone: bool):
        self.fn = fn
        self.label = label
        self.done = threading.Event() if wait else None
        self.result: Any = None
        self.error: BaseException | None = None
        #: runs outside the group transaction and manages its own (retention)
        self.standalone = standalone


_STOP = object()


@dataclass(frozen=True)
class Backlog:
    """What is waiting for the disk: for ``/api/status`` and the logs."""

    #: items queued for the writer
    queued: int
    #: the writer's last transaction failed and is being retried (disk full, I/O error)
    waiting_for_disk: bool
    #: wall-clock time of the first failure of the current run of failures
    failing_since: float | None
    last_error: str | None
    #: items refused since the start because the queue was full
    refused: int


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying: the disk, locks, I/O — not bad data in one item."""
    return isinstance(exc, OperationalError) or type(exc) is DatabaseError


class Writer:
    """``submit``/``call`` from any thread; ``start()`` once, ``close()`` once."""

    def __init__(
        self,
        conn: Connection,
        name: str,
        *,
        errors: Counter,
        periodic: Periodic | None = None,
        max_queued: int = MAX_QUEUED,
    ):
        self.conn = conn
        #: the database path, for messages
        self.name = name
        self._errors = errors
        self._periodic = periodic
        self._next_periodic = time.monotonic() + periodic.first_after_s if periodic else math.inf
        self._q: queue.Queue = queue.Queue()
        self._max_queued = max_queued
        self._refused = 0
        self._refused_logged = -math.inf
        self._failing_since: float | None = None
        self._last_error: str | None = None
        self._abort = threading.Event()
        self._closing = False
        self._listeners: list[Callable[[Tx], None]] = []
        self._thread: threading.Thread | None = None

    # ---- public ----------------------------------------------------------------------------
    def on_commit(self, fn: Callable[[Tx], None]) -> None:
        """``fn(tx)`` after every committed group (on the writer thread; must be quick)."""
        self._listeners.append(fn)

    def queued(self) -> int:
        return self._q.qsize()

    def backlog(self) -> Backlog:
        return Backlog(
            queued=self._q.qsize(),
            waiting_for_disk=self._failing_since is not None,
            failing_since=self._failing_since,
            last_error=self._last_error,
            refused=self._refused,
        )

    def run_once(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in one transaction on the calling thread, before :meth:`start`.

        For the opening sequence (crash recovery): an error is raised, not retried, because a
        store that cannot recover must not open."""
        assert self._thread is None, "run_once() is for the opening sequence"
        tx = Tx(self.conn)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(tx)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._after_commit(tx)
        return result

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Tx], object], label: str) -> None:
        """Queue ``fn``; a failure is counted and logged, nobody waits for it.

        With ``max_queued`` items already waiting (the disk has been failing for a long
        time) ``fn`` is refused: counted, logged, and shown by :meth:`backlog`."""
        if self._q.qsize() >= self._max_queued:
            self._refuse(label)
            return
        self._put(fn, label, wait=False, standalone=False)

    def call(
        self,
        fn: Callable[[Tx], T],
        label: str,
        *,
        standalone: bool = False,
        timeout: float | None = None,
    ) -> T:
        """Run ``fn`` on the writer and return its result once committed.

        ``standalone``: outside the group transaction, with the bare connection in ``tx.conn``
        (``fn`` manages its own transactions)."""
        if self._q.qsize() >= self._max_queued:
            raise StoreError(
                f"{self.name}: {self._q.qsize()} writes are waiting for the disk; {label} refused"
            )
        op = self._put(fn, label, wait=True, standalone=standalone)
        assert op.done is not None
        if not op.done.wait(timeout):
            raise StoreError(f"{self.name}: timed out waiting for the writer ({label})")
        if op.error is not None:
            if isinstance(op.error, StoreError):
                raise op.error
            raise StoreError(f"{self.name}: {label} failed: {op.error}") from op.error
        return op.result

    def flush(self, timeout: float | None = None) -> bool:
        """True once everything queued before this call is committed (or failed loudly)."""
        if self._closing:
            return True
        op = self._put(lambda tx: None, "flush", wait=True, standalone=False)
        assert op.done is not None
        return op.done.wait(timeout)

    def close(self, timeout: float) -> None:
        """Drain the queue, stop and close the connection, all within about ``timeout``: what
        cannot be written by then (the disk is full) is abandoned, loudly."""
        if self._thread is not None:
            deadline = time.monotonic() + timeout
            # most of the time to drain; the rest for the thread to report and stop
            if not self.flush(timeout * 0.8):
                logger.error("store: writer did not drain within %.0f s; giving up", timeout)
                self._abort.set()
            self._closing = True
            self._q.put(_STOP)
            self._thread.join(max(0.5, deadline - time.monotonic()))
            if self._thread.is_alive():
                # still inside one SQLite call; it holds the connection, so leave it open
                logger.error("store: writer still busy at close; not waiting for it")
                return
        self._closing = True
        try:
            self.conn.close()
        except Exception:
            pass

    # ---- the thread ------------------------------------------------------------------------
    def _refuse(self, label: str) -> None:
        self._refused += 1
        self._errors.inc()
        now = time.monotonic()
        # at most one line a minute: the refusals come at the rate sessions do
        if now - self._refused_logged >= 60.0:
            self._refused_logged = now
            logger.error(
                "store: %d writes are waiting for %s (%s); %s not stored (%d refused so far)",
                self._q.qsize(),
                self.name,
                self._last_error or "the writer is behind",
                label,
                self._refused,
            )

    def _put(self, fn: Callable[[Tx], Any], label: str, *, wait: bool, standalone: bool) -> _Op:
        if self._closing:
            raise StoreError(f"{self.name}: store is closed")
        op = _Op(fn, label, wait=wait, standalone=standalone)
        self._q.put(op)
        return op

    def _main(self) -> None:
        pending: list = []
        stopping = False
        while True:
            # checked on every turn, so a steady stream of items cannot starve the periodic job
            if not stopping and time.monotonic() >= self._next_periodic:
                self._run_periodic()
            if not pending:
                if stopping:
                    return
                wait = max(0.0, self._next_periodic - time.monotonic())
                try:
                    pending.append(self._q.get(timeout=None if wait == math.inf else wait))
                except queue.Empty:
                    continue
            self._take_queued(pending, MAX_BATCH)
            # Take the leading run of ordinary ops as one group; a standalone op or the stop
            # marker ends the run and is handled on its own, keeping queue order.
            group: list[_Op] = []
            while pending and pending[0] is not _STOP and not pending[0].standalone:
                group.append(pending.pop(0))
            if group:
                if not self._commit_group(group):
                    # aborted while retrying: report what is lost, loudly
                    self._take_queued(pending, math.inf)
                    self._abandon([op for op in group + pending if op is not _STOP])
                    return
                continue
            head = pending.pop(0)
            if head is _STOP:
                stopping = True
                continue
            self._run_standalone(head)

    def _take_queued(self, pending: list, limit: float) -> None:
        """Move queued items to ``pending`` (up to ``limit`` in all) without waiting."""
        while len(pending) < limit:
            try:
                pending.append(self._q.get_nowait())
            except queue.Empty:
                return

    def _commit_group(self, ops: list[_Op]) -> bool:
        conn = self.conn
        attempt = 0
        while True:
            tx = Tx(conn)
            for op in ops:
                op.error = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                for op in ops:
                    snap = dict(tx.counts)
                    conn.execute("SAVEPOINT op")
                    try:
                        op.result = op.fn(tx)
                        conn.execute("RELEASE op")
                    except Exception as exc:
                        if _transient(exc):
                            raise
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        tx.counts = snap
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
                self._errors.inc()
                if self._failing_since is None:
                    self._failing_since = time.time()
                self._last_error = f"{type(exc).__name__}: {exc}"
                delay = min(30.0, 0.25 * 2 ** min(attempt, 7))
                if attempt <= 3 or attempt % 20 == 0:
                    logger.error(
                        "store: cannot write to %s (%s: %s); %d item(s) kept queued, retry %d in "
                        "%.1f s",
                        self.name,
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
                    "store: writing to %s works again after %d retries", self.name, attempt
                )
            self._failing_since = None
            self._after_commit(tx)
            for op in ops:
                if op.error is not None:
                    self._errors.inc()
                    if op.done is None:
                        logger.error("store: %s could not be stored: %s", op.label, op.error)
                if op.done is not None:
                    op.done.set()
            return True

    def _run_standalone(self, op: _Op) -> None:
        try:
            op.result = op.fn(Tx(self.conn))
        except Exception as exc:
            op.error = exc
            self._errors.inc()
            logger.error("store: %s failed: %s", op.label, exc)
        if op.done is not None:
            op.done.set()

    def _run_periodic(self) -> None:
        job = self._periodic
        assert job is not None
        self._next_periodic = time.monotonic() + job.interval_s
        try:
            job.fn(self.conn)
        except Exception as exc:
            self._errors.inc()
            logger.error(
                "store: scheduled %s failed (next try in %.0f s): %s",
                job.label,
                job.interval_s,
                exc,
            )

    def _after_commit(self, tx: Tx) -> None:
        for fn in self._listeners:
            try:
                fn(tx)
            except Exception:
                # the data is committed; a broken listener must not stop the writer
                logger.exception("store: commit listener failed")

    def _abandon(self, ops: list[_Op]) -> None:
        events = [op.label for op in ops if op.label.startswith("session")]
        logger.error(
            "store: closing with %d write(s) not stored (%d session event(s)%s); open sessions "
            "are recovered from their last checkpoint on the next start",
            len(ops),
            len(events),
            f": {', '.join(events[:5])}{' …' if len(events) > 5 else ''}" if events else "",
        )
        for op in ops:
            op.error = StoreError(f"{self.name}: store closed before {op.label} was written")
            if op.done is not None:
                op.done.set()
