"""The production WSGI server: cheroot's thread pool, optional TLS with its builtin adapter."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import bottle
from cheroot import wsgi

from affectra_edge.config import WebConfig
from affectra_edge.errors import AffectraError
from affectra_edge.webui.headers import SecurityHeaders
from affectra_edge.webui.policy import keep_bodies_in_memory
from affectra_edge.webui.users import UserStore

logger = logging.getLogger(__name__)


class WebServerError(AffectraError):
    """The web server cannot start (port in use, unreadable certificate)."""


class WebServer:
    """Serves ``app`` (from :func:`~affectra_edge.webui.webapp.create_app` with the same
    ``web_cfg``) behind the security headers; ``users`` is the store that app logs in against."""

    def __init__(self, app: bottle.Bottle, web_cfg: WebConfig, *, users: UserStore | None = None):
        self.app = app
        self.cfg = web_cfg
        self.users = users
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
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
            server.prepare()
        except OSError as exc:
            raise WebServerError(
                f"web: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}"
            ) from None
        self.port = server.bind_addr[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="web", daemon=True)
        self._thread.start()
        scheme = "https" if self.tls else "http"
        logger.info("web UI on %s://%s:%d/", scheme, cfg.host, self.port)

    @property
    def url(self) -> str:
        host = self.cfg.host if self.cfg.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def stop(self) -> None:
        # Closes the app's plugins: long-lived streams (MJPEG, SSE) end within a second.
        self.app.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
