"""Payload builders and discovery configs, without a broker."""

from __future__ import annotations

import json

from affectra_edge.publish.discovery import (
    DeviceInfo,
    discovery_configs,
    measure_sensor_specs,
    template_field,
)
from affectra_edge.publish.payloads import (
    Topics,
    emotion_shares_pct,
    summary_payload,
    viewers_payload,
)
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
    configs = discovery_configs(topics, DeviceInfo("box-1", "Box One", "http://box-1:8080/"))
    summary = summary_payload({"emotions": {"happy": 1}}, "box-1", 0.0)
    viewers = viewers_payload(1, "box-1", 0.0)
    states = {topics.summary: summary, topics.viewers: viewers}
    # the sensors, "someone viewing" and the arrival/departure event entity
    assert len(configs) == 4 + len(measure_sensor_specs()) + len(EMOTIONS) + 1 + 2
    seen_topics, seen_ids = set(), set()
    for topic, cfg in configs:
        cfg = json.loads(json.dumps(cfg))  # valid JSON round trip
        assert topic not in seen_topics and cfg["unique_id"] not in seen_ids
        seen_topics.add(topic)
        seen_ids.add(cfg["unique_id"])
        component = topic.split("/")[1]
        assert topic.startswith(f"homeassistant/{component}/box-1/")
        assert cfg["availability_topic"] == "affectra/box-1/status"
        assert cfg["device"]["name"] == cfg["device"]["suggested_area"] == "Box One"
        assert cfg["device"]["configuration_url"] == "http://box-1:8080/"
        if component == "event":
            assert cfg["state_topic"] == topics.event and cfg["event_types"] == ["arrived", "left"]
            continue
        field = template_field(cfg["value_template"])
        # KeyError if the template reads a field that is not there
        _lookup(states[cfg["state_topic"]], field)
    viewing = dict(configs)["homeassistant/binary_sensor/box-1/viewing/config"]
    assert viewing["state_topic"] == topics.viewers and viewing["device_class"] == "occupancy"
    # A second device gets different ids (two boxes in one Home Assistant).
    other = {c["unique_id"] for _, c in discovery_configs(Topics("x"), DeviceInfo("box-2", "Two"))}
    assert not other & seen_ids


def test_summary_says_which_local_day_it_counts(monkeypatch):
    """20:00 UTC on 30 November is already 1 December in Auckland: the summary must say so."""
    import time

    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    try:
        doc = summary_payload({}, "box-1", 1_796_068_800.0, room="East wing", interval_s=60)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert doc["timestamp"] == "2026-11-30T20:00:00.000Z"
    assert doc["date"] == "2026-12-01" and doc["tz"] == "Pacific/Auckland"
    assert doc["utc_offset_s"] == 13 * 3600  # New Zealand summer time
    assert doc["room"] == "East wing" and doc["artwork"] is None and doc["interval_s"] == 60


def test_configuration_url_is_an_address_people_can_visit():
    from affectra_edge.config import WebConfig
    from affectra_edge.publish.discovery import configuration_url

    assert configuration_url(WebConfig(public_url="https://gallery7.lan/")) == (
        "https://gallery7.lan/"
    )
    url = configuration_url(WebConfig(host="0.0.0.0", port=8443, tls_cert="/c.pem"))
    assert url is not None and url.startswith("https://") and url.endswith(":8443/")
    assert "0.0.0.0" not in url  # a wildcard bind address is nowhere to go
    assert configuration_url(WebConfig(host="::1", port=80)) == "http://[::1]:80/"
    assert configuration_url(WebConfig(enabled=False)) is None
