"""Payload builders and discovery configs, without a broker."""

from __future__ import annotations

import json

from affectra_edge.publish.discovery import discovery_configs, template_field
from affectra_edge.publish.payloads import Topics, emotion_shares_pct, summary_payload
from affectra_edge.types import EMOTIONS, parse_iso_utc


def _lookup(doc: dict, dotted: str):
    for part in dotted.split("."):
        doc = doc[part]
    return doc


def test_summary_payload_has_the_contract_fields_whatever_the_input():
    ts = 1_700_000_000.25
    empty = summary_payload({}, "box-1", ts)
    assert empty["device_id"] == "box-1" and empty["version"] >= 1 and empty["type"] == "summary"
    assert parse_iso_utc(empty["timestamp"]) == ts and empty["timestamp"].endswith("Z")
    assert empty["visitors_today"] == 0 and empty["dominant"] is None
    assert empty["shares_pct"] == {e: 0.0 for e in EMOTIONS}

    doc = summary_payload(
        {
            "visitors_today": 7,
            "avg_dwell_s": float("nan"),  # never NaN on the wire: HA templates choke on it
            "dominant": "not-an-emotion",
            "emotions": {"sad": 0.25, "fear": 0.75},
            "viewers_now": 1,
            "fps": 9.876,
            "uptime_s": 12,
        },
        "box-1",
        ts,
    )
    json.dumps(doc, allow_nan=False)
    assert doc["avg_dwell_s"] == 0 and doc["dominant"] is None and doc["fps"] == 9.88
    assert doc["distribution"]["fear"] == 0.75 and doc["shares_pct"]["fear"] == 75.0
    assert doc["uptime_s"] == 12  # extra figures ride along


def test_shares_from_counts_fractions_or_percent_agree():
    counts = emotion_shares_pct({"happy": 3, "sad": 1})
    fractions = emotion_shares_pct({"happy": 0.75, "sad": 0.25})
    percent = emotion_shares_pct({"happy": 75, "sad": 25})
    assert counts == fractions == percent
    assert counts["happy"] == 75.0 and counts["angry"] == 0.0
    assert emotion_shares_pct(None) == {e: 0.0 for e in EMOTIONS}


def test_discovery_configs_are_json_unique_and_point_into_the_summary():
    topics = Topics("affectra/box-1")
    configs = discovery_configs(topics, "box-1", "Box One", "Nighthawks")
    summary = summary_payload({"emotions": {"happy": 1}}, "box-1", 0.0)
    assert len(configs) == 4 + len(EMOTIONS) + 1
    seen_topics, seen_ids = set(), set()
    for topic, cfg in configs:
        cfg = json.loads(json.dumps(cfg))  # valid JSON round trip
        assert topic not in seen_topics and cfg["unique_id"] not in seen_ids
        seen_topics.add(topic)
        seen_ids.add(cfg["unique_id"])
        assert topic.startswith("homeassistant/sensor/box-1/")
        assert cfg["availability_topic"] == "affectra/box-1/status"
        assert cfg["device"]["name"] == "Box One"
        field = template_field(cfg["value_template"])
        _lookup(summary, field)  # KeyError if the template reads a field that is not there
    # A second device gets different ids (two boxes in one Home Assistant).
    other = {c["unique_id"] for _, c in discovery_configs(Topics("x"), "box-2", "Two")}
    assert not other & seen_ids
