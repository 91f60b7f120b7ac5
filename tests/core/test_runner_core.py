"""The capture runner with real file and demo sources (ESP32 and USB tests live in tests/sources)."""

from __future__ import annotations

import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.ports import SourceError
from affectra_edge.sources.runner import CaptureRunner
from affectra_edge.types import Frame
from tests.support import wait_for


def test_file_source_delivers_every_frame_in_order_then_ends(demo_clip):
    runner = CaptureRunner(CameraConfig(type="file", path=str(demo_clip)))
    runner.start()
    indices = []
    while True:
        frame = runner.next_frame(timeout=5.0)
        if frame is None:
            break
        indices.append(frame.index)
    runner.stop()
    assert indices == list(range(600))
    assert runner.counters.dropped == 0


def test_missing_file_is_an_error_state_not_a_crash(tmp_path):
    runner = CaptureRunner(CameraConfig(type="file", path=str(tmp_path / "none.mp4")))
    runner.start()
    assert runner.next_frame(timeout=5.0) is None
    wait_for(lambda: runner.state == "error")
    assert "none.mp4" in runner.status()["error"]
    # the camera it was started with can never work: the daemon exits 5 on this
    assert runner.unusable == f"{tmp_path / 'none.mp4'}: no such file or folder"
    runner.stop()


def test_a_camera_switched_to_at_run_time_never_ends_the_daemon(tmp_path, astronaut):
    """Only the camera the daemon was started with makes it exit: staff who switch to a
    camera that cannot work from the web UI get an error state they can switch away from."""
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), astronaut[:64, :64])
    runner = CaptureRunner(CameraConfig(type="file", path=str(folder)))
    runner.start()
    assert runner.next_frame(timeout=5.0) is not None
    runner.switch(CameraConfig(type="file", path=str(tmp_path / "none.mp4")))
    wait_for(lambda: runner.state == "error")
    assert runner.unusable == ""
    runner.stop()


class Flaky:
    """A live source that fails on its first two connections, then streams."""

    live = True
    name = "flaky"
    opened = 0

    def __init__(self, camera, counters):
        self.i = 0

    def open(self):
        Flaky.opened += 1
        if Flaky.opened <= 2:
            raise SourceError("device busy")

    def read(self):
        self.i += 1
        return Frame(np.zeros((8, 8, 3), np.uint8), float(self.i), self.i)

    def close(self):
        pass


def test_lost_source_reconnects_with_backoff_and_counts_it():
    Flaky.opened = 0
    states = []
    runner = CaptureRunner(
        CameraConfig(type="usb", reconnect_min_s=0.05, reconnect_max_s=0.1), factory=Flaky
    )
    orig = runner._set_state

    def spy(state, error=""):
        states.append(state)
        orig(state, error)

    runner._set_state = spy
    runner.start()
    assert wait_for(lambda: runner.next_frame(timeout=0.5), timeout=10)
    runner.stop()
    assert states[:4] == ["connecting", "lost", "connecting", "lost"]
    assert "streaming" in states
    assert Flaky.opened == 3
    # a slow consumer makes the live runner drop, never queue
    assert runner.counters.frames > 0


def test_demo_source_is_live_and_drops_when_the_consumer_is_slow():
    runner = CaptureRunner(CameraConfig(type="demo", fps=50))
    runner.start()
    first = runner.next_frame(timeout=5)
    wait_for(lambda: runner.counters.frames > first.index + 10, timeout=10)
    second = runner.next_frame(timeout=5)
    runner.stop()
    assert second.index > first.index + 1  # the newest frame, not the next queued one
    assert runner.counters.dropped > 0
    assert runner.status()["state"] == "stopped"
