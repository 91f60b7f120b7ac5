"""The security headers, as WSGI middleware around the Bottle app: every response gets them,
errors, static files and Bottle's own last-resort error page included."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SecurityHeaders:
    """Ours replace any the app set; ``Cache-Control: no-store`` unless the app chose one
    (static files do); HSTS only when served over TLS."""

    def __init__(self, app: WsgiApp, *, hsts: bool):
        self.app = app
        self.headers = [*HEADERS, HSTS] if hsts else list(HEADERS)
        self._names = {k.lower() for k, _ in self.headers}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            headers = [(k, v) for k, v in headers if k.lower() not in self._names]
            if not any(k.lower() == "cache-control" for k, _ in headers):
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers + self.headers, exc_info)

        return self.app(environ, start)
