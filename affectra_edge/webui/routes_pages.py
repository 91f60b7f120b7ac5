"""The HTML pages: dashboard (with its SVG chart), live view, and the four form pages
(analyze, cameras, settings, data), plus the static files they load."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import bottle

from affectra_edge.figures import local_day_start, tz_offset
from affectra_edge.settings import FIELDS, spec
from affectra_edge.webui import actions, charts, render
from affectra_edge.webui.actions import CAMERA_TYPES, CONFIRM_WORD, Uploads, checked, payload
from affectra_edge.webui.deps import BUCKETS, Bucket, WebDeps
from affectra_edge.webui.validate import InvalidInput, as_choice
from affectra_edge.webui.view import View

logger = logging.getLogger(__name__)


def register(app: bottle.Bottle, deps: WebDeps, view: View, *, uploads: Uploads) -> None:
    store = deps.store

    @app.get("/static/<path:path>", public=True)
    def static(path):
        resp = bottle.static_file(path, root=view.static_root)
        if isinstance(resp, bottle.HTTPResponse) and resp.status_code == 200:
            resp.set_header("Cache-Control", "public, max-age=300")
        return resp

    def chart(bucket: Bucket) -> str:
        now = time.time()
        tz = tz_offset(now)
        if bucket == "hour":
            start = local_day_start(now)
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
        full = charts.fill_buckets(buckets, start, end, 3600 if bucket == "hour" else 86400)
        return charts.time_course_svg(full, bucket, tz_offset_s=tz)

    def recent(limit: int) -> list[dict]:
        if store is None:
            return []
        try:
            return list(store.recent_sessions(limit, 0))
        except Exception:
            logger.exception("reading recent sessions failed")
            return []

    @app.get("/", page=True)
    def dashboard(session):
        snap = deps.figures.now()
        return view.render(
            "dashboard.tpl",
            title="Dashboard",
            active="dashboard",
            session=session,
            snap=snap,
            chart=chart("hour"),
            dist=charts.distribution_svg(snap["emotions"]),
            recent=recent(10),
            store=store is not None,
        )

    @app.get("/chart.svg")
    def chart_svg(session):
        q = bottle.request.query
        bucket = checked(lambda: as_choice(q.get("bucket", "hour"), "bucket", BUCKETS))
        bottle.response.content_type = "image/svg+xml"
        return chart(bucket)

    @app.get("/live", page=True)
    def live_page(session):
        return view.render(
            "live.tpl",
            title="Live view",
            active="live",
            session=session,
            privacy=deps.settings.get("privacy"),
            camera=deps.camera.status(),
        )

    form = _FormPages(app, view)
    form.add(
        "/analyze",
        "analyze.tpl",
        "Analyze an image",
        lambda: {"result": None, "max_mb": uploads.max_mb},
        submit=lambda: render.analysis_view(*actions.analyze_upload(deps, uploads)),
        max_body=uploads.route_body,
    )
    form.add(
        "/cameras",
        "cameras.tpl",
        "Cameras",
        lambda: {
            "camera": deps.camera.status(),
            "cam_cfg": deps.camera.camera,
            "types": CAMERA_TYPES,
        },
        submit=lambda: actions.switch_camera(deps, payload()),
        done="/cameras?msg=switched",
        role="admin",
    )
    form.add(
        "/settings",
        "settings.tpl",
        "Settings",
        lambda: {
            "settings": deps.settings.current(),
            "modes": render.PRIVACY_MODES,
            "limits": _input_limits(),
        },
        submit=lambda: actions.save_settings(deps, payload()),
        done="/settings?msg=saved",
        role="admin",
    )
    form.add(
        "/data",
        "data.tpl",
        "Data",
        lambda: {
            "total": deps.figures.now()["visitors_total"],
            "store": store is not None,
            "confirm_word": CONFIRM_WORD,
        },
        submit=lambda: actions.clear_data(deps, payload()),
        submit_path="/data/clear",
        done="/data?msg=cleared",
        role="admin",
    )


def _input_limits() -> dict[str, dict[str, str]]:
    """The settings form's ``min``/``max`` (or ``maxlength``) attributes, from the schema."""

    def attr(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else f"{v:g}"

    limits = {}
    for key in FIELDS:
        s = spec(key)
        lo, hi = s.length or (s.minimum, s.maximum)
        if lo is not None and hi is not None:
            limits[key] = {"min": attr(lo), "max": attr(hi)}
    return limits


class _FormPages:
    """A page with a form: GET renders it; its POST (with ``route_options`` such as
    ``role=``) runs the action, then redirects to ``done`` so a reload does not repeat it, or
    without one shows the result on the page; a refused value renders the page again with
    the message and a 400."""

    def __init__(self, app: bottle.Bottle, view: View):
        self.app = app
        self.view = view

    def add(
        self,
        path: str,
        template: str,
        title: str,
        context: Callable[[], dict[str, Any]],
        *,
        submit: Callable[[], Any],
        submit_path: str | None = None,
        done: str | None = None,
        **route_options: Any,
    ) -> None:
        active = path.strip("/")

        def show(session, **extra: Any) -> str:
            kw = {**context(), **extra}
            return self.view.render(template, title=title, active=active, session=session, **kw)

        @self.app.get(path, page=True)
        def get_page(session):
            return show(session)

        @self.app.post(submit_path or path, **route_options)
        def post_page(session):
            try:
                result = submit()
            except InvalidInput as exc:
                bottle.response.status = 400
                return show(session, error=str(exc))
            if done is not None:
                return bottle.redirect(done, 303)
            return show(session, result=result)
