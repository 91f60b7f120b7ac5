"""The production WSGI server: cheroot's thread pool, optional TLS with its builtin adapter."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from cheroot import wsgi

from affectra_edge.config import WebConfig
from affectra_edge.errors import AffectraError

logger = logging.getLogger(__name__)


class WebServerError(AffectraError):
    """The web server cannot start (port in use, unreadable certificate)."""


class WebServer:
    def __init__(self, app, web_cfg: WebConfig):
        self.app = app
        self.cfg = web_cfg
        self.users = getattr(app, "users", None)
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int = web_cfg.port
        self.tls = bool(web_cfg.tls_cert)

    def start(self) -> None:
        cfg = self.cfg
        server = wsgi.Server(
            (cfg.host, cfg.port),
            self.app,
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
        # Long-lived streams (MJPEG, SSE) watch this flag and end within a second.
        stopping = getattr(self.app, "stopping", None)
        if stopping is not None:
            stopping.set()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
