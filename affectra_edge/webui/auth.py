"""Login sessions (in memory, expiring) and the per-client login throttle.

Sessions live only in the daemon's memory: a restart logs everybody out, which is the safe
failure for a box on a shared gallery network. Each session carries its own CSRF token
(synchronizer-token pattern) and a stamp of its user's record in the users file: a session
whose user was deleted or changed since the login ends at its next request.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: all logins together (a memory bound); when full, a new login is refused, never another
#: user's session dropped
MAX_SESSIONS = 1000
#: logins of one user; their oldest goes first when they open one more
MAX_SESSIONS_PER_USER = 64


class SessionsFull(Exception):
    """Every slot of the table holds a live session of somebody else."""


@dataclass(frozen=True)
class LoginSession:
    token: str
    user: str
    role: str
    csrf: str
    created: float
    expires: float
    #: the user's record at login (:meth:`~affectra_edge.webui.users.UserStore.stamp`)
    stamp: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SessionTable:
    """Logins by token. ``still_valid`` (when given) is asked on every :meth:`get`: a session it
    refuses (its user was deleted, or their role or password changed) is ended there."""

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        still_valid: Callable[[LoginSession], bool] | None = None,
        max_sessions: int | None = None,
        per_user: int | None = None,
    ):
        self.ttl_s = float(ttl_s)
        self._clock = clock
        self._still_valid = still_valid
        self.max_sessions = MAX_SESSIONS if max_sessions is None else max_sessions
        self.per_user = max(1, MAX_SESSIONS_PER_USER if per_user is None else per_user)
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, LoginSession] = OrderedDict()

    def create(self, user: str, role: str, stamp: str = "") -> LoginSession:
        """A new session for ``user``; :class:`SessionsFull` when the table is full of others'."""
        now = self._clock()
        s = LoginSession(
            token=secrets.token_urlsafe(32),
            user=user,
            role=role,
            csrf=secrets.token_urlsafe(32),
            created=now,
            expires=now + self.ttl_s,
            stamp=stamp,
        )
        with self._lock:
            # Bounded per user: somebody who logs in in a loop only ends their own oldest logins.
            own = [t for t, old in self._sessions.items() if old.user == user]
            for t in own[: max(0, len(own) - self.per_user + 1)]:
                del self._sessions[t]
            if len(self._sessions) >= self.max_sessions:
                self._purge(now)
            if len(self._sessions) >= self.max_sessions:
                raise SessionsFull(f"{len(self._sessions)} sessions open")
            self._sessions[s.token] = s
        return s

    def _purge(self, now: float) -> None:
        """Drop expired sessions and those ``still_valid`` refuses (the lock is held)."""
        for t, s in list(self._sessions.items()):
            if s.expires <= now or (self._still_valid is not None and not self._still_valid(s)):
                del self._sessions[t]

    def get(self, token: str | None) -> LoginSession | None:
        if not token or len(token) > 100:
            return None
        now = self._clock()
        with self._lock:
            s = self._sessions.get(token)
            if s is None:
                return None
            if s.expires <= now:
                del self._sessions[token]
                return None
        if self._still_valid is not None and not self._still_valid(s):
            self.drop(token)
            logger.info("web session of %s ended: the user was deleted or changed", s.user)
            return None
        return s

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


def tokens_match(expected: str | None, supplied: str | None) -> bool:
    """Both given and equal, compared in constant time (CSRF tokens, the metrics token)."""
    return (
        bool(expected)
        and bool(supplied)
        and hmac.compare_digest(str(expected).encode(), str(supplied).encode())
    )


def csrf_ok(session: LoginSession, supplied: str | None) -> bool:
    return tokens_match(session.csrf, supplied)


@dataclass
class _Attempts:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0
    #: attempts reserved by :meth:`LoginThrottle.begin` whose password is being checked
    checking: int = 0


class LoginThrottle:
    """Per client address: ``free`` failures, then an exponentially growing lockout.

    After the 5th failure the client waits ``base_s`` seconds, after the 6th twice that, and so
    on up to ``max_s``. A success clears the record; idle records are forgotten after an hour.

    An attempt is reserved (:meth:`begin`) before its password is checked and settled
    (:meth:`end`) after, and attempts being checked count against the failures still free: so
    parallel attempts from one client check at most as many passwords as sequential ones
    would. The surplus waits for those in flight instead of being refused, so that many
    right passwords at once (a room of dashboards logging in) all get in.
    """

    def __init__(
        self,
        free: int = 5,
        base_s: float = 1.0,
        max_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_wait_s: float = 60.0,
    ):
        self.free, self.base_s, self.max_s = free, base_s, max_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._cond = threading.Condition()
        self._clients: dict[str, _Attempts] = {}

    def begin(self, client: str) -> float:
        """Reserve an attempt: 0 = check the password now, then call :meth:`end` (always);
        otherwise the seconds this client must wait (nothing is reserved)."""
        deadline = time.monotonic() + self.max_wait_s
        with self._cond:
            while True:
                now = self._clock()
                self._gc(now)
                a = self._clients.setdefault(client, _Attempts())
                a.last = now
                if a.locked_until > now:
                    return a.locked_until - now
                # how many more failures this client may have before the next lockout
                allowed = max(1, self.free - a.failures)
                if a.checking < allowed:
                    a.checking += 1
                    return 0.0
                left = deadline - time.monotonic()
                if left <= 0:
                    return self.base_s
                self._cond.wait(min(left, 1.0))

    def end(self, client: str, ok: bool | None) -> float:
        """Settle an attempt :meth:`begin` reserved: ``ok`` True (right password, clears the
        record), False (a failure; returns the lockout it starts, 0 for none) or None (no
        password was checked: the reservation is given back)."""
        now = self._clock()
        with self._cond:
            a = self._clients.setdefault(client, _Attempts())
            a.checking = max(0, a.checking - 1)
            a.last = now
            if ok:
                a.failures, a.locked_until = 0, 0.0
            elif ok is not None:
                a.failures += 1
                if a.failures >= self.free:
                    delay = min(self.max_s, self.base_s * 2 ** (a.failures - self.free))
                    a.locked_until = now + delay
            if a.failures == 0 and a.checking == 0:
                del self._clients[client]
            self._cond.notify_all()
            return max(0.0, a.locked_until - now)

    def _gc(self, now: float) -> None:
        if len(self._clients) < 256:
            return
        for k, a in list(self._clients.items()):
            if a.checking == 0 and now - a.last > 3600:
                del self._clients[k]
