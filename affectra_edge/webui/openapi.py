"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from affectra_edge.types import EMOTIONS

_ERR = {"$ref": "#/components/responses/Error"}


def _emotions() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {e: {"type": "number", "minimum": 0, "maximum": 1} for e in EMOTIONS},
        "required": list(EMOTIONS),
    }


def _ok(schema: dict[str, Any], desc: str = "OK", media: str = "application/json") -> dict:
    return {"description": desc, "content": {media: {"schema": schema}}}


def _q(name: str, schema: dict[str, Any], desc: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


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
                    "parameters": [
                        _q("from", {"type": "string"}, "start: ISO-8601 or epoch seconds"),
                        _q("to", {"type": "string"}, "end: ISO-8601 or epoch seconds (now)"),
                        _q("bucket", {"type": "string", "enum": ["hour", "day"]}, "bucket size"),
                        _q(
                            "tz",
                            {"type": "integer", "minimum": -50400, "maximum": 50400},
                            "offset of local time from UTC in seconds (bucket edges)",
                        ),
                    ],
                    "responses": {"200": _ok(ref("Stats")), "400": _ERR, **common, "503": _ERR},
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
                    },
                },
                "Bucket": {
                    "type": "object",
                    "properties": {
                        "start": {"type": ["number", "string"]},
                        "visitors": {"type": "integer"},
                        "avg_dwell_s": {"type": "number"},
                        "dominant": {"type": ["string", "null"]},
                        "emotions": ref("Emotions"),
                    },
                },
                "Stats": {
                    "type": "object",
                    "properties": {
                        "from": {"type": "string", "format": "date-time"},
                        "to": {"type": "string", "format": "date-time"},
                        "bucket": {"type": "string", "enum": ["hour", "day"]},
                        "tz_offset_s": {"type": "integer"},
                        "summary": ref("Summary"),
                        "buckets": {"type": "array", "items": ref("Bucket")},
                    },
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
    "/api/sessions",
    "/api/cameras",
    "/api/settings",
    "/api/analyze",
    "/api/clear",
    "/api/export.csv",
    "/api/events",
    "/api/openapi.json",
    "/metrics",
    "/healthz",
)
