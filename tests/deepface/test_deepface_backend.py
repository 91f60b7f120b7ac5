"""The DeepFace back-end, run through DeepFace's real ``analyze`` code path.

DeepFace's emotion weights cannot be fetched here, so ``DEEPFACE_HOME`` holds a stand-in ONNX
graph with the real input/output shapes and known answers (see ``deepface_onnx_stub``): these
tests check plumbing, start-up errors and label mapping, never accuracy.
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from deepface_helpers import needs_extra, run_cli, weights_in, write_lfw_pngs
from deepface_onnx_stub import expected_probs, write_architecture_twin, write_stub

from affectra_edge.classify import build_classifier
from affectra_edge.classify.deepface import INSTALL_HINT, to_emotions, weights_path
from affectra_edge.config import ClassifierConfig
from affectra_edge.errors import EXIT_MODEL, ModelError
from affectra_edge.types import EMOTIONS, Box

DEEPFACE = ClassifierConfig(backend="deepface")


def _two_tone(dark: int = 0, bright: int = 255) -> np.ndarray:
    """A BGR frame: left half ``dark``, right half ``bright`` gray."""
    img = np.full((200, 400, 3), dark, np.uint8)
    img[:, 200:] = bright
    return img


@needs_extra
def test_distribution_comes_from_deepfaces_graph_in_our_label_order(with_stub):
    clf = build_classifier(DEEPFACE)
    assert clf.name == "deepface"
    # Square boxes well inside each half: DeepFace letterboxes non-square crops with black.
    dark, bright = clf.classify(_two_tone(), [Box(40, 40, 100, 100), Box(240, 40, 100, 100)])
    assert dark.dominant == "sad" and bright.dominant == "happy"
    np.testing.assert_allclose(dark.probs, expected_probs(0.0), atol=1e-4)
    np.testing.assert_allclose(bright.probs, expected_probs(1.0), atol=1e-4)
    for e in (dark, bright):
        assert sum(e.probs) == pytest.approx(1.0, abs=1e-9)


@needs_extra
def test_mid_gray_face_follows_the_graph(with_stub):
    clf = build_classifier(DEEPFACE)
    (e,) = clf.classify(_two_tone(150, 150), [Box(50, 50, 100, 100)])
    np.testing.assert_allclose(e.probs, expected_probs(150 / 255), atol=1e-3)


@needs_extra
def test_matches_deepface_analyze_divided_by_100(with_stub):
    """Our numbers are exactly DeepFace's own percentages for the same crop, mapped by name."""
    from deepface import DeepFace

    from affectra_edge.classify import crop_face

    clf = build_classifier(DEEPFACE)
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    box = Box(60, 40, 120, 120)
    (ours,) = clf.classify(image, [box])
    (theirs,) = DeepFace.analyze(
        img_path=crop_face(image, box),
        actions=["emotion"],
        detector_backend="skip",
        enforce_detection=False,
        align=False,
        silent=True,
    )
    for k, p in zip(EMOTIONS, ours.probs, strict=True):
        assert p == pytest.approx(float(theirs["emotion"][k]) / 100.0, abs=1e-6)


@needs_extra
def test_empty_crop_is_uniform_not_an_error(with_stub):
    clf = build_classifier(DEEPFACE)
    (e,) = clf.classify(_two_tone(), [Box(500, 500, 10, 10)])  # entirely outside the frame
    assert e.probs == pytest.approx([1 / 7] * 7)


def test_to_emotions_maps_by_name_not_by_position():
    shuffled = {"neutral": 40.0, "happy": 30.0, "sad": 10.0, "angry": 5.0}
    shuffled |= {"surprise": 7.0, "fear": 5.0, "disgust": 3.0}
    e = to_emotions(shuffled)
    assert e.as_dict() == {
        "angry": 0.05,
        "disgust": 0.03,
        "fear": 0.05,
        "happy": 0.3,
        "sad": 0.1,
        "surprise": 0.07,
        "neutral": 0.4,
    }
    with pytest.raises(ValueError, match="disgust"):
        to_emotions({k: v for k, v in shuffled.items() if k != "disgust"})


@needs_extra  # without the package, the extra check fires first (tested below)
def test_missing_weight_file_is_one_clear_error_and_nothing_is_fetched(tmp_path, monkeypatch):
    home = tmp_path / "empty_home"
    home.mkdir()
    monkeypatch.setenv("DEEPFACE_HOME", str(home))
    expected = weights_in(home)
    assert weights_path() == expected
    with pytest.raises(ModelError) as err:
        build_classifier(DEEPFACE)
    message = str(err.value)
    assert str(expected) in message
    assert "DEEPFACE_HOME" in message and "copy it to" in message
    assert not expected.exists()


@needs_extra
def test_missing_weight_file_at_cli_start_up(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), _two_tone())
    res = run_cli("compare", str(image), "--whole-image", env={"DEEPFACE_HOME": str(home)})
    assert res.returncode == EXIT_MODEL, res.stderr
    assert str(weights_in(home)) in res.stderr
    assert res.stdout == ""  # failed before any image was read
    assert not weights_in(home).exists()


def test_without_the_extra_installed(tmp_path, stub_home):
    """``sys.modules['deepface'] = None`` is how an absent package looks to ``import``."""
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), _two_tone())
    res = run_cli(
        "compare",
        str(image),
        "--whole-image",
        env={"DEEPFACE_HOME": str(stub_home)},  # weights present: only the package is missing
        prelude="import sys; sys.modules['deepface'] = None",
    )
    assert res.returncode == EXIT_MODEL, res.stderr
    assert "pip install 'affectra-edge[deepface]'" in res.stderr
    assert "missing: deepface" in res.stderr
    assert "Traceback" not in res.stderr


def test_without_the_extra_in_process_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepface", None)
    with pytest.raises(ModelError, match=r"affectra-edge\[deepface\]") as err:
        build_classifier(DEEPFACE)
    assert INSTALL_HINT in str(err.value)


@needs_extra
@pytest.mark.parametrize(
    "kind, message",
    [("wrong_graph", "is not DeepFace's emotion model"), ("truncated", "cannot load")],
)
def test_a_file_that_is_not_the_emotion_graph_is_refused(tmp_path, kind, message):
    home = tmp_path / "home"
    if kind == "wrong_graph":
        write_stub(weights_in(home), in_size=64)  # a 64×64 graph, e.g. the wrong model copied
    else:  # an interrupted copy
        data = write_stub(weights_in(tmp_path / "good")).read_bytes()
        weights_in(home).parent.mkdir(parents=True)
        weights_in(home).write_bytes(data[: len(data) // 2])
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), _two_tone())
    res = run_cli("compare", str(image), "--whole-image", env={"DEEPFACE_HOME": str(home)})
    assert res.returncode == EXIT_MODEL, res.stderr
    assert message in res.stderr
    assert str(weights_in(home)) in res.stderr
    assert "Traceback" not in res.stderr


@needs_extra
def test_graph_with_deepfaces_real_architecture_is_accepted(tmp_path, lfw_faces):
    """DeepFace's own CNN layer stack (random weights) loads and yields distributions."""
    home = tmp_path / "home"
    write_architecture_twin(weights_in(home))
    folder = tmp_path / "faces"
    write_lfw_pngs(lfw_faces, folder, [0, 1, 2], size=48)
    res = run_cli(
        "compare", str(folder), "--whole-image", "--json", env={"DEEPFACE_HOME": str(home)}
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["faces"] == 3 and sum(map(sum, report["confusion"])) == 3
