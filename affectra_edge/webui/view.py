"""Server-rendered pages: the templates, what every page shows, and the clean error pages."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import bottle

from affectra_edge import __version__
from affectra_edge.config import DeviceConfig
from affectra_edge.types import parse_iso_utc
from affectra_edge.webui.policy import wants_json

logger = logging.getLogger(__name__)

#: ``?msg=`` after a redirect → the message shown on the page
MESSAGES = {
    "saved": "Settings saved.",
    "switched": "Camera switched.",
    "cleared": "All visitor data was deleted.",
    "loggedout": "You are logged out.",
    "expired": "Your session expired; please log in again.",
}
ERRORS = {
    400: "Bad request",
    401: "Please log in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    411: "Length required",
    413: "Request too large",
    429: "Too many attempts",
}


def assets_dir() -> Path:
    """``web/`` (templates and static files), wherever the package is installed."""
    return Path(str(resources.files("affectra_edge.web_assets")))


def local_time(iso: str) -> str:
    """ISO-8601 UTC → the device's local wall-clock time (the gallery's)."""
    try:
        return time.strftime("%H:%M:%S", time.localtime(parse_iso_utc(iso)))
    except (ValueError, TypeError):
        return "—"


class View:
    def __init__(self, device: Callable[[], DeviceConfig]):
        self.device = device
        root = assets_dir()
        self.static_root = str(root / "static")
        self.template_root = str(root / "templates")
        self._templates: dict[str, bottle.SimpleTemplate] = {}

    def render(self, name: str, **kw: Any) -> str:
        tpl = self._templates.get(name)
        if tpl is None:
            tpl = bottle.SimpleTemplate(name=name, lookup=[self.template_root])
            self._templates[name] = tpl
        theme = bottle.request.cookies.get("theme", "")
        base = {
            "theme": theme if theme in ("light", "dark") else "",
            "device": self.device(),
            "version": __version__,
            "session": None,
            "active": "",
            "msg": MESSAGES.get(bottle.request.query.get("msg", ""), ""),
            "local_time": local_time,
            "error": "",
        }
        base.update(kw)
        return tpl.render(**base)

    def error(self, res: bottle.HTTPError) -> str:
        """Clean errors: JSON for the API, a small page otherwise; never a stack trace."""
        if res.status_code >= 500 and res.exception is not None:
            logger.error(
                "error on %s %s: %r", bottle.request.method, bottle.request.path, res.exception
            )
        message = res.body if isinstance(res.body, str) and res.status_code != 500 else None
        message = message or ERRORS.get(res.status_code, "Internal server error")
        if wants_json():
            res.content_type = "application/json"
            bottle.response.content_type = "application/json"
            return json.dumps({"error": message, "status": res.status_code})
        bottle.response.content_type = "text/html; charset=utf-8"
        try:
            return self.render(
                "error.tpl",
                title=f"{res.status_code}",
                status=res.status_code,
                message=message,
                session=None,
            )
        except Exception:  # the error page itself must never fail
            logger.exception("error page failed")
            return f"<!doctype html><title>{res.status_code}</title><p>{bottle.html_escape(message)}</p>"
