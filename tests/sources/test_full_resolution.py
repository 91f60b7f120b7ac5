"""Emotion crops come from the camera's full-resolution frame, detection from a smaller copy.

A 1280×720 clip goes through the file source and through the ESP32-CAM simulator (real HTTP,
the firmware's MJPEG wire format) with ``[camera] detect_width = 640``. A recording wrapper
around the real classifier shows what the classifier was handed: the 1280×720 picture and
boxes scaled to it, so a face has twice the pixels it has in the detection copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from affectra_edge.classify import build_classifier, crop_face
from affectra_edge.config import CameraConfig, ClassifierConfig, Config
from affectra_edge.esp32_sim import SimOptions
from affectra_edge.pipeline import build_pipeline
from affectra_edge.sources import SourceCounters, build_source, make_frame
from affectra_edge.types import Box, Emotions, Frame
from tests.sources.camera_support import clip_frames, esp32_camera

W, H = 1280, 720


class RecordingClassifier:
    """The real classifier, remembering the image and boxes of every call."""

    name = "recording"

    def __init__(self):
        self.inner = build_classifier(ClassifierConfig())
        self.calls: list[tuple[np.ndarray, list[Box]]] = []

    def classify(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Emotions]:
        self.calls.append((image, list(boxes)))
        return self.inner.classify(image, boxes)


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory, astronaut):
    import cv2

    path = tmp_path_factory.mktemp("hd") / "hd.avi"
    frames = clip_frames(astronaut, W, H)[:40]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def run(frames: list[Frame]) -> tuple[RecordingClassifier, list]:
    clf = RecordingClassifier()
    pipeline = build_pipeline(Config(), classifier=clf)
    results = [pipeline.process(f) for f in frames]
    return clf, results


def check_full_resolution(frames: list[Frame]) -> None:
    for f in frames:
        assert f.image.shape == (360, 640, 3)
        assert f.full is not None and f.full.shape == (H, W, 3)
    clf, results = run(frames)
    assert clf.calls, "no face reached the classifier"
    by_index = {id(f.full): f for f in frames}
    for image, boxes in clf.calls:
        assert image.shape == (H, W, 3)
        frame = by_index[id(image)]  # the very array the source decoded at full resolution
        result = next(r for r in results if r.frame_index == frame.index)
        for big, small in zip(boxes, [t.box for t in result.faces if t.visible], strict=False):
            assert big.w == pytest.approx(small.w * 2, rel=1e-6)
            crop = crop_face(image, big)
            assert crop.shape[1] >= 1.9 * crop_face(frame.image, small).shape[1]


def test_file_source_hands_the_full_frame_to_the_classifier(hd_clip):
    src = build_source(CameraConfig(type="file", path=str(hd_clip)), SourceCounters())
    src.open()
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.close()
    check_full_resolution(frames)


def test_esp32_stream_hands_the_full_frame_to_the_classifier(simulators, hd_clip):
    sim = simulators(hd_clip, options=SimOptions(fps=0, loop=False, quality=90))
    src = build_source(esp32_camera(sim.stream_url), SourceCounters())
    src.open()
    try:
        frames = [src.read() for _ in range(40)]
    finally:
        src.close()
    check_full_resolution(frames)


def test_detect_width_zero_keeps_one_picture():
    img = np.zeros((H, W, 3), np.uint8)
    f = make_frame(img, 0.0, 0, 0)
    assert f.image is img and f.full is None
    assert f.for_classifier == (img, 1.0)
    small = make_frame(np.zeros((480, 640, 3), np.uint8), 0.0, 0, 640)
    assert small.full is None  # already detection-sized: nothing to copy
