"""The published JSON Schemas (``docs/schemas/``) and a validator for real MQTT messages."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"

#: the last topic level → schema name (discovery configs are recognised by their path)
BY_LEAF = {
    "session": "session",
    "summary": "summary",
    "viewers": "viewers",
    "event": "event",
    "status": "status",
}


@cache
def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def schema_for(topic: str) -> str:
    if topic.endswith("/config") and topic.startswith("homeassistant/"):
        return "ha-discovery"
    return BY_LEAF[topic.rsplit("/", 1)[1]]


def validate(topic: str, payload: bytes) -> str:
    """Validate one published message against its schema; returns the schema's name.

    Stricter than the schema itself: the schemas allow unknown fields (subscribers must
    ignore what they do not know), but every field *we* publish must be documented there."""
    import jsonschema

    name = schema_for(topic)
    s = schema(name)
    doc = payload.decode() if name == "status" else json.loads(payload)
    jsonschema.Draft202012Validator.check_schema(s)
    jsonschema.Draft202012Validator(s).validate(doc)
    if isinstance(doc, dict):
        undocumented = set(doc) - set(s["properties"])
        assert not undocumented, f"{topic}: fields missing from {name}.schema.json: {undocumented}"
    return name
