"""The recipes of docs/integrations.md against the contract they read.

The code blocks are taken from the document itself, so a recipe cannot drift from the schemas
or the discovery configs unnoticed. Node-RED also runs for real when it is installed
(``scripts/setup-integrations.sh``); Home Assistant, Telegraf, InfluxDB and Grafana do not
install here, so their recipes are checked against the schemas and the discovery code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from affectra_edge.publish.discovery import DeviceInfo, discovery_configs
from affectra_edge.publish.payloads import EVENT_TYPES, Topics, summary_payload
from tests.mqtt.conftest import Subscriber, make_session
from tests.mqtt.schemas import schema
from tests.support import free_port, wait_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrations.md"
JSON_TYPES = {"int": "integer", "float": "number", "string": "string", "bool": "boolean"}


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def _recipe(lang: str, marker: str) -> str:
    (block,) = [b for b in _blocks(lang) if marker in b.splitlines()[0]] or [None]
    assert block, f"no ```{lang} block starting with {marker!r} in {DOC.name}"
    return block


def _schema_at(name: str, path: str) -> dict:
    """The sub-schema for a GJSON-style dotted ``path`` (KeyError: not in the contract)."""
    node = schema(name)
    for part in path.split("."):
        node = node["properties"][part]
    return node


def _types(node: dict) -> set[str]:
    t = node.get("type", [])
    types = {t} if isinstance(t, str) else set(t)
    if "enum" in node:  # an enum of strings (and null) reads as a string
        types |= {"string"} if any(isinstance(v, str) for v in node["enum"]) else set()
    return types


def _ha_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _schema_for_topic(topic: str) -> str:
    return topic.rsplit("/", 1)[1]


# ---- Telegraf ------------------------------------------------------------------------------


def _telegraf() -> dict:
    return tomllib.loads(_recipe("toml", "# recipe: telegraf"))


def test_telegraf_reads_only_fields_the_schemas_define_with_their_types():
    consumers = _telegraf()["inputs"]["mqtt_consumer"]
    assert consumers
    for consumer in consumers:
        (topic,) = consumer["topics"]
        name = _schema_for_topic(topic)
        assert consumer["qos"] >= 1 and consumer["data_format"] == "json_v2"
        for parser in consumer["json_v2"]:
            ts = _schema_at(name, parser["timestamp_path"])
            assert ts["type"] == "string" and ts["pattern"].endswith("Z$")
            for tag in parser.get("tag", []):
                assert _types(_schema_at(name, tag["path"])) & {"string"}, (name, tag)
            for field in parser.get("field", []):
                want = JSON_TYPES[field["type"]]
                got = _types(_schema_at(name, field["path"]))
                # an int field may come from an integer; a float one from any number
                ok = want in got or (want == "number" and "integer" in got)
                assert ok, f"{topic}: {field['path']} is {got}, the recipe reads {want}"
            for obj in parser.get("object", []):
                assert _schema_at(name, obj["path"])["type"] == "object"


def test_telegraf_paths_resolve_in_real_payloads():
    """The same paths against documents the publisher builds (GJSON: dots go down)."""
    docs = {
        "summary": summary_payload(
            {"visitors_today": 3, "emotions": {"happy": 1}}, "gallery-7", room="Gallery 7"
        ),
        "session": make_session(0).to_json(),
    }
    for consumer in _telegraf()["inputs"]["mqtt_consumer"]:
        doc = docs[_schema_for_topic(consumer["topics"][0])]
        for parser in consumer["json_v2"]:
            paths = [parser["timestamp_path"]]
            paths += [x["path"] for k in ("tag", "field", "object") for x in parser.get(k, [])]
            for path in paths:
                value = doc
                for part in path.split("."):
                    value = value[part]


def test_grafana_queries_use_what_telegraf_writes():
    written: dict[str, set[str]] = {}
    for consumer in _telegraf()["inputs"]["mqtt_consumer"]:
        for parser in consumer["json_v2"]:
            names = {f.get("rename", f["path"]) for f in parser.get("field", [])}
            names |= {t["path"] for t in parser.get("tag", [])}
            for obj in parser.get("object", []):
                props = _schema_at(_schema_for_topic(consumer["topics"][0]), obj["path"])
                names |= {f"{obj['path']}_{k}" for k in props["properties"]}
            written[parser["measurement_name"]] = names
    queries = [
        q for q in _recipe("sql", "-- recipe: grafana").splitlines() if q.startswith("SELECT")
    ]
    assert queries
    for q in queries:
        measurement = re.search(r'FROM "([^"]+)"', q).group(1)
        assert measurement in written, q
        quoted = set(re.findall(r'"([^"]+)"', q)) - {measurement}
        assert quoted <= written[measurement], (q, quoted - written[measurement])


# ---- Home Assistant ------------------------------------------------------------------------


def test_home_assistant_recipe_uses_the_entities_discovery_creates():
    import yaml

    automations = yaml.safe_load(_recipe("yaml", "# recipe: home-assistant"))
    info = DeviceInfo("gallery-7", "Gallery 7")
    configs = discovery_configs(Topics("affectra/gallery-7"), info)
    # HA's entity id: <component>.<device name>_<entity name>, slugified
    ours = {
        f"{topic.split('/')[1]}.{_ha_slug(info.name)}_{_ha_slug(cfg['name'])}": cfg
        for topic, cfg in configs
    }
    used = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "entity_id" and isinstance(value, str):
                    used.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(automations)
    ours_used = {e for e in used if not e.startswith("light.")}
    assert ours_used and ours_used <= set(ours), ours_used - set(ours)
    event = ours["event.gallery_7_viewer"]
    text = _recipe("yaml", "# recipe: home-assistant")
    for state in re.findall(r"attribute: event_type\n\s+state: (\w+)", text):
        assert state in EVENT_TYPES and state in event["event_types"]
    for attr in re.findall(r"attributes\.(\w+)", text):
        assert attr in schema("event")["properties"], attr


# ---- Node-RED ------------------------------------------------------------------------------


def _flow() -> list[dict]:
    (block,) = [b for b in _blocks("json") if '"type": "mqtt in"' in b]
    return json.loads(block)


def test_node_red_flow_reads_the_session_topic_and_its_fields():
    flow = _flow()
    (mqtt_in,) = [n for n in flow if n["type"] == "mqtt in"]
    assert re.fullmatch(r"affectra/\+/session", mqtt_in["topic"]) and mqtt_in["qos"] == "1"
    assert mqtt_in["datatype"] == "json"
    (fn,) = [n for n in flow if n["type"] == "function"]
    fields = set(re.findall(r"msg\.payload\.([a-z_]+(?:\.[a-z_]+)*)", fn["func"]))
    assert "session_id" in fields  # the de-duplication key
    for path in fields:
        _schema_at("session", path)


def _node_red() -> str | None:
    for candidate in (
        os.environ.get("AFFECTRA_NODE_RED"),
        str(ROOT / ".integrations" / "node_modules" / ".bin" / "node-red"),
        shutil.which("node-red"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def test_node_red_flow_runs_and_drops_repeated_sessions(broker, tmp_path):
    """The recipe's flow in a real Node-RED: a session delivered twice comes out once."""
    node_red = _node_red()
    if node_red is None:
        pytest.skip("Node-RED is not installed (scripts/setup-integrations.sh installs it)")
    flow = _flow()
    for node in flow:
        if node["type"] == "mqtt-broker":
            node.update(broker=broker.host, port=str(broker.port), cleansession=True)
        if node["type"] == "debug":  # where the sidebar was, publish for the test to read
            node.update(type="mqtt out", topic="affectra-test/visits", qos="1", retain="false")
            node["broker"] = next(n["id"] for n in flow if n["type"] == "mqtt-broker")
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps(flow))
    port = free_port()
    log = (tmp_path / "node-red.log").open("w")
    proc = subprocess.Popen(
        [node_red, "--userDir", str(tmp_path), "--port", str(port), str(flows)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sub = Subscriber(broker, ["affectra-test/visits"])

    def visits(device: str) -> list[dict]:
        return [
            v for v in (m.json() for m in sub.on("affectra-test/visits")) if v["device"] == device
        ]

    probes = iter(range(10_000))

    def flow_is_live() -> bool:
        # Sessions published before the flow has subscribed are not for it: probe until one
        # comes through (non-retained, so nothing of the probing lingers).
        probe = make_session(next(probes), device_id="probe")
        sub.client.publish("affectra/probe/session", json.dumps(probe.to_json()), qos=1)
        return bool(visits("probe"))

    try:
        wait_for(flow_is_live, timeout=90, interval=0.5)
        session = make_session(3, device_id="gallery-7")
        payload = json.dumps(session.to_json())
        for _ in range(2):  # at-least-once delivery: the same session twice
            sub.client.publish("affectra/gallery-7/session", payload, qos=1)
        later = make_session(4, device_id="gallery-7")
        sub.client.publish("affectra/gallery-7/session", json.dumps(later.to_json()), qos=1)
        wait_for(lambda: len(visits("gallery-7")) >= 2, timeout=30)
        got = visits("gallery-7")
        # in order, and the repeat is gone: the later session is the second visit
        assert [v["ended_at"] for v in got] == [
            session.to_json()["ended_at"],
            later.to_json()["ended_at"],
        ]
        assert got[0]["dwell_s"] == pytest.approx(session.duration_s)
        assert got[0]["emotion"] == session.dominant
        assert got[0]["artwork"] == "Nighthawks" and 0 <= got[0]["happy"] <= 1
    finally:
        sub.close()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
