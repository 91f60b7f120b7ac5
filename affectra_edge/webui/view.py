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
from affectra_edge.webui.auth import LoginSession
from affectra_edge.webui.i18n import N_, Locale, get_locale, negotiate
from affectra_edge.webui.policy import wants_json

logger = logging.getLogger(__name__)

#: ``?msg=`` after a redirect → the message shown on the page
MESSAGES = {
    "saved": N_("Settings saved."),
    "switched": N_("Camera switched."),
    "cleared": N_("All visitor data was deleted."),
    "loggedout": N_("You are logged out."),
    "expired": N_("Your session expired; please log in again."),
}
ERRORS = {
    400: N_("Bad request"),
    401: N_("Please log in"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    411: N_("Length required"),
    413: N_("Request too large"),
    429: N_("Too many attempts"),
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
    def __init__(
        self,
        device: Callable[[], DeviceConfig],
        *,
        language: str = "auto",
        current_session: Callable[[], LoginSession | None] = lambda: None,
    ):
        self.device = device
        self.language = language
        #: the error pages' way to know a logged-in user (no route ran to tell them)
        self.current_session = current_session
        root = assets_dir()
        self.static_root = str(root / "static")
        self.template_root = str(root / "templates")
        self._templates: dict[str, bottle.SimpleTemplate] = {}

    def locale(self) -> Locale:
        """This request's language: ``[web] language``, else the browser's choice."""
        lang = negotiate(bottle.request.get_header("Accept-Language"), self.language)
        bottle.response.set_header("Content-Language", lang)
        if self.language == "auto":
            bottle.response.add_header("Vary", "Accept-Language")
        return get_locale(lang)

    def render(self, name: str, **kw: Any) -> str:
        tpl = self._templates.get(name)
        if tpl is None:
            tpl = bottle.SimpleTemplate(name=name, lookup=[self.template_root])
            self._templates[name] = tpl
        theme = bottle.request.cookies.get("theme", "")
        loc = kw.pop("loc", None) or self.locale()
        for key in ("title", "error"):  # routes pass English (marked with N_)
            if kw.get(key):
                kw[key] = loc.gettext(str(kw[key]))
        msg = MESSAGES.get(bottle.request.query.get("msg", ""), "")
        base = {
            "theme": theme if theme in ("light", "dark") else "",
            "device": self.device(),
            "version": __version__,
            "session": None,
            "active": "",
            "msg": loc.gettext(msg) if msg else "",
            "local_time": local_time,
            "error": "",
            "loc": loc,
            "_": loc.gettext,
            "esc": bottle.html_escape,
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
        if message and message.startswith(("Not found: '", "Method not allowed.")):
            message = None  # Bottle's router's words (with the path): ours, translated
        message = message or ERRORS.get(res.status_code, N_("Internal server error"))
        json_wanted = wants_json()
        req = bottle.request
        session = None if json_wanted else self.current_session()
        if (
            res.status_code == 404
            and session is None
            and not json_wanted
            and req.method == "GET"
            and not req.path.startswith("/static/")
        ):
            # an anonymous browser learns nothing about what exists: to the login form
            bottle.response.status = 303
            bottle.response.set_header("Location", "/login")
            return ""
        if json_wanted:
            res.content_type = "application/json"
            bottle.response.content_type = "application/json"
            return json.dumps({"error": message, "status": res.status_code})
        bottle.response.content_type = "text/html; charset=utf-8"
        try:
            loc = self.locale()
            return self.render(
                "error.tpl",
                title=f"{res.status_code}",
                status=res.status_code,
                message=loc.gettext(message),
                session=session,
                loc=loc,
            )
        except Exception:  # the error page itself must never fail
            logger.exception("error page failed")
            return f"<!doctype html><title>{res.status_code}</title><p>{bottle.html_escape(message)}</p>"
