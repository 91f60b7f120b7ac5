"""``affectra-edge compare`` on real faces (scikit-image's LFW subset, and the shared photos).

The DeepFace side runs DeepFace's real code path on a stand-in ONNX graph
(``deepface_onnx_stub``: its answer depends only on a face's mean brightness), because the real
weights cannot be had here. So these tests check that both back-ends see the same crops and that
the statistics are computed from what they returned — not how good either model is.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from deepface_helpers import SHARED_DATA, needs_extra, run_cli, write_lfw_pngs
from deepface_onnx_stub import expected_probs

from affectra_edge.classify import build_classifier, crop_face
from affectra_edge.compare import Comparison, FacePair, compare_backends, iter_inputs
from affectra_edge.config import ClassifierConfig, DetectorConfig
from affectra_edge.detect import build_detector
from affectra_edge.types import EMOTIONS, Box, Emotions

pytestmark = needs_extra


def _check_summary(report: dict) -> None:
    """The headline numbers must be the ones implied by the per-face results."""
    faces = report["per_face"]
    assert report["faces"] == len(faces) > 0
    agree = sum(f["a_dominant"] == f["b_dominant"] for f in faces)
    assert report["agreement"] == pytest.approx(agree / len(faces), abs=1e-4)
    a = np.array([[f["a"][k] for k in EMOTIONS] for f in faces])
    b = np.array([[f["b"][k] for k in EMOTIONS] for f in faces])
    assert report["mean_abs_diff"] == pytest.approx(np.abs(a - b).mean(), abs=2e-4)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (7, 7) and confusion.sum() == len(faces)
    for f in faces:
        assert confusion[EMOTIONS.index(f["a_dominant"]), EMOTIONS.index(f["b_dominant"])] >= 1
    assert report["labels"] == list(EMOTIONS)
    assert set(report["ms_per_face"]) == {"tflite", "deepface"}
    assert all(v > 0 for v in report["ms_per_face"].values())


def test_whole_image_lfw_folder_json(tmp_path, lfw_faces, stub_home):
    folder = tmp_path / "lfw"
    paths = write_lfw_pngs(lfw_faces, folder, range(0, 120, 10))
    res = run_cli(
        "compare",
        str(folder),
        "--whole-image",
        "--json",
        "--per-face",
        env={"DEEPFACE_HOME": str(stub_home)},
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["backends"] == ["tflite", "deepface"]
    assert report["images"] == report["faces"] == len(paths)
    _check_summary(report)

    # Both sides classified the very same crops: recompute each in this process.
    tflite = build_classifier(ClassifierConfig(backend="tflite"))
    for face, path in zip(report["per_face"], sorted(paths), strict=True):
        assert face["source"] == str(path)
        img = cv2.imread(str(path))
        assert face["box"] == [0, 0, img.shape[1], img.shape[0]]
        (mine,) = tflite.classify(img, [Box(0, 0, img.shape[1], img.shape[0])])
        assert face["a"] == mine.as_dict()
        # DeepFace side: the stub's known answer for this face's brightness.
        gray = cv2.resize(img[:, :, 0], (48, 48)).astype(np.float64) / 255.0
        want = expected_probs(gray.mean())
        got = np.array([face["b"][k] for k in EMOTIONS])
        np.testing.assert_allclose(got, want, atol=0.02)


def test_text_report_and_an_unreadable_entry_in_a_list(tmp_path, lfw_faces, stub_home):
    paths = write_lfw_pngs(lfw_faces, tmp_path / "faces", [3, 4, 5], size=64)
    broken = tmp_path / "faces" / "broken.png"
    broken.write_bytes(b"not a png")
    listing = tmp_path / "faces.txt"
    # relative entries resolve against the list's folder; "#" starts a comment line
    entries = [f"faces/{p.name}" for p in paths] + ["faces/broken.png"]
    listing.write_text("# three faces and a broken file\n" + "\n".join(entries) + "\n")
    res = run_cli("compare", str(listing), "--whole-image", env={"DEEPFACE_HOME": str(stub_home)})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "3 faces in 3 images (1 unreadable, skipped)" in out
    assert "top-1 agreement" in out and "ms per face" in out and "tflite" in out
    header = next(line for line in out.splitlines() if "angry" in line and "neutral" in line)
    assert header.split()[:7] == [e[:7] for e in EMOTIONS]
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[-1] == "3"
    assert f"{broken}: not a readable image" in res.stderr


def _two_faces(faces: np.ndarray, i: int) -> np.ndarray:
    """A dimmed and a brightened real face side by side on a mid-gray frame (BGR)."""
    dark = (faces[i] * 0.35 * 255).astype(np.uint8)
    bright = ((0.55 + 0.45 * faces[i]) * 255).astype(np.uint8)
    canvas = np.full((240, 480), 128, np.uint8)
    canvas[60:180, 60:180] = cv2.resize(dark, (120, 120), interpolation=cv2.INTER_CUBIC)
    canvas[60:180, 300:420] = cv2.resize(bright, (120, 120), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def test_detected_faces_each_reach_both_backends(lfw_faces, with_stub):
    images = [(f"two_faces_{i}", _two_faces(lfw_faces, i)) for i in range(4)]
    detector = build_detector(DetectorConfig())
    tflite = build_classifier(ClassifierConfig(backend="tflite"))
    deepface = build_classifier(ClassifierConfig(backend="deepface"))
    result = compare_backends(images, tflite, deepface, detector=detector)
    assert result.images == 4
    assert result.faces >= 4, "BlazeFace found fewer than one face per image"
    frames = dict(images)
    for pair in result.pairs:
        x, _ = pair.box.center
        left = Box(60, 60, 120, 120) if x < 240 else Box(300, 60, 120, 120)
        assert pair.box.iou(left) > 0.4, f"{pair.box} is not on a pasted face"
        # The stub labels by brightness: which face the crop came from decides the answer.
        assert pair.b.dominant == ("sad" if x < 240 else "happy")
        crop = crop_face(frames[pair.source], pair.box)
        assert pair.a == tflite.classify_crop(crop)
    assert sum(map(sum, result.confusion)) == result.faces


def test_statistics_from_known_pairs():
    """Agreement, mean |Δp| and confusion on hand-made distributions."""
    one_hot = {k: Emotions(tuple(float(k == e) for e in EMOTIONS)) for k in EMOTIONS}
    box = Box(0, 0, 10, 10)
    pairs = (
        FacePair("x", box, one_hot["happy"], one_hot["happy"]),
        FacePair("x", box, one_hot["happy"], one_hot["neutral"]),
        FacePair("y", box, one_hot["sad"], one_hot["sad"]),
        FacePair("y", box, one_hot["angry"], one_hot["neutral"]),
    )
    c = Comparison("tflite", "deepface", 2, pairs, {"tflite": 4.0, "deepface": 20.0})
    assert c.agreement == 0.5
    # two disagreeing one-hot pairs differ by 1 in two classes each: 4 / (4 faces * 7 classes)
    assert c.mean_abs_diff == pytest.approx(4 / 28)
    conf = np.array(c.confusion)
    h, n, s, a = (EMOTIONS.index(k) for k in ("happy", "neutral", "sad", "angry"))
    assert conf[h, h] == conf[h, n] == conf[s, s] == conf[a, n] == 1 and conf.sum() == 4
    assert c.ms_per_face("deepface") == 5.0
    assert c.to_json()["mean_abs_diff_per_class"]["neutral"] == pytest.approx(0.5)


def test_missing_path_is_named(tmp_path, stub_home):
    res = run_cli("compare", str(tmp_path / "nowhere"), env={"DEEPFACE_HOME": str(stub_home)})
    assert res.returncode == 1
    assert f"{tmp_path / 'nowhere'}: no such file or folder" in res.stderr
    assert "Traceback" not in res.stderr


def test_video_frames(tmp_path, lfw_faces):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (480, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV build has no MJPG/AVI writer")
    for i in range(6):
        writer.write(_two_faces(lfw_faces, i % 4))
    writer.release()
    frames = list(iter_inputs([video], every=2, max_frames=2))
    assert [label for label, _ in frames] == [f"{video}#0", f"{video}#2"]
    assert all(img is not None and img.shape == (240, 480, 3) for _, img in frames)


@pytest.mark.skipif(
    not (SHARED_DATA / "photos").is_dir(), reason=f"{SHARED_DATA / 'photos'} is absent"
)
def test_shared_real_photos_with_detection(stub_home):
    folder = SHARED_DATA / "photos" / "face_recognition"
    res = run_cli(
        "compare", str(folder), "--json", "--per-face", env={"DEEPFACE_HOME": str(stub_home)}
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["images"] == len(list(folder.glob("*.jpg")))
    _check_summary(report)


@pytest.mark.skipif(
    not (SHARED_DATA / "video" / "orlando_bloom.avi").is_file(),
    reason=f"{SHARED_DATA / 'video' / 'orlando_bloom.avi'} is absent",
)
def test_shared_real_video(stub_home):
    video = SHARED_DATA / "video" / "orlando_bloom.avi"
    res = run_cli(
        "compare",
        str(video),
        "--every",
        "10",
        "--max-frames",
        "5",
        "--json",
        "--per-face",
        env={"DEEPFACE_HOME": str(stub_home)},
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["images"] == 5
    assert {f["source"] for f in report["per_face"]} <= {f"{video}#{i}" for i in range(0, 50, 10)}
    _check_summary(report)
