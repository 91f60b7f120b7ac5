"""Today's visitor-studies measures (docs/measures.md) in the retained MQTT summary and as Home
Assistant sensors: a real store, the real read model (LiveFigures) and a real mosquitto."""

from __future__ import annotations

import time

import pytest

from affectra_edge.publish.discovery import measure_sensor_specs, template_field
from affectra_edge.publish.payloads import summary_payload
from affectra_edge.types import Emotions, ViewerSession
from tests.mqtt.conftest import DEVICE_ID, PREFIX, Subscriber, retained
from tests.mqtt.schemas import validate
from tests.support import wait_for

HAPPY_NEUTRAL = Emotions((0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.4))
MEASURE_SENSORS = {
    "passers_by": "passers_by",
    "attraction_power": "attraction_power",
    "holding_power": "holding_power",
    "median_dwell": "median_dwell_s",
    "valence": "valence",
    "arousal": "arousal",
}


def test_summary_without_viewers_says_unknown_not_zero():
    doc = summary_payload({"visitors_today": 0, "emotions": {}}, DEVICE_ID, 0.0)
    for field in ("attraction_power", "holding_power", "valence", "arousal"):
        assert field in doc and doc[field] is None  # Home Assistant shows "unknown"
    assert doc["passers_by"] == 0
    assert {s.object_id: s.field for s in measure_sensor_specs()} == MEASURE_SENSORS


def test_summary_and_home_assistant_sensors_carry_todays_measures(broker, store, make_publisher):
    from affectra_edge.config import CameraConfig
    from affectra_edge.figures import LiveFigures, local_day_start
    from affectra_edge.metrics import Registry
    from affectra_edge.sources.runner import CaptureRunner

    now = time.time()
    day0 = local_day_start(now)
    t = day0 + (now - day0) / 2  # today, whatever the time of day the test runs
    # two viewers today, of 6 s and 10 s, and six passers-by
    store.import_sessions(
        [
            ViewerSession("a", 1, t - 6.0, t, 60, HAPPY_NEUTRAL, device_id=DEVICE_ID),
            ViewerSession("b", 2, t - 10.0, t, 90, HAPPY_NEUTRAL, device_id=DEVICE_ID),
        ]
    )
    store.count_passers_by([t] * 6)
    assert store.flush(10)
    figures = LiveFigures(
        CaptureRunner(CameraConfig()), store, Registry(), expected_dwell_s=lambda: 16.0
    )
    pub = make_publisher(broker, store, summary_fn=figures.summary)
    pub.start()
    wait_for(lambda: pub.state == "connected", timeout=10)
    wait_for(lambda: retained(broker, f"{PREFIX}/summary"), timeout=10)
    message = retained(broker, f"{PREFIX}/summary")
    validate(f"{PREFIX}/summary", message.payload)  # every field is in summary.schema.json
    summary = message.json()
    assert summary["visitors_today"] == 2 and summary["passers_by"] == 6
    assert summary["attraction_power"] == 0.25
    assert summary["median_dwell_s"] == pytest.approx(8.0)
    assert summary["expected_dwell_s"] == 16.0 and summary["holding_power"] == 0.5
    assert summary["valence"] == pytest.approx(0.486) and summary["arousal"] == pytest.approx(0.306)

    ha = Subscriber(broker, ["homeassistant/#"])
    try:
        wait_for(
            lambda: {m.topic.split("/")[3] for m in ha.messages} >= set(MEASURE_SENSORS),
            timeout=10,
        )
        configs = {m.topic.split("/")[3]: m.json() for m in ha.messages}
    finally:
        ha.close()
    for object_id, field in MEASURE_SENSORS.items():
        cfg = configs[object_id]
        validate(f"homeassistant/sensor/{DEVICE_ID}/{object_id}/config", _bytes(cfg))
        assert cfg["state_topic"] == f"{PREFIX}/summary"
        assert template_field(cfg["value_template"]) == field and field in summary
    assert configs["median_dwell"]["unit_of_measurement"] == "s"
    assert configs["attraction_power"]["state_class"] == "measurement"


def _bytes(doc: dict) -> bytes:
    import json

    return json.dumps(doc).encode()
