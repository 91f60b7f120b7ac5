"""The JSON API under ``/api/`` (routes return dicts: Bottle's JSON plugin encodes them),
``/metrics`` for Prometheus and the public ``/healthz``."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import bottle

from affectra_edge import __version__
from affectra_edge.figures import tz_offset
from affectra_edge.measures import with_holding_power
from affectra_edge.types import iso_utc
from affectra_edge.webui import actions
from affectra_edge.webui.actions import CAMERA_TYPES, Uploads, checked, need_store, payload
from affectra_edge.webui.deps import BUCKETS, Bucket, WebDeps
from affectra_edge.webui.openapi import openapi_document
from affectra_edge.webui.validate import as_choice, as_int, as_time


def register(app: bottle.Bottle, deps: WebDeps, *, uploads: Uploads) -> None:
    @app.get("/healthz", public=True)
    def healthz():
        if deps.figures.stalled():
            bottle.response.status = 503
            return {"status": "stalled"}
        return {"status": "ok"}

    @app.get("/metrics", bearer=True)
    def metrics(session):
        # Prometheus asks for OpenMetrics in Accept; curl and older scrapers get text 0.0.4.
        body, bottle.response.content_type = deps.registry.exposition(
            bottle.request.get_header("Accept", "")
        )
        return body

    @app.get("/api/status")
    def api_status(session):
        doc = deps.figures.cached(("status",), lambda: _status(deps))
        return {**doc, "user": {"name": session.user, "role": session.role}}

    @app.get("/api/stats")
    def api_stats(session):
        return _stats(deps)

    @app.get("/api/sessions")
    def api_sessions(session):
        q = bottle.request.query
        limit = checked(lambda: as_int(q.get("limit", "50"), "limit", 1, 500))
        offset = checked(lambda: as_int(q.get("offset", "0"), "offset", 0, 10**9))
        store = need_store(deps.store)

        def page() -> str:
            doc = {
                "total": int(store.count_sessions()),
                "limit": limit,
                "offset": offset,
                "sessions": list(store.recent_sessions(limit, offset)),
            }
            return json.dumps(doc)

        # Many open dashboards poll the same page: one query per half second serves them,
        # and the encoded bytes are kept so they are not encoded again for each one.
        text = deps.figures.cached(("sessions", limit, offset), page)
        bottle.response.content_type = "application/json"
        return text

    @app.get("/api/cameras")
    def api_cameras(session):
        return {
            "current": deps.camera.status(),
            "types": list(CAMERA_TYPES),
            "privacy": deps.settings.get("privacy"),
        }

    @app.post("/api/cameras", role="admin")
    def api_cameras_post(session):
        checked(lambda: actions.switch_camera(deps, payload()))
        return {"current": deps.camera.status()}

    @app.get("/api/settings")
    def api_settings(session):
        return deps.settings.current()

    @app.post("/api/settings", role="admin")
    def api_settings_post(session):
        checked(lambda: actions.save_settings(deps, payload()))
        return deps.settings.current()

    @app.post("/api/analyze", max_body=uploads.route_body)
    def api_analyze(session):
        picture, faces = checked(lambda: actions.analyze_upload(deps, uploads))
        faces = actions.full_size_faces(picture, faces)
        return {"width": picture.width, "height": picture.height, "faces": faces}

    @app.post("/api/clear", role="admin")
    def api_clear(session):
        return checked(lambda: actions.clear_data(deps, payload()))

    @app.get("/api/export.csv", role="admin")
    def api_export(session):
        q = bottle.request.query
        store = need_store(deps.store)
        now = time.time()
        end = checked(lambda: as_time(q["to"], "to")) if q.get("to") else now + 1
        start = checked(lambda: as_time(q["from"], "from")) if q.get("from") else 0.0
        buf = io.StringIO()
        store.export_csv(buf, start, end)
        return _csv_download(buf, f"affectra-{deps.settings.device.id}-{_day(now)}.csv")

    @app.get("/api/stats.csv")
    def api_stats_csv(session):
        start, end, bucket, tz = _stats_range(deps)
        store = need_store(deps.store)
        buf = io.StringIO()
        store.export_measures_csv(
            buf, start, end, bucket, tz, deps.settings.device.expected_dwell_s
        )
        name = f"affectra-{deps.settings.device.id}-{bucket}ly-measures-{_day(time.time())}.csv"
        return _csv_download(buf, name)

    @app.get("/api/openapi.json")
    def api_openapi(session):
        return openapi_document(__version__)


def _day(ts: float) -> str:
    return time.strftime("%Y%m%d", time.localtime(ts))


def _csv_download(buf: io.StringIO, name: str) -> bytes:
    """A CSV the browser saves as ``name`` (both exports)."""
    bottle.response.content_type = "text/csv; charset=utf-8"
    bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}"')
    return buf.getvalue().encode("utf-8")


def _status(deps: WebDeps) -> dict[str, Any]:
    device = deps.settings.device
    figures = deps.figures
    return {
        "device": {"id": device.id, "name": device.name, "artwork": device.artwork},
        "version": __version__,
        "time": iso_utc(time.time()),
        "uptime_s": figures.uptime_s(),
        "camera": deps.camera.status(),
        "stats": figures.stats(),
        "summary": figures.now(),
        "mqtt": figures.mqtt_status(),
        "storage": "enabled" if deps.store is not None else "disabled",
        "storage_backlog": _backlog(deps),
        "privacy": deps.settings.get("privacy"),
    }


def _backlog(deps: WebDeps) -> dict[str, Any] | None:
    """Writes waiting for the disk: a full or failing disk shows here before data is lost."""
    b = deps.store.write_backlog() if deps.store is not None else None
    if b is None:
        return None
    return {
        "queued": b.queued,
        "waiting_for_disk": b.waiting_for_disk,
        "failing_since": iso_utc(b.failing_since) if b.failing_since is not None else None,
        "last_error": b.last_error,
        "refused": b.refused,
    }


def _stats_range(deps: WebDeps) -> tuple[float, float, Bucket, int]:
    """``from``, ``to``, ``bucket`` and ``tz`` of a stats request, checked (400 otherwise)."""
    q = bottle.request.query
    now = time.time()
    bucket = checked(lambda: as_choice(q.get("bucket", "hour"), "bucket", BUCKETS))
    default_span = 86400 if bucket == "hour" else 30 * 86400
    end = checked(lambda: as_time(q["to"], "to")) if q.get("to") else now
    start = checked(lambda: as_time(q["from"], "from")) if q.get("from") else end - default_span
    tz = checked(lambda: as_int(q.get("tz", str(tz_offset(now))), "tz", -14 * 3600, 14 * 3600))
    if start >= end:
        raise bottle.HTTPError(400, "from: must be before to")
    max_span = 31 * 86400 if bucket == "hour" else 1000 * 86400
    if end - start > max_span:
        raise bottle.HTTPError(
            400, f"from: range too long for bucket={bucket} (max {max_span // 86400} days)"
        )
    return start, end, bucket, tz


def _stats(deps: WebDeps) -> dict[str, Any]:
    start, end, bucket, tz = _stats_range(deps)
    store = need_store(deps.store)
    expected = deps.settings.device.expected_dwell_s
    return {
        "from": iso_utc(start),
        "to": iso_utc(end),
        "bucket": bucket,
        "tz_offset_s": tz,
        "expected_dwell_s": expected,
        "summary": with_holding_power(store.summary(start, end), expected),
        "buckets": [
            with_holding_power(b, expected)
            for b in store.buckets(start, end, bucket, tz_offset_s=tz, medians=True)
        ],
        "dwell_histogram": store.dwell_histogram(start, end),
    }
