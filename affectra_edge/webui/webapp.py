"""The Bottle application: pages, JSON API, live stream, server-sent events.

Security model, in one place:

- every route needs a login unless it is registered with ``public=True`` (only ``/healthz``,
  ``/login`` and the static assets are); ``role="admin"`` routes refuse viewers;
- every state-changing request carries the session's CSRF token (``X-CSRF-Token`` header or
  ``csrf_token`` form field) and, when the browser sends ``Origin``, it must be this host;
- :meth:`WebApp.wsgi` puts the security headers on every response, including errors and
  static files; error bodies never contain stack traces;
- request bodies are bounded before they are read (and never spooled to disk, because
  ``MEMFILE_MAX`` is above every limit we accept).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import bottle

from affectra_edge import __version__
from affectra_edge.config import CameraConfig, Config, ConfigError, WebConfig, build_section
from affectra_edge.secrets import read_secret
from affectra_edge.types import EMOTIONS, iso_utc, parse_iso_utc
from affectra_edge.webui import charts, render
from affectra_edge.webui.auth import LoginSession, LoginThrottle, SessionTable, csrf_ok
from affectra_edge.webui.users import MAX_PASSWORD, UserStore
from affectra_edge.webui.validate import (
    InvalidInput,
    as_choice,
    as_float,
    as_int,
    as_text,
    as_time,
    camera_url,
    decode_image,
)

logger = logging.getLogger(__name__)

SESSION_COOKIE = "affectra_session"
LOGIN_COOKIE = "affectra_login"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SMALL_BODY = 64 * 1024
CONFIRM_WORD = "DELETE"
CAMERA_TYPES: tuple[str, ...] = ("demo", "file", "usb", "picamera", "esp32")
MESSAGES = {
    "saved": "Settings saved.",
    "switched": "Camera switched.",
    "cleared": "All visitor data was deleted.",
    "loggedout": "You are logged out.",
    "expired": "Your session expired; please log in again.",
}
STREAM_MAX_S = 300.0  # SSE/MJPEG responses end after this; browsers reconnect by themselves


class ApplianceLike(Protocol):
    """What the web UI needs from :class:`affectra_edge.app.Appliance` (duck-typed)."""

    config: Config
    store: Any
    registry: Any
    live: Any
    capture: Any

    def stats(self) -> dict[str, Any]: ...
    def summary(self) -> dict[str, Any]: ...
    def apply_settings(self, settings: dict[str, Any]) -> None: ...
    def analyze_image(self, image: Any) -> list: ...
    def mqtt_status(self) -> dict[str, Any]: ...


def assets_dir() -> Path:
    """``web/`` (templates and static files), wherever the package is installed."""
    return Path(str(resources.files("affectra_edge.web_assets")))


def _tz_offset(now: float) -> int:
    return int(time.localtime(now).tm_gmtoff or 0)


class WebApp(bottle.Bottle):
    def __init__(
        self, appliance: ApplianceLike, users: UserStore | None, web_cfg: WebConfig | None = None
    ):
        super().__init__(catchall=True)
        self.appliance = appliance
        self.users = users
        cfg = web_cfg or appliance.config.web
        self.web_cfg = cfg
        self.tls = bool(cfg.tls_cert)
        self.sessions = SessionTable(cfg.session_ttl_s)
        # Prometheus cannot log in through a form: /metrics also takes a bearer token, read
        # from the systemd credential "metrics-token" or [web] metrics_token_file.
        self.metrics_token = read_secret("metrics-token", cfg.metrics_token_file) or None
        self.throttle = LoginThrottle()
        self.stopping = threading.Event()
        self.max_upload = int(cfg.max_upload_mb * 1024 * 1024)
        # Above every body we accept, so bottle never spools a body to a temporary file.
        bottle.BaseRequest.MEMFILE_MAX = max(
            bottle.BaseRequest.MEMFILE_MAX, self.max_upload + SMALL_BODY
        )
        # Long-lived streams may hold at most this many of the server's worker threads.
        self.streams = threading.BoundedSemaphore(max(1, cfg.threads // 2))
        self._kdf = threading.BoundedSemaphore(2)  # scrypt needs 16 MiB each: cap parallel logins
        # Bottle instances refuse re-assigned attributes: mutable state lives in ``rt``.
        self.rt = _Runtime(privacy=cfg.privacy)
        if appliance.store is not None:
            stored = self._store_get("privacy")
            if stored in render.PRIVACY_MODES:
                self.rt.privacy = stored
        root = assets_dir()
        self.static_root = str(root / "static")
        self.template_root = str(root / "templates")
        self._templates: dict[str, bottle.SimpleTemplate] = {}
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.install(_AuthPlugin(self))
        self.add_hook("before_request", self._limit_body)
        self._routes()

    # ---- WSGI: security headers on every response ------------------------------------------
    def security_headers(self) -> list[tuple[str, str]]:
        h = [
            ("Content-Security-Policy", CSP),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
        ]
        if self.tls:
            h.append(("Strict-Transport-Security", "max-age=31536000"))
        return h

    def wsgi(self, environ, start_response):
        ours = self.security_headers()
        names = {k.lower() for k, _ in ours}

        def _start(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() not in names]
            if not any(k.lower() == "cache-control" for k, _ in headers):
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers + ours, exc_info)

        return super().wsgi(environ, _start)

    def default_error_handler(self, res: bottle.HTTPError) -> str:
        """Clean errors: JSON for the API, a small page otherwise; never a stack trace."""
        if res.status_code >= 500 and res.exception is not None:
            logger.error(
                "error on %s %s: %r", bottle.request.method, bottle.request.path, res.exception
            )
        message = res.body if isinstance(res.body, str) and res.status_code != 500 else None
        message = message or {
            400: "Bad request",
            401: "Please log in",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
            411: "Length required",
            413: "Request too large",
            429: "Too many attempts",
        }.get(res.status_code, "Internal server error")
        if _wants_json():
            res.content_type = "application/json"
            bottle.response.content_type = "application/json"
            return json.dumps({"error": message, "status": res.status_code})
        bottle.response.content_type = "text/html; charset=utf-8"
        try:
            return self.page(
                "error.tpl",
                title=f"{res.status_code}",
                status=res.status_code,
                message=message,
                session=None,
            )
        except Exception:  # the error page itself must never fail
            logger.exception("error page failed")
            return f"<!doctype html><title>{res.status_code}</title><p>{bottle.html_escape(message)}</p>"

    # ---- helpers ---------------------------------------------------------------------------
    def page(self, name: str, **kw) -> str:
        tpl = self._templates.get(name)
        if tpl is None:
            tpl = bottle.SimpleTemplate(name=name, lookup=[self.template_root])
            self._templates[name] = tpl
        theme = bottle.request.cookies.get("theme", "")
        base = {
            "theme": theme if theme in ("light", "dark") else "",
            "device": self.appliance.config.device,
            "version": __version__,
            "session": None,
            "active": "",
            "msg": MESSAGES.get(bottle.request.query.get("msg", ""), ""),
            "local_time": _local_time,
            "error": "",
        }
        base.update(kw)
        return tpl.render(**base)

    def _store_get(self, key: str, default=None):
        try:
            return self.appliance.store.get_setting(key, default)
        except Exception:
            logger.exception("reading setting %s failed", key)
            return default

    def _limit_body(self) -> None:
        req = bottle.request
        if req.method in ("GET", "HEAD", "OPTIONS"):
            return
        if "chunked" in req.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # The body stays unread: close the connection so it is not taken for a request.
            raise bottle.HTTPError(
                411, "Send a Content-Length; chunked uploads are not accepted", Connection="close"
            )
        limit = SMALL_BODY
        if req.path in ("/api/analyze", "/analyze"):
            limit = self.max_upload + SMALL_BODY
        try:
            length = int(req.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise bottle.HTTPError(400, "Invalid Content-Length") from None
        if length > limit:
            mb = limit / 1024 / 1024
            raise bottle.HTTPError(
                413, f"Request body too large (limit {mb:.1f} MB)", Connection="close"
            )

    def current_session(self) -> LoginSession | None:
        return self.sessions.get(bottle.request.get_cookie(SESSION_COOKIE))

    def bearer_ok(self) -> bool:
        """``Authorization: Bearer <metrics token>`` matches (only routes with bearer=True)."""
        header = bottle.request.get_header("Authorization", "")
        scheme, _, token = header.partition(" ")
        return (
            self.metrics_token is not None
            and scheme.lower() == "bearer"
            and csrf_ok_value(self.metrics_token, token.strip())
        )

    def _set_cookie(self, name: str, value: str, max_age: int, path: str = "/") -> None:
        bottle.response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            httponly=True,
            samesite="Strict",
            secure=self.tls,
        )

    def snapshot(self) -> dict[str, Any]:
        """Live figures for the dashboard and SSE; cached 0.5 s so many clients cost one query."""
        now = time.monotonic()
        with self.rt.lock:
            if self.rt.snap is not None and now - self.rt.snap[0] < 0.5:
                return self.rt.snap[1]
        a = self.appliance
        summary = dict(a.summary())
        stats = dict(a.stats())
        total = None
        if a.store is not None:
            try:
                total = int(a.store.count_sessions())
            except Exception:
                logger.exception("counting sessions failed")
        if total is None:
            total = int(stats.get("sessions") or 0)
        if a.store is None:
            summary["visitors_today"] = int(stats.get("sessions") or 0)
        snap = {
            "time": iso_utc(time.time()),
            "visitors_today": int(summary.get("visitors_today") or 0),
            "visitors_total": total,
            "viewers_now": int(stats.get("viewers_now") or 0),
            "avg_dwell_s": round(float(summary.get("avg_dwell_s") or 0.0), 1),
            "dominant": summary.get("dominant"),
            "emotions": {e: float((summary.get("emotions") or {}).get(e) or 0.0) for e in EMOTIONS},
            "fps": stats.get("fps", 0.0),
            "inference_ms": stats.get("inference_ms", 0.0),
            "faces": stats.get("faces", 0),
            "camera": a.capture.status().get("state"),
        }
        with self.rt.lock:
            self.rt.snap = (now, snap)
        return snap

    def chart(self, bucket: str) -> str:
        store = self.appliance.store
        now = time.time()
        tz = _tz_offset(now)
        if bucket == "hour":
            lt = time.localtime(now)
            start = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))
            end = start + 86400
        else:
            day = now - (now + tz) % 86400
            start, end = day - 13 * 86400, day + 86400
        buckets = []
        if store is not None:
            try:
                buckets = store.buckets(start, end, bucket, tz_offset_s=tz)
            except Exception:
                logger.exception("reading chart buckets failed")
        # Fill the empty slots so the axis always shows the whole period.
        step = 3600 if bucket == "hour" else 86400
        have = {int(float(b["start"])): b for b in buckets}
        full = []
        t = start
        while t < end:
            b = have.get(int(t))
            if b is None:
                b = next((x for x in buckets if t <= float(x["start"]) < t + step), None)
            full.append(b or {"start": t, "visitors": 0, "avg_dwell_s": 0.0, "dominant": None})
            t += step
        return charts.time_course_svg(full, bucket, tz_offset_s=tz)

    def recent(self, limit: int = 10) -> list[dict]:
        if self.appliance.store is None:
            return []
        try:
            return list(self.appliance.store.recent_sessions(limit, 0))
        except Exception:
            logger.exception("reading recent sessions failed")
            return []

    def live_jpeg(self, item) -> bytes:
        """The annotated JPEG for a live item; encoded once per frame for all viewers."""
        privacy = self.rt.privacy
        with self.rt.lock:
            if (
                self.rt.jpeg is not None
                and self.rt.jpeg[0] == item.seq
                and self.rt.jpeg[1] == privacy
            ):
                return self.rt.jpeg[2]
        data = render.encode(render.annotate(item.frame.image, item.result, privacy))
        with self.rt.lock:
            self.rt.jpeg = (item.seq, privacy, data)
        return data

    # ---- routes ----------------------------------------------------------------------------
    def _routes(self) -> None:
        app = self
        a = self.appliance

        # -- public ------------------------------------------------------------------------
        @app.get("/healthz", public=True)
        def healthz():
            bottle.response.content_type = "application/json"
            stalled = False
            progress = getattr(a, "progress", None)
            if callable(progress):
                p = progress()
                cap, proc = p.get("captured_at"), p.get("processed_at")
                now = time.monotonic()
                # Frames keep arriving but none got through the pipeline for 30 s: stuck.
                if cap is not None and now - cap < 30:
                    never = proc is None and now - app.started_mono > 60
                    stalled = never or (proc is not None and cap - proc > 30)
            if stalled:
                bottle.response.status = 503
                return json.dumps({"status": "stalled"})
            return json.dumps({"status": "ok"})

        @app.get("/static/<path:path>", public=True)
        def static(path):
            resp = bottle.static_file(path, root=app.static_root)
            if isinstance(resp, bottle.HTTPResponse) and resp.status_code == 200:
                resp.set_header("Cache-Control", "public, max-age=300")
            return resp

        @app.get("/login", public=True)
        def login_form():
            if app.current_session() is not None:
                return bottle.redirect("/", 303)
            return app._login_page()

        @app.post("/login", public=True, csrf=False)
        def login():
            return app._login()

        # -- pages ---------------------------------------------------------------------------
        @app.get("/")
        def dashboard(session):
            snap = app.snapshot()
            return app.page(
                "dashboard.tpl",
                title="Dashboard",
                active="dashboard",
                session=session,
                snap=snap,
                chart=app.chart("hour"),
                dist=charts.distribution_svg(snap["emotions"]),
                recent=app.recent(10),
                store=a.store is not None,
            )

        @app.get("/chart.svg")
        def chart_svg(session):
            bucket = _q(
                lambda: as_choice(
                    bottle.request.query.get("bucket", "hour"), "bucket", ("hour", "day")
                )
            )
            bottle.response.content_type = "image/svg+xml"
            return app.chart(bucket)

        @app.get("/live")
        def live_page(session):
            return app.page(
                "live.tpl",
                title="Live view",
                active="live",
                session=session,
                privacy=app.rt.privacy,
                camera=a.capture.status(),
            )

        @app.get("/stream.mjpg")
        def stream(session):
            return app._mjpeg(session)

        # Each form page is rendered by one function: for GET, and again (with ``error``) when
        # its POST is refused.
        def render_analyze(session, result=None, **extra):
            return app.page(
                "analyze.tpl",
                title="Analyze an image",
                active="analyze",
                session=session,
                result=result,
                max_mb=app.web_cfg.max_upload_mb,
                **extra,
            )

        def render_cameras(session, **extra):
            return app.page(
                "cameras.tpl",
                title="Cameras",
                active="cameras",
                session=session,
                camera=a.capture.status(),
                cam_cfg=a.capture.camera,
                types=CAMERA_TYPES,
                **extra,
            )

        def render_settings(session, **extra):
            return app.page(
                "settings.tpl",
                title="Settings",
                active="settings",
                session=session,
                settings=app._settings(),
                modes=render.PRIVACY_MODES,
                **extra,
            )

        def render_data(session, **extra):
            return app.page(
                "data.tpl",
                title="Data",
                active="data",
                session=session,
                total=app.snapshot()["visitors_total"],
                store=a.store is not None,
                confirm_word=CONFIRM_WORD,
                **extra,
            )

        @app.get("/analyze")
        def analyze_page(session):
            return render_analyze(session)

        @app.post("/analyze")
        def analyze_form(session):
            try:
                img, faces = app._analyze_upload()
            except InvalidInput as exc:
                bottle.response.status = 400
                return render_analyze(session, error=str(exc))
            return render_analyze(session, result=_analysis_view(img, faces))

        @app.get("/cameras")
        def cameras_page(session):
            return render_cameras(session)

        @app.post("/cameras", role="admin")
        def cameras_form(session):
            try:
                app._switch_camera(_payload())
            except InvalidInput as exc:
                bottle.response.status = 400
                return render_cameras(session, error=str(exc))
            return bottle.redirect("/cameras?msg=switched", 303)

        @app.get("/settings")
        def settings_page(session):
            return render_settings(session)

        @app.post("/settings", role="admin")
        def settings_form(session):
            try:
                app._save_settings(_payload())
            except InvalidInput as exc:
                bottle.response.status = 400
                return render_settings(session, error=str(exc))
            return bottle.redirect("/settings?msg=saved", 303)

        @app.get("/data")
        def data_page(session):
            return render_data(session)

        @app.post("/data/clear", role="admin")
        def data_clear(session):
            try:
                app._clear(_payload())
            except InvalidInput as exc:
                bottle.response.status = 400
                return render_data(session, error=str(exc))
            return bottle.redirect("/data?msg=cleared", 303)

        @app.post("/logout", role="viewer")
        def logout(session):
            app.sessions.drop(session.token)
            bottle.response.delete_cookie(SESSION_COOKIE, path="/")
            return bottle.redirect("/login?msg=loggedout", 303)

        @app.get("/metrics", bearer=True)
        def metrics(session):
            bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
            return a.registry.render()

        # -- JSON API ---------------------------------------------------------------------
        @app.get("/api/status")
        def api_status(session):
            doc = app.cached(("status",), lambda: app._status())
            return _json({**json.loads(doc), "user": {"name": session.user, "role": session.role}})

        @app.get("/api/stats")
        def api_stats(session):
            return _json(app._stats())

        @app.get("/api/sessions")
        def api_sessions(session):
            q = bottle.request.query
            limit = _q(lambda: as_int(q.get("limit", "50"), "limit", 1, 500))
            offset = _q(lambda: as_int(q.get("offset", "0"), "offset", 0, 10**9))
            store = _need_store(a)
            # Many open dashboards poll the same page: one query per half second serves them.
            return app.cached(
                ("sessions", limit, offset),
                lambda: json.dumps(
                    {
                        "total": int(store.count_sessions()),
                        "limit": limit,
                        "offset": offset,
                        "sessions": list(store.recent_sessions(limit, offset)),
                    }
                ),
            )

        @app.get("/api/cameras")
        def api_cameras(session):
            return _json(
                {
                    "current": a.capture.status(),
                    "types": list(CAMERA_TYPES),
                    "privacy": app.rt.privacy,
                }
            )

        @app.post("/api/cameras", role="admin")
        def api_cameras_post(session):
            _q(lambda: app._switch_camera(_payload()))
            return _json({"current": a.capture.status()})

        @app.get("/api/settings")
        def api_settings(session):
            return _json(app._settings())

        @app.post("/api/settings", role="admin")
        def api_settings_post(session):
            _q(lambda: app._save_settings(_payload()))
            return _json(app._settings())

        @app.post("/api/analyze")
        def api_analyze(session):
            img, faces = _q(app._analyze_upload)
            return _json({"width": int(img.shape[1]), "height": int(img.shape[0]), "faces": faces})

        @app.post("/api/clear", role="admin")
        def api_clear(session):
            return _json(_q(lambda: app._clear(_payload())))

        @app.get("/api/export.csv", role="admin")
        def api_export(session):
            return app._export()

        @app.get("/api/events")
        def api_events(session):
            return app._sse(session)

        @app.get("/api/openapi.json")
        def api_openapi(session):
            from affectra_edge.webui.openapi import openapi_document

            return _json(openapi_document(__version__))

    # ---- login -----------------------------------------------------------------------------
    def _login_page(self, error: str = "", status: int = 200, username: str = ""):
        import secrets

        # Keep the browser's token across retries (a failed login re-renders this page).
        token = bottle.request.get_cookie(LOGIN_COOKIE) or ""
        if not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
            token = secrets.token_urlsafe(24)
        # Login CSRF: double-submit of a pre-session token bound to this browser.
        self._set_cookie(LOGIN_COOKIE, token, 3600, path="/login")
        bottle.response.status = status
        nxt = _safe_next(bottle.request.query.get("next") or bottle.request.forms.get("next"))
        return self.page(
            "login.tpl",
            title="Log in",
            login_token=token,
            next=nxt,
            error=error,
            username=username,
            no_users=self.users is None or len(self.users) == 0,
        )

    def _login(self):
        req = bottle.request
        client = req.environ.get("REMOTE_ADDR", "?")  # never X-Forwarded-For: spoofable
        wait = self.throttle.retry_after(client)
        if wait > 0:
            return self._throttled(wait)
        form = req.forms
        if not csrf_ok_value(req.get_cookie(LOGIN_COOKIE), form.get("csrf_token")):
            return self._login_page("The login form expired; please try again.", 403)
        username = form.getunicode("username", default="") or ""
        password = form.getunicode("password", default="") or ""
        if not username or not password or len(username) > 64 or len(password) > MAX_PASSWORD:
            return self._login_page("Enter your user name and password.", 400, username[:64])
        user = None
        if self.users is not None:
            with self._kdf:
                user = self.users.authenticate(username, password)
        if user is None:
            wait = self.throttle.failure(client)
            logger.warning("failed web login for %r from %s", username[:64], client)
            if wait > 0:
                return self._throttled(wait)
            return self._login_page("Wrong user name or password.", 401, username[:64])
        self.throttle.success(client)
        s = self.sessions.create(user.name, user.role)
        self._set_cookie(SESSION_COOKIE, s.token, int(self.sessions.ttl_s))
        bottle.response.delete_cookie(LOGIN_COOKIE, path="/login")
        logger.info("web login: %s (%s) from %s", user.name, user.role, client)
        return bottle.redirect(_safe_next(form.get("next")), 303)

    def _throttled(self, wait: float):
        secs = max(1, int(wait + 0.999))
        bottle.response.set_header("Retry-After", str(secs))
        return self._login_page(f"Too many failed attempts. Try again in {secs} s.", 429)

    # ---- API work --------------------------------------------------------------------------
    def cached(self, key: tuple, fn: Callable[[], Any], ttl: float = 0.5) -> Any:
        """``fn()`` at most once per ``ttl`` seconds per key (cleared by any change)."""
        now = time.monotonic()
        with self.rt.lock:
            hit = self.rt.cache.get(key)
            if hit is not None and now - hit[0] < ttl:
                bottle.response.content_type = "application/json"
                return hit[1]
        # Single flight: when the entry expires under load, one thread recomputes and the
        # others wait for its result instead of all querying the store at once.
        with self.rt.compute:
            with self.rt.lock:
                hit = self.rt.cache.get(key)
                if hit is not None and time.monotonic() - hit[0] < ttl:
                    bottle.response.content_type = "application/json"
                    return hit[1]
            value = fn()
            now = time.monotonic()
        with self.rt.lock:
            if len(self.rt.cache) > 256:
                self.rt.cache.clear()
            self.rt.cache[key] = (now, value)
        bottle.response.content_type = "application/json"
        return value

    def invalidate(self) -> None:
        with self.rt.lock:
            self.rt.snap = None
            self.rt.cache.clear()

    def _status(self) -> str:
        a = self.appliance
        cfg = a.config
        doc = {
            "device": {"id": cfg.device.id, "name": cfg.device.name, "artwork": cfg.device.artwork},
            "version": __version__,
            "time": iso_utc(time.time()),
            "uptime_s": round(time.time() - self.started, 1),
            "camera": a.capture.status(),
            "stats": a.stats(),
            "summary": self.snapshot(),
            "mqtt": a.mqtt_status(),
            "storage": "enabled" if a.store is not None else "disabled",
            "privacy": self.rt.privacy,
        }
        return json.dumps(doc)

    def _stats(self) -> dict:
        q = bottle.request.query
        now = time.time()
        bucket = _q(lambda: as_choice(q.get("bucket", "hour"), "bucket", ("hour", "day")))
        default_span = 86400 if bucket == "hour" else 30 * 86400
        end = _q(lambda: as_time(q["to"], "to")) if q.get("to") else now
        start = _q(lambda: as_time(q["from"], "from")) if q.get("from") else end - default_span
        tz = _q(lambda: as_int(q.get("tz", str(_tz_offset(now))), "tz", -14 * 3600, 14 * 3600))
        if start >= end:
            raise _bad("from", "must be before to")
        max_span = 31 * 86400 if bucket == "hour" else 1000 * 86400
        if end - start > max_span:
            raise _bad("from", f"range too long for bucket={bucket} (max {max_span // 86400} days)")
        store = _need_store(self.appliance)
        return {
            "from": iso_utc(start),
            "to": iso_utc(end),
            "bucket": bucket,
            "tz_offset_s": tz,
            "summary": store.summary(start, end),
            "buckets": list(store.buckets(start, end, bucket, tz_offset_s=tz)),
        }

    def _settings(self) -> dict:
        a = self.appliance
        fn = getattr(a, "settings", None)
        if callable(fn):
            out = dict(fn())
        else:
            c = a.config
            out = {
                "threshold": c.classifier.threshold,
                "retention_days": c.storage.retention_days,
                "max_sessions": c.storage.max_sessions,
                "artwork": c.device.artwork,
                "device_name": c.device.name,
            }
        out["privacy"] = self.rt.privacy
        return out

    def _save_settings(self, data: dict) -> None:
        known = ("threshold", "retention_days", "max_sessions", "artwork", "device_name", "privacy")
        unknown = sorted(set(data) - set(known) - {"csrf_token"})
        if unknown:
            raise InvalidInput(unknown[0], "is not a setting")
        clean: dict[str, Any] = {}
        if "threshold" in data:
            clean["threshold"] = as_float(data["threshold"], "threshold", 0.0, 1.0)
        if "retention_days" in data:
            clean["retention_days"] = as_int(data["retention_days"], "retention_days", 0, 36500)
        if "max_sessions" in data:
            clean["max_sessions"] = as_int(data["max_sessions"], "max_sessions", 0, 1_000_000_000)
        if "artwork" in data:
            clean["artwork"] = as_text(data["artwork"], "artwork", 200)
        if "device_name" in data:
            clean["device_name"] = as_text(data["device_name"], "device_name", 100, min_len=1)
        privacy = None
        if "privacy" in data:
            privacy = as_choice(data["privacy"], "privacy", render.PRIVACY_MODES)
        if clean:
            self.appliance.apply_settings(clean)
        self.invalidate()
        if privacy is not None:
            self.rt.privacy = privacy
            if self.appliance.store is not None:
                self.appliance.store.set_setting("privacy", privacy)
        logger.info(
            "settings changed: %s", ", ".join(sorted([*clean, *(["privacy"] if privacy else [])]))
        )

    def _switch_camera(self, data: dict) -> None:
        allowed = {"type", "path", "device", "url", "csrf_token"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidInput(unknown[0], "is not a camera setting")
        ctype = as_choice(data.get("type"), "type", CAMERA_TYPES)
        current = self.appliance.capture.camera
        fields = {k: v for k, v in asdict(current).items()}
        fields["type"] = ctype
        if ctype == "esp32":
            fields["url"] = camera_url(data.get("url"))
        elif ctype == "file":
            path = as_text(data.get("path", ""), "path", 1024, min_len=1)
            if not Path(path).exists():
                raise InvalidInput("path", f"{path} does not exist on the device")
            fields["path"] = path
        elif ctype == "usb":
            dev = as_text(data.get("device", "0"), "device", 64, min_len=1)
            if not (dev.isdigit() and int(dev) < 64) and not (
                dev.startswith("/dev/video") and dev[10:].isdigit()
            ):
                raise InvalidInput("device", "must be /dev/videoN or a camera index")
            fields["device"] = dev
        try:
            cam = build_section(CameraConfig, fields, "camera")
        except ConfigError as exc:
            raise InvalidInput(exc.key or "camera", exc.problem) from None
        self.appliance.capture.switch(cam)
        self.invalidate()

    def _clear(self, data: dict) -> dict:
        confirm = data.get("confirm")
        if confirm != CONFIRM_WORD:
            raise InvalidInput("confirm", f"type {CONFIRM_WORD} to confirm deleting all data")
        store = _need_store(self.appliance)
        before = int(store.count_sessions())
        store.clear_all()
        self.invalidate()
        logger.warning("all visitor data cleared from the web UI (%d sessions)", before)
        return {"cleared": True, "sessions_deleted": before}

    def _export(self):
        q = bottle.request.query
        store = _need_store(self.appliance)
        now = time.time()
        end = _q(lambda: as_time(q["to"], "to")) if q.get("to") else now + 1
        start = _q(lambda: as_time(q["from"], "from")) if q.get("from") else 0.0
        buf = io.StringIO()
        try:
            store.export_csv(buf, start, end)
            data = buf.getvalue().encode("utf-8")
        except TypeError:  # a store that writes bytes
            bbuf = io.BytesIO()
            store.export_csv(bbuf, start, end)
            data = bbuf.getvalue()
        day = time.strftime("%Y%m%d", time.localtime(now))
        name = f"affectra-{self.appliance.config.device.id}-{day}.csv"
        bottle.response.content_type = "text/csv; charset=utf-8"
        bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}"')
        return data

    def _analyze_upload(self):
        req = bottle.request
        ctype = (req.content_type or "").split(";")[0].strip().lower()
        if ctype.startswith("multipart/"):
            try:
                upload = req.files.get("image")
            except Exception as exc:  # bottle's multipart parser: malformed bodies
                raise InvalidInput("image", f"malformed upload ({exc})") from None
            if upload is None:
                raise InvalidInput("image", "no file in the 'image' field")
            data = upload.file.read(self.max_upload + 1)
        elif ctype in ("image/jpeg", "image/png"):
            data = req.body.read(self.max_upload + 1)
        else:
            raise InvalidInput("image", "send multipart/form-data with an 'image' field")
        img = decode_image(data, self.max_upload)
        del data  # nothing of the upload is kept
        faces = [
            {
                "box": o.box.as_list(),
                "score": round(float(o.box.score), 4),
                "emotions": o.emotions.as_dict(),
                "dominant": o.emotions.dominant,
            }
            for o in self.appliance.analyze_image(img)
            if o.emotions is not None
        ]
        return img, faces

    # ---- streams ---------------------------------------------------------------------------
    def _stream_slot(self):
        if not self.streams.acquire(blocking=False):
            raise bottle.HTTPError(503, "Too many live streams open; close another tab")

    def _mjpeg(self, session: LoginSession):
        self._stream_slot()
        boundary = "affectraframe"
        bottle.response.content_type = f"multipart/x-mixed-replace; boundary={boundary}"
        bottle.response.set_header("X-Accel-Buffering", "no")
        live = self.appliance.live
        app = self

        def part(jpeg: bytes) -> bytes:
            head = (
                f"--{boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            ).encode("ascii")
            return head + jpeg + b"\r\n"

        def gen():
            try:
                seq = 0
                t_end = time.monotonic() + STREAM_MAX_S
                last_sent = 0.0
                while not app.stopping.is_set() and time.monotonic() < t_end:
                    if app.sessions.get(session.token) is None:
                        return
                    if app.rt.privacy == "off":
                        # No camera image at all, not even blurred: a placeholder card.
                        yield part(_placeholder())
                        app.stopping.wait(2.0)
                        continue
                    item = live.wait_newer(seq, timeout=1.0)
                    if item is None:
                        if time.monotonic() - last_sent > 5 and seq == 0:
                            yield part(_placeholder("Waiting for the camera…"))
                            last_sent = time.monotonic()
                        continue
                    seq = item.seq
                    yield part(app.live_jpeg(item))
                    last_sent = time.monotonic()
                    # at most ~15 frames a second per viewer: a phone needs no more
                    time.sleep(max(0.0, 1 / 15 - (time.monotonic() - last_sent)))
            finally:
                app.streams.release()

        return gen()

    def _sse(self, session: LoginSession):
        self._stream_slot()
        bottle.response.content_type = "text/event-stream; charset=utf-8"
        bottle.response.set_header("X-Accel-Buffering", "no")
        app = self

        def gen():
            try:
                yield "retry: 2000\n\n"
                t_end = time.monotonic() + STREAM_MAX_S
                while not app.stopping.is_set() and time.monotonic() < t_end:
                    if app.sessions.get(session.token) is None:
                        yield "event: logout\ndata: {}\n\n"
                        return
                    try:
                        snap = app.snapshot()
                    except Exception:
                        logger.exception("live figures failed")
                        snap = {"error": "figures unavailable"}
                    yield f"event: stats\ndata: {json.dumps(snap)}\n\n"
                    app.stopping.wait(1.0)
            finally:
                app.streams.release()

        return gen()


def _local_time(iso: str) -> str:
    """ISO-8601 UTC → the device's local wall-clock time (the gallery's)."""
    try:
        return time.strftime("%H:%M:%S", time.localtime(parse_iso_utc(iso)))
    except (ValueError, TypeError):
        return "—"


@dataclass
class _Runtime:
    privacy: str
    snap: tuple[float, dict] | None = None
    cache: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    compute: threading.Lock = field(default_factory=threading.Lock)
    jpeg: tuple[int, str, bytes] | None = None


@functools.lru_cache(maxsize=4)
def _placeholder(text: str = "Live image disabled") -> bytes:
    return render.placeholder(text=text)


# ---- plugin: authentication, roles, CSRF ---------------------------------------------------
class _AuthPlugin:
    """Wraps every route: login required unless ``public=True``; ``role="admin"`` for changes;
    CSRF and same-origin checks on every state-changing method."""

    name = "affectra_auth"
    api = 2

    def __init__(self, web: WebApp):
        self.web = web

    def apply(self, callback: Callable, route: bottle.Route):
        cfg = route.config
        public = bool(cfg.get("public", False))
        role = cfg.get("role", "viewer")
        check_csrf = cfg.get("csrf", True)
        web = self.web

        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            req = bottle.request
            unsafe = req.method not in ("GET", "HEAD", "OPTIONS")
            if unsafe and not _same_origin():
                raise bottle.HTTPError(403, "Cross-origin request refused")
            if public:
                return callback(*args, **kwargs)
            session = web.current_session()
            if session is None and cfg.get("bearer") and web.bearer_ok():
                return callback(*args, session=None, **kwargs)
            if session is None:
                if req.method == "GET" and not _wants_json() and _is_page(req.path):
                    nxt = quote(req.fullpath, safe="/")
                    return bottle.redirect(f"/login?next={nxt}", 303)
                raise bottle.HTTPError(
                    401, "Login required", **{"WWW-Authenticate": 'Cookie realm="affectra-edge"'}
                )
            if unsafe and check_csrf:
                supplied = req.get_header("X-CSRF-Token")
                if supplied is None:
                    try:
                        supplied = req.forms.get("csrf_token")
                    except Exception:
                        supplied = None
                if not csrf_ok(session, supplied):
                    raise bottle.HTTPError(403, "CSRF token missing or invalid")
            if role == "admin" and not session.is_admin:
                raise bottle.HTTPError(403, "Administrators only")
            return callback(*args, session=session, **kwargs)

        return wrapper


def csrf_ok_value(expected: str | None, supplied: str | None) -> bool:
    import hmac

    return (
        bool(expected)
        and bool(supplied)
        and hmac.compare_digest(str(expected).encode(), str(supplied).encode())
    )


def _same_origin() -> bool:
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


_PAGES = ("/", "/live", "/analyze", "/cameras", "/settings", "/data")


def _is_page(path: str) -> bool:
    return path in _PAGES


def _wants_json() -> bool:
    p = bottle.request.path
    return p.startswith("/api/") or "application/json" in bottle.request.get_header("Accept", "")


def _safe_next(value: str | None) -> str:
    """A local path to go to after login (never another site: ``//evil`` or ``http:``)."""
    if not value or not isinstance(value, str) or len(value) > 200:
        return "/"
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if value.split("?")[0] not in _PAGES:
        return "/"
    return value


def _json(doc: Any) -> str:
    bottle.response.content_type = "application/json"
    return json.dumps(doc)


def _bad(field: str, message: str) -> bottle.HTTPError:
    return bottle.HTTPError(400, f"{field}: {message}")


def _q(fn: Callable[[], Any]) -> Any:
    """Run a parser; an :class:`InvalidInput` becomes a 400 naming the field."""
    try:
        return fn()
    except InvalidInput as exc:
        raise bottle.HTTPError(400, str(exc)) from None


def _need_store(a: ApplianceLike):
    if a.store is None:
        raise bottle.HTTPError(503, "Storage is disabled on this device")
    return a.store


def _payload() -> dict[str, Any]:
    """The request's fields: a JSON object or a form, as a plain dict."""
    req = bottle.request
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = req.body.read(SMALL_BODY + 1)
        try:
            doc = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise bottle.HTTPError(400, "Body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise bottle.HTTPError(400, "Body must be a JSON object")
        return doc
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        return {k: req.forms.getunicode(k, default="") for k in req.forms}
    raise bottle.HTTPError(415, "Send JSON or a form")


def _analysis_view(img, faces: list[dict]) -> dict:
    """The uploader's own picture with boxes, inline as a data: URL (nothing is stored)."""
    import cv2

    from affectra_edge.types import Box, Emotions, FrameResult, TrackedFace

    tracked = tuple(
        TrackedFace(i + 1, Box(*f["box"]), Emotions(tuple(f["emotions"][e] for e in EMOTIONS)))
        for i, f in enumerate(faces)
    )
    h, w = img.shape[:2]
    shown = render.annotate(img, FrameResult(0, 0.0, tracked), "full")
    if w > 800:
        shown = cv2.resize(shown, (800, max(1, round(h * 800 / w))), interpolation=cv2.INTER_AREA)
    data_url = "data:image/jpeg;base64," + base64.b64encode(render.encode(shown, 85)).decode()
    return {"faces": faces, "image": data_url, "width": w, "height": h}


def create_app(
    appliance: ApplianceLike, *, users: UserStore | None = None, web_cfg: WebConfig | None = None
) -> WebApp:
    """The web application for ``appliance`` (an explicit Bottle instance, never the default).

    ``web_cfg`` defaults to ``appliance.config.web``; serve it with the same section."""
    return WebApp(appliance, users, web_cfg)


__all__ = ["ApplianceLike", "WebApp", "create_app"]
