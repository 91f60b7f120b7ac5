"""The web application: pages, JSON API, live stream and server-sent events, as a plain
``bottle.Bottle`` built from explicit dependencies (:class:`~affectra_edge.webui.deps.WebDeps`).

Security model, in one place:

- every route needs a login unless it is registered with ``public=True`` (only ``/healthz``,
  ``/login`` and the static assets are), and a login ends as soon as its user is deleted or
  their role or password changes; ``role="admin"`` routes refuse viewers; every
  state-changing request carries the session's CSRF token and comes from this site — all
  enforced by :class:`~affectra_edge.webui.policy.RoutePolicy` from the route's options;
- request bodies are bounded (``max_body=``) before they are read, and never spooled to disk;
- :class:`~affectra_edge.webui.headers.SecurityHeaders` (applied by the server) puts the
  security headers on every response, errors and static files included; error bodies never
  contain stack traces.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import bottle

from affectra_edge.config import WebConfig
from affectra_edge.metrics import Registry
from affectra_edge.secrets import read_secret
from affectra_edge.webui import (
    routes_api,
    routes_fleet,
    routes_login,
    routes_pages,
    routes_streams,
)
from affectra_edge.webui.actions import Uploads
from affectra_edge.webui.auth import LoginSession, SessionTable
from affectra_edge.webui.deps import WebDeps
from affectra_edge.webui.policy import RoutePolicy, limit_bodies
from affectra_edge.webui.users import UserStore
from affectra_edge.webui.view import View


def create_app(deps: WebDeps, users: UserStore | None, cfg: WebConfig) -> bottle.Bottle:
    """The web application (an explicit Bottle instance, never the default one); serve it
    with :class:`~affectra_edge.webui.server.WebServer` and the same ``cfg``."""
    app = bottle.Bottle()
    # A login lasts while its user's record is unchanged: re-checked on every request, since
    # ``set-password`` (another process) may delete or demote the user at any time.
    sessions = SessionTable(
        cfg.session_ttl_s,
        still_valid=None if users is None else _same_record(users),
    )
    # Prometheus cannot log in through a form: /metrics also takes a bearer token, read
    # from the systemd credential "metrics-token" or [web] metrics_token_file.
    policy = RoutePolicy(sessions, read_secret("metrics-token", cfg.metrics_token_file) or None)
    app.install(policy)
    # first, so that a request refused by the next hook is timed too
    time_requests(app, deps.registry)
    app.add_hook("before_request", limit_bodies(app))
    view = View(
        lambda: deps.settings.device,
        language=cfg.language,
        current_session=policy.current_session,
    )
    # Bottle looks the handler up on the instance: one for every status code.
    app.default_error_handler = view.error
    routes_login.register(app, users=users, sessions=sessions, view=view, tls=bool(cfg.tls_cert))
    uploads = Uploads(cfg.max_upload_mb)
    routes_pages.register(app, deps, view, uploads=uploads)
    routes_api.register(app, deps, uploads=uploads)
    routes_streams.register(app, deps, sessions, threads=cfg.threads)
    routes_fleet.register(app, deps.fleet, view, own_prefix=deps.topic_prefix)
    return app


def time_requests(app: bottle.Bottle, registry: Registry) -> None:
    """``affectra_http_request_duration_seconds{route, method, status}``: until the handler
    returns (for the MJPEG and event streams that is the time to their first byte)."""
    seconds = registry.histogram(
        "http_request_duration_seconds",
        "web request handling time",
        labels=("route", "method", "status"),
    )

    def start() -> None:
        bottle.request.environ["affectra.t0"] = time.perf_counter()

    def stop() -> None:
        env = bottle.request.environ
        t0 = env.get("affectra.t0")
        if t0 is None:
            return
        # The route's rule, never the path: one series per route, whatever clients ask for.
        route = env.get("bottle.route")
        seconds.observe(
            time.perf_counter() - t0,
            route=route.rule if route is not None else "(no route)",
            method=bottle.request.method,
            status=str(bottle.response.status_code),
        )

    app.add_hook("before_request", start)
    app.add_hook("after_request", stop)


def _same_record(users: UserStore) -> Callable[[LoginSession], bool]:
    """Is the session's user still in the users file, exactly as at login?"""
    return lambda s: users.stamp(s.user) == s.stamp


__all__ = ["WebDeps", "create_app"]
