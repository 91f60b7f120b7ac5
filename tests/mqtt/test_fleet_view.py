"""The museum view from the broker alone: real publishers in child processes (the same workers
``bench/fleet.py`` runs), one real mosquitto, and another box's /fleet page and API."""

from __future__ import annotations

import re
import signal

import jsonschema
import pytest
import requests

from affectra_edge.webui.openapi import openapi_document
from affectra_edge.webui.routes_fleet import fleet_doc
from bench.fleet import device_id, fleet_box, start_workers, stop_workers
from tests.support import wait_for

FLEET_SCHEMA = openapi_document("test")["components"]["schemas"]["Fleet"]


@pytest.fixture
def fleet(broker, tmp_path):
    # five devices in two processes; no sessions, just their retained status and summary
    procs = start_workers([3, 2], broker.port, tmp_path, "--seconds", "0")
    box = fleet_box(broker, tmp_path)
    try:
        yield box, procs
    finally:
        box.stop()
        stop_workers(procs)


def _api(http, box, **query) -> dict:
    r = http.get(box.url + "/api/fleet", params=query, timeout=30)
    r.raise_for_status()
    return r.json()


def test_every_device_under_the_root_is_listed_and_a_killed_one_goes_offline(fleet):
    box, procs = fleet
    http = box.login()
    expected = {device_id(0, i) for i in range(3)} | {device_id(1, i) for i in range(2)}
    wait_for(lambda: {d["device_id"] for d in _api(http, box)["devices"]} >= expected, timeout=20)
    doc = _api(http, box, sort="artwork", order="desc")
    jsonschema.validate(doc, FLEET_SCHEMA)
    assert doc["enabled"] and doc["connected"] and doc["root"] == "affectra"
    rows = [d for d in doc["devices"] if d["device_id"] in expected]
    assert all(d["online"] is True for d in rows)
    # room and artwork come from each device's own retained summary
    assert {d["room"] for d in rows} == {"Room 0", "Room 1"}
    assert [d["artwork"] for d in rows] == sorted((d["artwork"] for d in rows), reverse=True)
    assert all(d["visitors_today"] == 0 and d["last_seen"] for d in rows)

    procs[1].send_signal(signal.SIGKILL)  # a power cut: the broker publishes the last wills
    killed = {device_id(1, i) for i in range(2)}

    def offline() -> set[str]:
        return {d["device_id"] for d in _api(http, box)["devices"] if d["online"] is False}

    wait_for(lambda: offline() == killed, timeout=30)
    page = http.get(box.url + "/fleet?sort=online", timeout=30)
    assert page.status_code == 200
    assert len(re.findall(r"<tr data-device=", page.text)) >= 5
    assert page.text.count(">offline<") == 2


def test_the_fleet_needs_a_login_and_checks_its_parameters(fleet):
    box, _ = fleet
    anon = requests.get(box.url + "/api/fleet", timeout=30)
    assert anon.status_code == 401
    page = requests.get(box.url + "/fleet", timeout=30, allow_redirects=False)
    assert page.status_code in (302, 303) and "/login" in page.headers["Location"]
    http = box.login()
    bad = http.get(box.url + "/api/fleet", params={"sort": "password"}, timeout=30)
    assert bad.status_code == 400 and "sort" in bad.json()["error"]


def test_without_mqtt_the_view_says_why():
    doc = fleet_doc(None, "affectra/x", "room", "asc")
    jsonschema.validate(doc, FLEET_SCHEMA)
    assert doc["enabled"] is False and "MQTT" in doc["reason"] and doc["devices"] == []


def test_the_watcher_logs_in_like_the_publisher(auth_broker, tmp_path):
    """A broker with passwords: the fleet client uses the box's own user and password file."""
    from dataclasses import replace

    from affectra_edge.app import _fleet_watcher
    from affectra_edge.config import Config
    from tests.mqtt.conftest import Subscriber

    password = tmp_path / "mqtt-password"
    password.write_text("s3cret-Pa55\n")
    cfg = Config()
    cfg = replace(
        cfg,
        device=replace(cfg.device, id="box-a"),
        mqtt=replace(
            cfg.mqtt,
            enabled=True,
            host=auth_broker.host,
            port=auth_broker.port,
            username="gallery",
            password_file=str(password),
        ),
    )
    other = Subscriber(auth_broker, ["affectra-test/none"], username="watcher", password="w4tch")
    other.client.publish("affectra/box-b/status", b"online", qos=1, retain=True).wait_for_publish(5)
    watcher = _fleet_watcher(cfg)
    assert watcher is not None
    watcher.start()
    try:
        wait_for(lambda: [d.device_id for d in watcher.devices()] == ["box-b"], timeout=10)
        assert watcher.status()["connected"] and watcher.devices()[0].online is True
    finally:
        watcher.stop()
        other.close()
