"""The production WSGI server: cheroot's thread pool, optional TLS with its builtin adapter.

Two things cheroot does not do are added here (hostile-input review):

- **Slow clients.** cheroot hands a connection to a worker thread before its request has
  arrived, and its 10 s timeout is per ``recv``: a client that trickles one header line every
  few seconds holds a worker for ever, and 16 of them (``[web] threads``) silenced the web UI
  and ``/healthz``. :class:`RequestGuard` gives every request a deadline for its request line
  and headers (:data:`HEADER_TIMEOUT_S`) and for its body (at least :data:`MIN_BODY_RATE`), and
  lets one client address have at most a quarter of the workers waiting on a slow request.
- **Bounded stop.** cheroot's ``stop()`` waits for a worker with no time limit once its grace
  time is over, and its workers keep the process alive at exit; :meth:`WebServer.stop` gives
  up after ``timeout`` and the workers are daemon threads, so a request that is still running
  (a picture being decoded) cannot turn a SIGTERM into a SIGKILL.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bottle
from cheroot import server as cheroot_server
from cheroot import wsgi

from affectra_edge.config import WebConfig
from affectra_edge.errors import AffectraError
from affectra_edge.webui.headers import SecurityHeaders
from affectra_edge.webui.policy import keep_bodies_in_memory
from affectra_edge.webui.users import UserStore

logger = logging.getLogger(__name__)


#: from the first byte a worker waits for to the end of the headers
HEADER_TIMEOUT_S = 10.0
#: bytes/s a request body must at least arrive at (a 5 MB upload: about 5 minutes)
MIN_BODY_RATE = 16 * 1024
#: a request still arriving after this long counts against its client's share
SLOW_AFTER_S = 1.0
#: how long :meth:`WebServer.stop` waits for requests that are still running
STOP_TIMEOUT_S = 3.0


class WebServerError(AffectraError):
    """The web server cannot start (port in use, unreadable certificate)."""


@dataclass
class _Arriving:
    """A request whose line, headers or body are still arriving (mutable: the reaper's).

    Only time spent waiting for the client counts: a request whose body is not read yet
    because the app is busy with it (a login waiting for its turn at the password hash) is
    not slow."""

    conn: Any
    client: str
    since: float
    #: seconds of waiting for the client it may take before it is closed
    budget: float
    #: the request, once its headers are in: its body is complete when ``rfile.remaining`` is 0
    req: Any = None
    #: body phase: seconds spent in finished reads, and when the read in progress began
    waited: float = 0.0
    blocked_since: float | None = None
    closed: bool = False

    def waiting(self, now: float) -> float:
        if self.req is None:
            return now - self.since  # a worker does nothing but read the headers
        return self.waited + (now - self.blocked_since if self.blocked_since is not None else 0.0)


class _TimedReader:
    """The connection's reader during a body read: the time spent blocked in it is the
    client's (see :class:`_Arriving`)."""

    def __init__(self, inner: Any, entry: _Arriving):
        self._inner = inner
        self._entry = entry

    def _timed(self, fn: Any, *args: Any) -> Any:
        e = self._entry
        e.blocked_since = time.monotonic()
        try:
            return fn(*args)
        finally:
            e.waited += time.monotonic() - e.blocked_since
            e.blocked_since = None

    def read(self, *args: Any) -> Any:
        return self._timed(self._inner.read, *args)

    def readline(self, *args: Any) -> Any:
        return self._timed(self._inner.readline, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RequestGuard:
    """Deadlines for requests that are still arriving, and a share of the workers per client.

    ``per_client``: how many requests one address may have arriving slowly (for more than
    ``slow_after_s``) at once; the newest beyond that are closed, and a new connection from
    an address at its share is closed before a worker waits on it. A browser's requests
    arrive in one packet, so its share stays free for its uploads."""

    def __init__(
        self,
        per_client: int,
        *,
        header_timeout_s: float = HEADER_TIMEOUT_S,
        min_body_rate: float = MIN_BODY_RATE,
        slow_after_s: float = SLOW_AFTER_S,
    ):
        self.per_client = max(1, per_client)
        self.header_timeout_s = header_timeout_s
        self.min_body_rate = min_body_rate
        self.slow_after_s = slow_after_s
        #: connections closed for being slow or over their share (for tests and the soak)
        self.closed_total = 0
        self._arriving: dict[int, _Arriving] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: dict[str, float] = {}

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="web-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    # ---- called by the workers (see _GuardedRequest) ---------------------------------------
    def begin(self, conn: Any) -> bool:
        """A worker is about to wait for a request on ``conn``; False: refuse it."""
        client = str(getattr(conn, "remote_addr", "") or "")
        now = time.monotonic()
        with self._lock:
            refuse = self._slow(client, now) >= self.per_client
            if not refuse:
                self._arriving[id(conn)] = _Arriving(conn, client, now, self.header_timeout_s)
        if refuse:
            self.closed_total += 1
            self._note(client, "at its share of slow requests")
        return not refuse

    def headers_done(self, conn: Any, req: Any) -> None:
        """The headers are in; the body (if any) gets a deadline by its length."""
        try:
            length = int(req.inheaders.get(b"Content-Length", 0))
        except (TypeError, ValueError):
            length = 0
        with self._lock:
            entry = self._arriving.get(id(conn))
            if entry is None:
                return
            if length <= 0 and not getattr(req, "chunked_read", False):
                del self._arriving[id(conn)]
                return
            entry.req = req
            entry.budget = self.header_timeout_s + length / self.min_body_rate

    def body_entry(self, conn: Any) -> _Arriving | None:
        """The entry of ``conn``'s request while its body is still to be read."""
        with self._lock:
            return self._arriving.get(id(conn))

    def end(self, conn: Any) -> None:
        with self._lock:
            self._arriving.pop(id(conn), None)

    # ---- the reaper ------------------------------------------------------------------------
    def _slow(self, client: str, now: float) -> int:
        return sum(
            1
            for e in self._arriving.values()
            if e.client == client and not e.closed and e.waiting(now) > self.slow_after_s
        )

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.reap(time.monotonic())

    def reap(self, now: float) -> int:
        """Close what is past its deadline or over its client's share; returns how many."""
        doomed: list[_Arriving] = []
        with self._lock:
            slow: dict[str, list[_Arriving]] = {}
            for key, e in list(self._arriving.items()):
                if e.req is not None and getattr(e.req.rfile, "remaining", None) == 0:
                    del self._arriving[key]  # the body is in: the request is being answered
                elif e.closed:
                    continue
                elif e.waiting(now) >= e.budget:
                    doomed.append(e)
                elif e.waiting(now) > self.slow_after_s:
                    slow.setdefault(e.client, []).append(e)
            for entries in slow.values():
                # the oldest keep their place; the newest beyond the share go
                entries.sort(key=lambda e: e.since)
                doomed.extend(entries[self.per_client :])
            for e in doomed:
                e.closed = True
        for e in doomed:
            self._note(e.client, "too slow")
            try:
                # the worker's blocked recv() returns at once and cheroot closes the connection
                e.conn.socket.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
        self.closed_total += len(doomed)
        return len(doomed)

    def _note(self, client: str, why: str) -> None:
        # one line per client and minute: an attack must not flood the journal as well
        now = time.monotonic()
        if now - self._warned.get(client, -math.inf) >= 60.0:
            if len(self._warned) > 1000:  # many addresses: forget, rather than grow
                self._warned.clear()
            self._warned[client] = now
            logger.warning("web: closing slow connection(s) from %s (%s)", client, why)


class _GuardedRequest(cheroot_server.HTTPRequest):
    """cheroot's request, with the server's :class:`RequestGuard` watching it arrive."""

    def parse_request(self) -> None:
        guard: RequestGuard = self.server.affectra_guard
        if not guard.begin(self.conn):
            self.ready = False
            self.close_connection = True
            return
        try:
            super().parse_request()
        finally:
            if self.ready:
                guard.headers_done(self.conn, self)
            else:
                guard.end(self.conn)

    def respond(self) -> None:
        guard: RequestGuard = self.server.affectra_guard
        entry = guard.body_entry(self.conn)
        conn_reader = self.conn.rfile
        if entry is not None:
            # cheroot's body reader reads through this: its blocked time is timed
            self.conn.rfile = _TimedReader(conn_reader, entry)
        try:
            super().respond()
        finally:
            self.conn.rfile = conn_reader
            guard.end(self.conn)


class _GuardedConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _GuardedRequest


class WebServer:
    """Serves ``app`` (from :func:`~affectra_edge.webui.webapp.create_app` with the same
    ``web_cfg``) behind the security headers; ``users`` is the store that app logs in against."""

    def __init__(self, app: bottle.Bottle, web_cfg: WebConfig, *, users: UserStore | None = None):
        self.app = app
        self.cfg = web_cfg
        self.users = users
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
        # a quarter of the workers per client: 40 slow clients from one address leave the
        # other three quarters to everybody else (and /healthz)
        self.guard = RequestGuard(max(1, web_cfg.threads // 4))
        self.port: int = web_cfg.port
        self.tls = bool(web_cfg.tls_cert)

    def start(self) -> None:
        cfg = self.cfg
        keep_bodies_in_memory(self.app)
        server = wsgi.Server(
            (cfg.host, cfg.port),
            SecurityHeaders(self.app, hsts=self.tls),
            numthreads=cfg.threads,
            server_name="affectra-edge",
            timeout=10,
            shutdown_timeout=2,
            # listen backlog: with cheroot's default of 5, a burst of dashboards opening
            # connections overflows it and the kernel drops SYNs (a 1 s retransmit each)
            request_queue_size=128,
        )
        # Headers are small; bodies are bounded by the app itself (it answers 413 with its
        # security headers). These are only the backstop for absurd requests.
        server.ConnectionClass = _GuardedConnection
        server.affectra_guard = self.guard  # type: ignore[attr-defined]
        server.max_request_header_size = 64 * 1024
        server.max_request_body_size = int((cfg.max_upload_mb + 2) * 1024 * 1024)
        if self.tls:
            from cheroot.ssl.builtin import BuiltinSSLAdapter

            for what, p in (("web.tls_cert", cfg.tls_cert), ("web.tls_key", cfg.tls_key)):
                if not Path(p).is_file():
                    raise WebServerError(f"{what}: {p}: file not found")
            try:
                server.ssl_adapter = BuiltinSSLAdapter(cfg.tls_cert, cfg.tls_key)
            except Exception as exc:  # ssl.SSLError, OSError: say which files
                raise WebServerError(
                    f"web.tls_cert/web.tls_key: cannot load {cfg.tls_cert} / {cfg.tls_key}: {exc}"
                ) from None
        try:
            _in_daemon_thread(server.prepare)
        except OSError as exc:
            raise WebServerError(
                f"web: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}"
            ) from None
        self.port = server.bind_addr[1]
        self._server = server
        self.guard.start()
        self._thread = threading.Thread(target=server.serve, name="web", daemon=True)
        self._thread.start()
        scheme = "https" if self.tls else "http"
        logger.info("web UI on %s://%s:%d/", scheme, cfg.host, self.port)

    @property
    def url(self) -> str:
        host = self.cfg.host if self.cfg.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop serving within about ``timeout`` seconds: requests still running then (a
        picture being decoded) are left to die with the process."""
        # Closes the app's plugins: long-lived streams (MJPEG, SSE) end within a second.
        self.app.close()
        server, self._server = self._server, None
        if server is not None:
            # cheroot waits shutdown_timeout for the busy workers, then without a limit
            server.shutdown_timeout = min(server.shutdown_timeout, timeout / 2)
            stopper = threading.Thread(target=server.stop, name="web-stop", daemon=True)
            stopper.start()
            stopper.join(timeout)
            if stopper.is_alive():
                logger.warning(
                    "web: requests still running after %.0f s; stopping without them", timeout
                )
        self.guard.stop()
        if self._thread is not None:
            self._thread.join(min(timeout, 5))
            self._thread = None


def _in_daemon_thread(fn: Any) -> None:
    """Run ``fn`` on a daemon thread and wait for it, raising what it raised: cheroot's
    worker threads are started by ``prepare()`` and inherit its thread's daemon flag, so a
    worker stuck in a request cannot keep the process alive at exit."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    t = threading.Thread(target=run, name="web-prepare", daemon=True)
    t.start()
    t.join()
    if errors:
        raise errors[0]
