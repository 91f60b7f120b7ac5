"""A museum larger than one broker: a floor's mosquitto bridged to the core broker, exactly as
docs/fleet.md configures it. A box on either broker sees every device, retained state and last
wills included."""

from __future__ import annotations

import signal

import pytest

from bench.fleet import device_id, fleet_box, start_workers, stop_workers
from tests.mqtt.conftest import Broker
from tests.support import wait_for


def bridge_lines(core: Broker) -> list[str]:
    """The bridge section of docs/fleet.md, pointed at the test's core broker."""
    return [
        "connection floor-2-to-core",
        f"address {core.host}:{core.port}",
        "topic affectra/# both 1",
        "bridge_protocol_version mqttv311",
        "try_private true",
        "cleansession true",
        "restart_timeout 1",
    ]


@pytest.fixture
def museum(tmp_path):
    core = Broker(tmp_path / "core").start()
    floor = Broker(tmp_path / "floor")
    floor.conf_path.write_text(floor.conf_path.read_text() + "\n".join(bridge_lines(core)) + "\n")
    floor.start()
    yield core, floor
    floor.stop()
    core.stop()


def test_a_bridged_floor_and_the_core_see_one_fleet(museum, tmp_path):
    core, floor = museum
    on_core = start_workers([2], core.port, tmp_path / "a", "--seconds", "0")
    on_floor = start_workers([2], floor.port, tmp_path / "b", "--seconds", "0", first=1)
    floor_devices = {device_id(1, i) for i in range(2)}
    everyone = {device_id(0, i) for i in range(2)} | floor_devices
    box_core = fleet_box(core, tmp_path / "box-core")
    box_floor = fleet_box(floor, tmp_path / "box-floor")
    try:
        for box in (box_core, box_floor):
            http = box.login()

            def listed(http=http, box=box) -> dict[str, bool | None]:
                docs = http.get(box.url + "/api/fleet", timeout=30).json()["devices"]
                return {d["device_id"]: d["online"] for d in docs}

            wait_for(lambda listed=listed: set(listed()) >= everyone, timeout=20)
            assert all(listed()[d] is True for d in everyone)
        on_floor[0].send_signal(signal.SIGKILL)
        # the floor broker publishes the last wills; the bridge carries them to the core
        http = box_core.login()

        def offline_on_core() -> set[str]:
            docs = http.get(box_core.url + "/api/fleet", timeout=30).json()["devices"]
            return {d["device_id"] for d in docs if d["online"] is False}

        wait_for(lambda: offline_on_core() == floor_devices, timeout=30)
    finally:
        for box in (box_core, box_floor):
            box.stop()
        stop_workers(on_core + on_floor)
