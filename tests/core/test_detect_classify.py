"""The real detector and classifier on real photographs."""

from __future__ import annotations

import numpy as np
import pytest

from affectra_edge.classify import crop_face
from affectra_edge.classify.tflite import TFLiteEmotionClassifier, preprocess
from affectra_edge.detect.blazeface import BlazeFaceDetector, make_anchors, nms
from affectra_edge.types import EMOTIONS, Box


@pytest.fixture(scope="module")
def detector():
    return BlazeFaceDetector("short")


@pytest.fixture(scope="module")
def classifier():
    return TFLiteEmotionClassifier()


def test_anchor_layout_matches_the_models():
    assert make_anchors(128, ((8, 2), (16, 6))).shape == (896, 2)
    assert make_anchors(192, ((4, 1),)).shape == (2304, 2)


def test_astronaut_one_happy_face(detector, classifier, astronaut):
    boxes = detector.detect(astronaut)
    assert len(boxes) == 1
    b = boxes[0]
    # the face is in the upper middle of the 512×512 portrait
    assert 150 < b.center[0] < 300 and 80 < b.center[1] < 200
    assert 60 < b.w < 160 and b.score > 0.8
    (emo,) = classifier.classify(astronaut, boxes)
    assert emo.dominant == "happy" and emo.confidence > 0.9
    assert sum(emo.probs) == pytest.approx(1.0)


def test_several_people_several_boxes(astronaut):
    """A real group picture built from real portraits: three people side by side."""
    import cv2

    face = cv2.resize(astronaut[20:300, 110:350], (200, 233))
    canvas = np.full((300, 700, 3), 180, np.uint8)
    for i, x in enumerate((20, 250, 480)):
        canvas[30:263, x : x + 200] = face if i != 1 else face[:, ::-1]
    boxes = BlazeFaceDetector("full").detect(canvas)
    assert len(boxes) == 3
    xs = sorted(b.center[0] for b in boxes)
    assert xs[0] < 233 < xs[1] < 466 < xs[2]


def test_group_photo_from_shared_media(shared_data):
    import cv2

    img = cv2.imread(str(shared_data / "photos/dlib_faces/2008_001322.jpg"))
    boxes = BlazeFaceDetector("full").detect(img)
    assert len(boxes) >= 3


def test_full_range_finds_small_faces_short_range_misses(astronaut):
    import cv2

    small = np.full((720, 1280, 3), 128, np.uint8)
    small[300:440, 600:740] = cv2.resize(astronaut[60:200, 160:300], (140, 140))
    assert BlazeFaceDetector("full").detect(small)
    assert not BlazeFaceDetector("short", min_face_px=0).detect(small)


def test_min_face_px_and_blank_images(astronaut):
    assert BlazeFaceDetector("short", min_face_px=200).detect(astronaut) == []
    assert BlazeFaceDetector("short").detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert BlazeFaceDetector("short").detect(np.zeros((1, 1, 3), np.uint8)) == []


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.6, 0.9, 0.7]), 0.3, 10)
    assert keep == [1, 2]


def test_preprocessing_is_the_models_own():
    face = np.zeros((48, 48), np.uint8)
    face[:, 24:] = 255
    x = preprocess(face)
    assert x.shape == (1, 64, 64, 1) and x.dtype == np.float32
    assert x.min() == pytest.approx(-1.0) and x.max() == pytest.approx(1.0)


def test_real_faces_from_lfw_give_valid_distributions(classifier, astronaut_path):
    faces = np.load(astronaut_path.parent / "lfw_subset.npy")[:20]
    for f in faces:
        e = classifier.classify_crop(
            (f * 255).astype(np.uint8) if f.max() <= 1 else f.astype(np.uint8)
        )
        assert len(e.probs) == len(EMOTIONS)
        assert sum(e.probs) == pytest.approx(1.0, abs=1e-6)


def test_crop_face_is_clipped_to_the_frame():
    img = np.zeros((100, 100, 3), np.uint8)
    assert crop_face(img, Box(-20, -20, 50, 50)).shape == (35, 35, 3)
    assert crop_face(img, Box(200, 200, 10, 10)).size == 0
