"""CaptureRunner with real sources: reconnect after the camera dies, switch, prompt stop."""

from __future__ import annotations

import re

from affectra_edge.esp32_sim import Esp32Simulator, SimOptions
from affectra_edge.sources.runner import CaptureRunner
from tests.sources.camera_support import esp32_camera
from tests.support import wait_for


class RecordingRunner(CaptureRunner):
    """The real runner, with every state transition recorded as it happens (no polling)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transitions: list[str] = []

    def _set_state(self, state, error: str = "") -> None:
        if not self.transitions or self.transitions[-1] != state:
            self.transitions.append(state)
        super()._set_state(state, error)


def test_simulator_killed_and_restarted_streaming_again_within_5s(clip):
    sim = Esp32Simulator(clip[0], options=SimOptions(fps=20)).start()
    port = sim.port
    cam = esp32_camera(sim.stream_url, timeout_s=2.0, reconnect_min_s=0.2, reconnect_max_s=1.0)
    runner = RecordingRunner(cam)
    runner.start()
    try:
        wait_for(lambda: runner.state == "streaming", timeout=10)
        assert runner.next_frame(timeout=5) is not None
        sim.stop()  # the camera dies: connection cut, port closed
        wait_for(lambda: runner.state in ("lost", "connecting") and runner.status()["error"], 10)
        lost_status = runner.status()
        assert re.search(r"closed|cannot connect|lost", lost_status["error"])
        assert sim.stream_url in lost_status["error"]
        # it comes back on the same address
        sim = Esp32Simulator(clip[0], port=port, options=SimOptions(fps=20)).start()
        wait_for(lambda: runner.state == "streaming", timeout=5.0)
        frame = runner.next_frame(timeout=5)
        assert frame is not None and frame.image.shape == clip[1][0].shape
        status = runner.status()
        assert status["reconnects"] >= 1
        assert status["frames"] >= 2
        assert status["source"] == sim.stream_url
    finally:
        runner.stop()
        sim.stop()
    states = runner.transitions
    assert states[:2] == ["connecting", "streaming"]
    # loss, retries, then streaming again, then stopped
    i = states.index("lost")
    assert "connecting" in states[i:] and "streaming" in states[i:]
    assert states[-1] == "stopped"


def test_garbage_stream_keeps_streaming_and_counts(simulators, clip):
    sim = simulators(clip[0], options=SimOptions(fps=30))
    runner = CaptureRunner(esp32_camera(sim.stream_url))
    runner.start()
    try:
        wait_for(lambda: runner.state == "streaming", timeout=10)
        sim.inject_garbage(2000, count=3)
        sim.inject_truncated(count=2)
        wait_for(lambda: runner.counters.corrupt >= 5, timeout=10)
        frames_before = runner.counters.frames
        wait_for(lambda: runner.counters.frames > frames_before + 3, timeout=10)
        assert runner.state == "streaming" and runner.counters.reconnects == 0
    finally:
        runner.stop()


def test_stop_interrupts_a_stalled_read(simulators, clip):
    sim = simulators(clip[0], options=SimOptions(fps=20))
    runner = CaptureRunner(esp32_camera(sim.stream_url, timeout_s=60.0))
    runner.start()
    wait_for(lambda: runner.state == "streaming", timeout=10)
    sim.stall()  # the read now blocks for up to timeout_s = 60 s
    runner.stop(timeout=10)
    assert runner._thread is not None and not runner._thread.is_alive()
    assert runner.state == "stopped"


def test_switch_between_cameras_at_run_time(simulators, clip):
    a = simulators(clip[0], options=SimOptions(fps=20, size=(320, 240)))
    b = simulators(None, options=SimOptions(fps=20, size=(200, 150)))
    runner = CaptureRunner(esp32_camera(a.stream_url))
    runner.start()
    try:
        wait_for(lambda: runner.state == "streaming", timeout=10)
        frame = runner.next_frame(timeout=5)
        assert frame is not None and frame.image.shape == (240, 320, 3)
        runner.switch(esp32_camera(b.stream_url))
        wait_for(lambda: runner.state == "streaming", timeout=10)
        assert runner.status()["source"] == b.stream_url
        # after a switch only the new camera's frames arrive
        shapes = {runner.next_frame(timeout=5).image.shape for _ in range(5)}
        assert shapes == {(150, 200, 3)}
        assert a.clients == 0
    finally:
        runner.stop()


def test_missing_usb_device_is_retried_and_reported(tmp_path):
    from affectra_edge.config import CameraConfig

    runner = CaptureRunner(
        CameraConfig(type="usb", device="/dev/video7", reconnect_min_s=0.05, reconnect_max_s=0.1)
    )
    runner.start()
    try:
        wait_for(lambda: runner.state == "lost", timeout=10)
        status = runner.status()
        assert "/dev/video7" in status["error"] and "no such video device" in status["error"]
        # the runner keeps trying (a re-plugged camera is picked up) without flooding the log
        attempts = status["attempts"]
        wait_for(lambda: runner.status()["attempts"] >= attempts + 3, timeout=10)
        assert runner.state in ("lost", "connecting")
    finally:
        runner.stop()


def test_picamera_without_picamera2_is_a_permanent_error():
    import importlib.util

    import pytest

    from affectra_edge.config import CameraConfig

    if importlib.util.find_spec("picamera2") is not None:
        pytest.skip("picamera2 is installed here")
    runner = CaptureRunner(CameraConfig(type="picamera"))
    runner.start()
    try:
        wait_for(lambda: runner.state == "error", timeout=10)
        assert "sudo apt install python3-picamera2" in runner.status()["error"]
    finally:
        runner.stop()
