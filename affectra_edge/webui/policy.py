"""Who may call a route and with what, declared on the route itself (Bottle route options):

- every route needs a login unless it says ``public=True``; ``role="admin"`` refuses viewers;
- ``page=True``: an HTML page, so an anonymous browser is sent to the login form (and only
  pages are allowed as the ``next`` place after login);
- every state-changing request must come from this site and carry the session's CSRF token
  (``X-CSRF-Token`` or the ``csrf_token`` form field), unless the route says ``csrf=False``;
- ``bearer=True``: the metrics token in ``Authorization: Bearer`` is accepted instead of a login;
- ``max_body=N``: the largest request body the route takes (default :data:`SMALL_BODY`),
  checked before anything reads it; chunked bodies are refused everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import bottle

from affectra_edge.webui.auth import LoginSession, SessionTable, csrf_ok, tokens_match

SESSION_COOKIE = "affectra_session"
SMALL_BODY = 64 * 1024
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class RoutePolicy:
    """The Bottle plugin that enforces the options above; handlers get ``session=``."""

    name = "affectra_policy"
    api = 2

    def __init__(self, sessions: SessionTable, metrics_token: str | None):
        self.sessions = sessions
        self.metrics_token = metrics_token

    def current_session(self) -> LoginSession | None:
        return self.sessions.get(bottle.request.get_cookie(SESSION_COOKIE))

    def bearer_ok(self) -> bool:
        scheme, _, token = bottle.request.get_header("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and tokens_match(self.metrics_token, token.strip())

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        opts = route.config
        public = bool(opts.get("public", False))
        admin_only = opts.get("role", "viewer") == "admin"
        check_csrf = opts.get("csrf", True)
        bearer = bool(opts.get("bearer", False))
        page = bool(opts.get("page", False))

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            req = bottle.request
            unsafe = req.method not in _SAFE_METHODS
            if unsafe and not same_origin():
                raise bottle.HTTPError(403, "Cross-origin request refused")
            if public:
                return callback(*args, **kwargs)
            session = self.current_session()
            if session is None and bearer and self.bearer_ok():
                return callback(*args, session=None, **kwargs)
            if session is None:
                if page and req.method == "GET" and not wants_json():
                    return bottle.redirect(f"/login?next={quote(req.fullpath, safe='/')}", 303)
                raise bottle.HTTPError(
                    401, "Login required", **{"WWW-Authenticate": 'Cookie realm="affectra-edge"'}
                )
            if unsafe and check_csrf and not csrf_ok(session, _supplied_csrf()):
                raise bottle.HTTPError(403, "CSRF token missing or invalid")
            if admin_only and not session.is_admin:
                raise bottle.HTTPError(403, "Administrators only")
            return callback(*args, session=session, **kwargs)

        return wrapper


def _supplied_csrf() -> str | None:
    req = bottle.request
    supplied = req.get_header("X-CSRF-Token")
    if supplied is None:
        try:
            supplied = req.forms.get("csrf_token")
        except Exception:  # a malformed form body: no token
            supplied = None
    return supplied


def limit_bodies(app: bottle.Bottle) -> Callable[[], None]:
    """A ``before_request`` hook: bodies are bounded before routing reads them, so the limit
    applies (413) even where the route would refuse the request for another reason."""

    def hook() -> None:
        req = bottle.request
        if req.method in _SAFE_METHODS:
            return
        if "chunked" in req.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # The body stays unread: close the connection so it is not taken for a request.
            raise bottle.HTTPError(
                411, "Send a Content-Length; chunked uploads are not accepted", Connection="close"
            )
        try:
            route, _ = app.router.match(req.environ)
            limit = int(route.config.get("max_body", SMALL_BODY))
        except bottle.HTTPError:  # no such route or method: answered after this hook
            limit = SMALL_BODY
        try:
            length = int(req.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise bottle.HTTPError(400, "Invalid Content-Length") from None
        if length > limit:
            mb = limit / 1024 / 1024
            raise bottle.HTTPError(
                413, f"Request body too large (limit {mb:.1f} MB)", Connection="close"
            )

    return hook


def keep_bodies_in_memory(app: bottle.Bottle) -> None:
    """Bottle spools bodies above ``MEMFILE_MAX`` to a temporary file, and reads that limit
    from its request class (process-wide): raise it above every ``max_body`` of ``app`` so no
    upload ever touches the disk."""
    largest = max((int(r.config.get("max_body", SMALL_BODY)) for r in app.routes), default=0)
    bottle.BaseRequest.MEMFILE_MAX = max(bottle.BaseRequest.MEMFILE_MAX, largest)


def page_paths(app: bottle.Bottle) -> frozenset[str]:
    return frozenset(r.rule for r in app.routes if r.config.get("page"))


def same_origin() -> bool:
    """If the browser says where the request comes from, it must be this very host."""
    # Browsers that support Fetch Metadata say it directly.
    site = bottle.request.get_header("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = bottle.request.get_header("Origin")
    # "null": what Chromium sends for form posts under Referrer-Policy: no-referrer
    if not origin or origin == "null":
        return True
    host = bottle.request.get_header("Host", "")
    try:
        return urlsplit(origin).netloc == host
    except ValueError:
        return False


def wants_json() -> bool:
    p = bottle.request.path
    return p.startswith("/api/") or "application/json" in bottle.request.get_header("Accept", "")


def safe_next(value: str | None, pages: frozenset[str]) -> str:
    """A local page to go to after login (never another site: ``//evil`` or ``http:``)."""
    if not value or not isinstance(value, str) or len(value) > 200:
        return "/"
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if value.split("?")[0] not in pages:
        return "/"
    return value
