"""Fixtures for the camera-source tests: a real clip with a real face, simulators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.sources.camera_support import CLIP_FPS, CLIP_FRAMES, clip_frames


@pytest.fixture(scope="session")
def clip(tmp_path_factory, astronaut) -> tuple[Path, list[np.ndarray]]:
    """A real MJPG-in-AVI file written with cv2.VideoWriter, and the frames read back from it."""
    import cv2

    path = tmp_path_factory.mktemp("sources") / "visitors.avi"
    frames = clip_frames(astronaut)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), CLIP_FPS, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        decoded.append(img)
    cap.release()
    assert len(decoded) == CLIP_FRAMES
    return path, decoded


@pytest.fixture
def simulators():
    """Start simulators through ``make(...)``; all are stopped at teardown."""
    from affectra_edge.esp32_sim import Esp32Simulator

    started: list[Esp32Simulator] = []

    def make(video=None, **kwargs) -> Esp32Simulator:
        sim = Esp32Simulator(video, **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
