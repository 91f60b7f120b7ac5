"""The HTML pages: dashboard (with its SVG chart), live view, and the four form pages
(analyze, cameras, settings, data), plus the static files they load."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import bottle

from affectra_edge.figures import local_day_start, tz_offset
from affectra_edge.settings import FIELDS, spec
from affectra_edge.webui import actions, charts, insights, render
from affectra_edge.webui.actions import CAMERA_TYPES, CONFIRM_WORD, Uploads, checked, payload
from affectra_edge.webui.deps import BUCKETS, Bucket, WebDeps
from affectra_edge.webui.i18n import N_, Locale
from affectra_edge.webui.images import Decoded
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

    def chart_buckets(bucket: Bucket) -> tuple[list[dict], int]:
        """The chart's buckets (empty ones filled in) and the local time offset."""
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
        return full, tz

    def chart(bucket: Bucket, loc: Locale, buckets: tuple[list[dict], int] | None = None) -> str:
        full, tz = buckets or chart_buckets(bucket)
        return charts.time_course_svg(full, bucket, loc, tz_offset_s=tz)

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
        loc = view.locale()
        hours = chart_buckets("hour")
        found = deps.figures.cached(("insights",), lambda: insights.compute(store, hours[0]))
        return view.render(
            "dashboard.tpl",
            title=N_("Dashboard"),
            active="dashboard",
            session=session,
            snap=snap,
            chart=chart("hour", loc, hours),
            legend=charts.legend_html(loc),
            dist=charts.distribution_html(snap["emotions"], loc),
            dwell=charts.dwell_html(found.dwell_bands, loc),
            insights=found,
            tz_offset=hours[1],
            mqtt=deps.figures.mqtt_status(),
            recent=recent(10),
            store=store is not None,
            loc=loc,
        )

    @app.get("/chart.svg")
    def chart_svg(session):
        q = bottle.request.query
        bucket = checked(lambda: as_choice(q.get("bucket", "hour"), "bucket", BUCKETS))
        loc = view.locale()
        bottle.response.content_type = "image/svg+xml"
        return chart(bucket, loc)

    @app.get("/recent.html")
    def recent_rows(session):
        """The dashboard's recent-visitors rows, rendered here so they read as on first load
        (language, durations, legend colours) when the page refreshes them."""
        return view.render("recent_rows.tpl", recent=recent(10), session=session)

    @app.get("/live", page=True)
    def live_page(session):
        return view.render(
            "live.tpl",
            title=N_("Live view"),
            active="live",
            session=session,
            privacy=deps.settings.get("privacy"),
            camera=deps.camera.status(),
        )

    def days_redirect(target: str, params: dict[str, str]) -> None:
        """The Data page's date-range form: local days → ``target`` for that time range."""
        q = bottle.request.query
        start, end = checked(lambda: local_days(q.get("from_day", ""), q.get("to_day", "")))
        params |= {k: f"{v:.0f}" for k, v in (("from", start), ("to", end)) if v is not None}
        bottle.redirect(target + (f"?{urlencode(params)}" if params else ""), 303)

    @app.get("/data/export.csv", role="admin")
    def export_days(session):
        return days_redirect("/api/export.csv", {})

    @app.get("/data/measures.csv")
    def measures_days(session):
        """The form's second button: the visitor-study measures per local day (any role: they
        are aggregates, like the dashboard)."""
        return days_redirect("/api/stats.csv", {"bucket": "day", "tz": str(tz_offset(time.time()))})

    form = _FormPages(app, view)
    form.add(
        "/analyze",
        "analyze.tpl",
        N_("Analyze an image"),
        lambda: {"result": None, "max_mb": uploads.max_mb},
        submit=lambda: _analysis_page(*actions.analyze_upload(deps, uploads)),
        max_body=uploads.route_body,
    )
    form.add(
        "/cameras",
        "cameras.tpl",
        N_("Cameras"),
        lambda: {
            "mqtt": deps.figures.mqtt_status(),
            "stats": deps.figures.stats(),
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
        N_("Settings"),
        lambda: {
            "settings": deps.settings.current(),
            "modes": render.PRIVACY_MODES,
            "limits": _input_limits(),
            # what the page says about where each value lives and how long it lasts
            "toml_keys": {k: f"[{sec}] {key}" for k, (sec, key) in FIELDS.items()},
            "persistent": store is not None,
            "config_source": deps.settings.config.source,
        },
        submit=lambda: actions.save_settings(deps, payload()),
        done="/settings?msg=saved",
        role="admin",
    )
    form.add(
        "/data",
        "data.tpl",
        N_("Data"),
        lambda: {
            "total": deps.figures.now()["visitors_total"],
            "store": store is not None,
            "confirm_word": CONFIRM_WORD,
            "today": time.strftime("%Y-%m-%d"),
            "from_day": "",
            "to_day": "",
        },
        submit=lambda: actions.clear_data(deps, payload()),
        submit_path="/data/clear",
        done="/data?msg=cleared",
        role="admin",
    )


def _analysis_page(picture: Decoded, faces: list[dict[str, Any]]) -> dict[str, Any]:
    # the page shows the picture as decoded (reduced when large), boxes in its pixels
    return render.analysis_view(picture.image, faces)


def local_days(first: str, last: str) -> tuple[float | None, float | None]:
    """``YYYY-MM-DD`` days of the device's local calendar → ``[start of first, end of last)``
    in epoch seconds; an empty day leaves that end open."""

    def day_start(value: str, field: str) -> float | None:
        value = value.strip()
        if not value:
            return None
        try:
            t = time.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise InvalidInput(
                field, f"must be a date like 2026-11-30, not {value[:20]!r}"
            ) from None
        return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))

    start = day_start(first, "from_day")
    last_start = day_start(last, "to_day")
    # the day after, at local midnight (mktime normalises day 32 and DST)
    end = None
    if last_start is not None:
        t = time.localtime(last_start)
        end = time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))
    if start is not None and end is not None and start >= end:
        raise InvalidInput("from_day", "must not be after the last day")
    return start, end


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
