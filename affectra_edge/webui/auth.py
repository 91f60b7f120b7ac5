"""Login sessions (in memory, expiring) and the per-client login throttle.

Sessions live only in the daemon's memory: a restart logs everybody out, which is the safe
failure for a box on a shared gallery network. Each session carries its own CSRF token
(synchronizer-token pattern).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_SESSIONS = 1000


@dataclass(frozen=True)
class LoginSession:
    token: str
    user: str
    role: str
    csrf: str
    created: float
    expires: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SessionTable:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = float(ttl_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, LoginSession] = OrderedDict()

    def create(self, user: str, role: str) -> LoginSession:
        now = self._clock()
        s = LoginSession(
            token=secrets.token_urlsafe(32),
            user=user,
            role=role,
            csrf=secrets.token_urlsafe(32),
            created=now,
            expires=now + self.ttl_s,
        )
        with self._lock:
            self._sessions[s.token] = s
            # Bounded: the oldest logins go first when somebody opens sessions in a loop.
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return s

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


class LoginThrottle:
    """Per client address: ``free`` failures, then an exponentially growing lockout.

    After the 5th failure the client waits ``base_s`` seconds, after the 6th twice that, and so
    on up to ``max_s``. A success clears the record; idle records are forgotten after an hour.
    """

    def __init__(
        self,
        free: int = 5,
        base_s: float = 1.0,
        max_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.free, self.base_s, self.max_s = free, base_s, max_s
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, _Attempts] = {}

    def retry_after(self, client: str) -> float:
        """Seconds this client must wait before trying again (0 = may try now)."""
        now = self._clock()
        with self._lock:
            a = self._clients.get(client)
            return max(0.0, a.locked_until - now) if a else 0.0

    def failure(self, client: str) -> float:
        now = self._clock()
        with self._lock:
            self._gc(now)
            a = self._clients.setdefault(client, _Attempts())
            a.failures += 1
            a.last = now
            if a.failures >= self.free:
                delay = min(self.max_s, self.base_s * 2 ** (a.failures - self.free))
                a.locked_until = now + delay
            return max(0.0, a.locked_until - now)

    def success(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def _gc(self, now: float) -> None:
        if len(self._clients) < 256:
            return
        for k in [k for k, a in self._clients.items() if now - a.last > 3600]:
            del self._clients[k]
