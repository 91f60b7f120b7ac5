"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from affectra_edge.publish.fleet import SORT_KEYS as FLEET_SORT_KEYS
from affectra_edge.types import EMOTIONS

_ERR = {"$ref": "#/components/responses/Error"}

_CIRCUMPLEX_AXIS: dict[str, dict[str, Any]] = {
    axis: {
        "type": ["number", "null"],
        "minimum": -1,
        "maximum": 1,
        "description": f"mean {axis} on Russell's circumplex (docs/measures.md); "
        "null without viewers",
    }
    for axis in ("valence", "arousal")
}

#: the visitor-studies measures of a summary or bucket (definitions: docs/measures.md)
_MEASURES: dict[str, dict[str, Any]] = {
    "passers_by": {
        "type": "integer",
        "description": "faces seen for less than [sessions] min_dwell_s, counted per 15 minutes",
    },
    "attraction_power": {
        "type": ["number", "null"],
        "minimum": 0,
        "maximum": 1,
        "description": "visitors / (visitors + passers_by); null when nobody passed",
    },
    "holding_power": {
        "type": ["number", "null"],
        "minimum": 0,
        "description": "avg_dwell_s / [device] expected_dwell_s; null without visitors",
    },
    **_CIRCUMPLEX_AXIS,
}


def _emotions() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {e: {"type": "number", "minimum": 0, "maximum": 1} for e in EMOTIONS},
        "required": list(EMOTIONS),
    }


def _fleet() -> dict[str, Any]:
    nullable = lambda t: {"type": [t, "null"]}  # noqa: E731
    device = {
        "type": "object",
        "properties": {
            "device_id": {"type": "string"},
            "prefix": {"type": "string"},
            "online": nullable("boolean"),
            "room": nullable("string"),
            "artwork": nullable("string"),
            "last_seen": {**nullable("number"), "description": "epoch s, the device's clock"},
            "day": nullable("string"),
            "visitors_today": nullable("integer"),
            "avg_dwell_s": nullable("number"),
            "dominant": {"enum": [*EMOTIONS, None]},
            "viewers_now": nullable("integer"),
            "attraction_power": nullable("number"),
            "holding_power": nullable("number"),
            "valence": nullable("number"),
            "arousal": nullable("number"),
            "stale": {"type": "boolean", "description": "the summary counts an earlier day"},
            "self": {"type": "boolean", "description": "this device"},
        },
        "required": ["device_id", "prefix", "online", "stale", "self"],
    }
    return {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean", "description": "false when MQTT is off"},
            "reason": {"type": "string"},
            "root": {"type": "string"},
            "connected": {"type": "boolean"},
            "today": {"type": "string"},
            "sort": {"type": "string"},
            "order": {"type": "string"},
            "count": {"type": "integer"},
            "online": {"type": "integer"},
            "devices": {"type": "array", "items": device},
        },
        "required": ["enabled", "devices", "count"],
    }


def _ok(schema: dict[str, Any], desc: str = "OK", media: str = "application/json") -> dict:
    return {"description": desc, "content": {media: {"schema": schema}}}


def _q(name: str, schema: dict[str, Any], desc: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


#: the range and bucketing of /api/stats and /api/stats.csv
_STATS_PARAMETERS: list[dict[str, Any]] = [
    _q("from", {"type": "string"}, "start: ISO-8601 or epoch seconds"),
    _q("to", {"type": "string"}, "end: ISO-8601 or epoch seconds (now)"),
    _q("bucket", {"type": "string", "enum": ["hour", "day"]}, "bucket size"),
    _q(
        "tz",
        {"type": "integer", "minimum": -50400, "maximum": 50400},
        "offset of local time from UTC in seconds (bucket edges)",
    ),
]


def openapi_document(version: str) -> dict[str, Any]:
    ref = lambda n: {"$ref": f"#/components/schemas/{n}"}  # noqa: E731
    csrf: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]
    common = {"401": _ERR, "403": _ERR}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Affectra Edge API",
            "version": version,
            "description": (
                "JSON API of one Affectra Edge device. Log in through `/login` (form) to get the "
                "session cookie; every state-changing request also needs the session's CSRF "
                "token in the `X-CSRF-Token` header (it is in the `csrf-token` meta tag of every "
                "page). Times are ISO-8601 UTC."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"session": []}],
        "paths": {
            "/api/status": {
                "get": {
                    "summary": "Device, camera, pipeline and MQTT state",
                    "operationId": "getStatus",
                    "responses": {"200": _ok(ref("Status")), **common},
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "Visitors and emotions over a time range, in hourly or daily buckets",
                    "operationId": "getStats",
                    "parameters": _STATS_PARAMETERS,
                    "responses": {"200": _ok(ref("Stats")), "400": _ERR, **common, "503": _ERR},
                }
            },
            "/api/stats.csv": {
                "get": {
                    "summary": "The measures of /api/stats as CSV, one row a bucket: start, "
                    "visitors, passers_by, attraction_power, avg_dwell_s, median_dwell_s, "
                    "holding_power, valence, arousal, dominant (empty: not computable)",
                    "operationId": "getStatsCsv",
                    "parameters": _STATS_PARAMETERS,
                    "responses": {
                        "200": _ok({"type": "string"}, "CSV file", "text/csv"),
                        "400": _ERR,
                        **common,
                        "503": _ERR,
                    },
                }
            },
            "/api/sessions": {
                "get": {
                    "summary": "Viewer sessions, newest first",
                    "operationId": "listSessions",
                    "parameters": [
                        _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                        _q("offset", {"type": "integer", "minimum": 0}, "rows to skip"),
                    ],
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {
                                    "total": {"type": "integer"},
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"},
                                    "sessions": {"type": "array", "items": ref("Session")},
                                },
                                "required": ["total", "limit", "offset", "sessions"],
                            }
                        ),
                        "400": _ERR,
                        **common,
                        "503": _ERR,
                    },
                }
            },
            "/api/cameras": {
                "get": {
                    "summary": "Current camera source, its state and counters",
                    "operationId": "getCameras",
                    "responses": {"200": _ok(ref("Cameras")), **common},
                },
                "post": {
                    "summary": "Switch the camera source (admin)",
                    "operationId": "switchCamera",
                    "security": csrf,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref("CameraSwitch")}},
                    },
                    "responses": {
                        "200": _ok({"type": "object", "properties": {"current": ref("Camera")}}),
                        "400": _ERR,
                        **common,
                    },
                },
            },
            "/api/settings": {
                "get": {
                    "summary": "Run-time settings",
                    "operationId": "getSettings",
                    "responses": {"200": _ok(ref("Settings")), **common},
                },
                "post": {
                    "summary": "Change run-time settings (admin); only the given keys change",
                    "operationId": "setSettings",
                    "security": csrf,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref("SettingsChange")}},
                    },
                    "responses": {"200": _ok(ref("Settings")), "400": _ERR, **common},
                },
            },
            "/api/analyze": {
                "post": {
                    "summary": "Faces and emotions in one uploaded JPEG/PNG (never stored)",
                    "operationId": "analyzeImage",
                    "security": csrf,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "image": {
                                            "type": "string",
                                            "contentMediaType": "application/octet-stream",
                                        }
                                    },
                                    "required": ["image"],
                                }
                            },
                            "image/jpeg": {"schema": {"type": "string"}},
                            "image/png": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": _ok(ref("Analysis")),
                        "400": _ERR,
                        **common,
                        "411": _ERR,
                        "413": _ERR,
                        "503": _ERR,
                    },
                }
            },
            "/api/clear": {
                "post": {
                    "summary": "Delete all visitor data (admin); needs confirm = DELETE",
                    "operationId": "clearAll",
                    "security": csrf,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"confirm": {"const": "DELETE"}},
                                    "required": ["confirm"],
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _ok(
                            {
                                "type": "object",
                                "properties": {
                                    "cleared": {"type": "boolean"},
                                    "sessions_deleted": {"type": "integer"},
                                },
                            }
                        ),
                        "400": _ERR,
                        **common,
                        "503": _ERR,
                    },
                }
            },
            "/api/export.csv": {
                "get": {
                    "summary": "All sessions in a range as CSV (admin)",
                    "operationId": "exportCsv",
                    "parameters": [
                        _q("from", {"type": "string"}, "start: ISO-8601 or epoch seconds"),
                        _q("to", {"type": "string"}, "end: ISO-8601 or epoch seconds"),
                    ],
                    "responses": {
                        "200": _ok({"type": "string"}, "CSV file", "text/csv"),
                        "400": _ERR,
                        **common,
                        "503": _ERR,
                    },
                }
            },
            "/api/events": {
                "get": {
                    "summary": "Server-sent events: `stats` once a second with the live figures",
                    "operationId": "events",
                    "responses": {
                        "200": _ok({"type": "string"}, "event stream", "text/event-stream"),
                        **common,
                        "503": _ERR,
                    },
                }
            },
            "/api/fleet": {
                "get": {
                    "summary": "Every device under the shared MQTT topic root, from their "
                    "retained status and summary (the museum view)",
                    "operationId": "getFleet",
                    "parameters": [
                        _q("sort", {"type": "string", "enum": list(FLEET_SORT_KEYS)}, "column"),
                        _q("order", {"type": "string", "enum": ["asc", "desc"]}, "direction"),
                    ],
                    "responses": {"200": _ok(ref("Fleet")), "400": _ERR, **common},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": _ok({"type": "object"}), **common},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "operationId": "metrics",
                    "responses": {
                        "200": _ok({"type": "string"}, "metrics", "text/plain"),
                        **common,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: ok, or 503 when the pipeline is stalled (no login)",
                    "operationId": "health",
                    "security": [],
                    "responses": {
                        "200": _ok(ref("Health")),
                        "503": _ok(ref("Health"), "pipeline stalled"),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "affectra_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "responses": {
                "Error": {
                    "description": "Error",
                    "content": {"application/json": {"schema": ref("Error")}},
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                    "required": ["error", "status"],
                },
                "Health": {
                    "type": "object",
                    "properties": {"status": {"type": "string", "enum": ["ok", "stalled"]}},
                },
                "Emotions": _emotions(),
                "Fleet": _fleet(),
                "Session": {
                    "type": "object",
                    "properties": {
                        "type": {"const": "session"},
                        "version": {"type": "integer"},
                        "session_id": {"type": "string"},
                        "device_id": {"type": "string"},
                        "artwork": {"type": "string"},
                        "started_at": {"type": "string", "format": "date-time"},
                        "ended_at": {"type": "string", "format": "date-time"},
                        "duration_s": {"type": "number"},
                        "frames": {"type": "integer"},
                        "emotions": ref("Emotions"),
                        "dominant": {"type": "string", "enum": list(EMOTIONS)},
                        "valence": _CIRCUMPLEX_AXIS["valence"],
                        "arousal": _CIRCUMPLEX_AXIS["arousal"],
                    },
                },
                "Summary": {
                    "type": "object",
                    "properties": {
                        "visitors": {"type": "integer"},
                        "avg_dwell_s": {"type": "number"},
                        "median_dwell_s": {"type": "number"},
                        "total_dwell_s": {"type": "number"},
                        "dominant": {"type": ["string", "null"]},
                        "emotions": ref("Emotions"),
                        "viewers_now": {"type": "integer"},
                        **_MEASURES,
                    },
                },
                "Bucket": {
                    "type": "object",
                    "properties": {
                        "start": {"type": ["number", "string"]},
                        "visitors": {"type": "integer"},
                        "avg_dwell_s": {"type": "number"},
                        "median_dwell_s": {
                            "type": ["number", "null"],
                            "description": "exact median dwell; null when the range holds "
                            "more than 50 000 sessions (ask for a shorter range)",
                        },
                        "dominant": {"type": ["string", "null"]},
                        "emotions": ref("Emotions"),
                        **_MEASURES,
                    },
                },
                "Stats": {
                    "type": "object",
                    "properties": {
                        "from": {"type": "string", "format": "date-time"},
                        "to": {"type": "string", "format": "date-time"},
                        "bucket": {"type": "string", "enum": ["hour", "day"]},
                        "tz_offset_s": {"type": "integer"},
                        "expected_dwell_s": {
                            "type": "number",
                            "description": "[device] expected_dwell_s, holding power's divisor",
                        },
                        "summary": ref("Summary"),
                        "buckets": {"type": "array", "items": ref("Bucket")},
                        "dwell_histogram": {
                            "type": "array",
                            "items": ref("DwellBand"),
                            "description": "visitors per dwell band over the range: under 3 s, "
                            "3–10 s, 10–30 s, 30 s and more (whole days from the daily "
                            "histograms, the bin at a band edge split by its width)",
                        },
                    },
                },
                "DwellBand": {
                    "type": "object",
                    "properties": {
                        "min_s": {"type": "number"},
                        "max_s": {"type": ["number", "null"], "description": "null: no limit"},
                        "visitors": {"type": "integer"},
                    },
                    "required": ["min_s", "max_s", "visitors"],
                },
                "Camera": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "source": {"type": "string"},
                        "state": {
                            "type": "string",
                            "enum": [
                                "connecting",
                                "streaming",
                                "lost",
                                "ended",
                                "error",
                                "stopped",
                            ],
                        },
                        "error": {"type": "string"},
                        "frames": {"type": "integer"},
                        "dropped": {"type": "integer"},
                        "corrupt": {"type": "integer"},
                        "reconnects": {"type": "integer"},
                    },
                },
                "Cameras": {
                    "type": "object",
                    "properties": {
                        "current": ref("Camera"),
                        "types": {"type": "array", "items": {"type": "string"}},
                        "privacy": {"type": "string"},
                    },
                },
                "CameraSwitch": {
                    "type": "object",
                    "properties": {
                        "type": {
                            "type": "string",
                            "enum": ["demo", "file", "usb", "picamera", "esp32"],
                        },
                        "url": {
                            "type": "string",
                            "description": "esp32: http(s)://host[:port]/path",
                        },
                        "path": {"type": "string", "description": "file: video file or folder"},
                        "device": {"type": "string", "description": "usb: /dev/videoN or index"},
                    },
                    "required": ["type"],
                    "additionalProperties": False,
                },
                "Settings": {
                    "type": "object",
                    "properties": {
                        "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                        "retention_days": {"type": "integer", "minimum": 0, "maximum": 36500},
                        "max_sessions": {"type": "integer", "minimum": 0},
                        "artwork": {"type": "string", "maxLength": 200},
                        "device_name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "privacy": {"type": "string", "enum": ["off", "boxes", "blurred", "full"]},
                    },
                },
                "SettingsChange": {
                    "allOf": [ref("Settings")],
                    "additionalProperties": False,
                },
                "Face": {
                    "type": "object",
                    "properties": {
                        "box": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "minItems": 4,
                            "maxItems": 4,
                        },
                        "score": {"type": "number"},
                        "emotions": ref("Emotions"),
                        "dominant": {"type": "string", "enum": list(EMOTIONS)},
                    },
                },
                "Analysis": {
                    "type": "object",
                    "properties": {
                        "width": {"type": "integer"},
                        "height": {"type": "integer"},
                        "faces": {"type": "array", "items": ref("Face")},
                    },
                },
                "Status": {
                    "type": "object",
                    "properties": {
                        "device": {"type": "object"},
                        "version": {"type": "string"},
                        "time": {"type": "string", "format": "date-time"},
                        "uptime_s": {"type": "number"},
                        "user": {"type": "object"},
                        "camera": ref("Camera"),
                        "stats": {"type": "object"},
                        "summary": {"type": "object"},
                        "mqtt": {"type": "object"},
                        "storage": {"type": "string", "enum": ["enabled", "disabled"]},
                        "storage_backlog": {
                            "description": "writes waiting for the disk (null: no store)",
                            "type": ["object", "null"],
                            "properties": {
                                "queued": {"type": "integer"},
                                "waiting_for_disk": {"type": "boolean"},
                                "failing_since": {"type": ["string", "null"]},
                                "last_error": {"type": ["string", "null"]},
                                "refused": {"type": "integer"},
                            },
                        },
                        "privacy": {"type": "string"},
                    },
                },
            },
        },
    }


#: the API paths the document must describe (checked by the tests against the app's routes)
API_PATHS = (
    "/api/status",
    "/api/stats",
    "/api/stats.csv",
    "/api/sessions",
    "/api/cameras",
    "/api/settings",
    "/api/analyze",
    "/api/clear",
    "/api/export.csv",
    "/api/events",
    "/api/fleet",
    "/api/openapi.json",
    "/metrics",
    "/healthz",
)
