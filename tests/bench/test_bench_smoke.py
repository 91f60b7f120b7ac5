"""The benchmark scripts run on tiny generated input and print the figures RESULTS.md quotes.

They go through the project's real model code (TFLite emotion model, BlazeFace) in real child
processes; peers and ../shared/data parts skip with a reason where absent. No timing is
asserted: speed is what the scripts *print*, not what the tests check.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from affectra_edge.classify.tflite import TFLiteEmotionClassifier
from affectra_edge.types import EMOTIONS
from bench import _common as common


def _last_json(stdout: str) -> dict:
    return json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1])


# ------------------------------------------------------------------------- accuracy ----
def test_accuracy_on_a_label_folder_prints_every_figure(emotion_folder, run_bench):
    proc = run_bench("accuracy.py", "--folder", str(emotion_folder), "--no-detection")
    assert proc.returncode == 0, proc.stderr
    for figure in ("accuracy", "macro F1", "ms per face", "precision", "recall", "F1"):
        assert figure in proc.stdout
    assert "confusion matrix" in proc.stdout
    assert "not-a-label" in proc.stderr  # skipped with a message, not a crash


def test_accuracy_json_is_consistent(emotion_folder, run_bench):
    proc = run_bench("accuracy.py", "--folder", str(emotion_folder), "--no-detection", "--json")
    assert proc.returncode == 0, proc.stderr
    emo = _last_json(proc.stdout)["emotion"]
    assert emo["faces"] == 6
    cm = emo["confusion"]
    assert sum(map(sum, cm)) == 6
    # rows are true labels: 2 angry (folder "0"), 2 happy, 2 neutral
    assert [sum(r) for r in cm] == [2, 0, 0, 2, 0, 0, 2]
    correct = sum(cm[i][i] for i in range(len(EMOTIONS)))
    assert emo["accuracy"] == pytest.approx(correct / 6)
    assert set(emo["per_class"]) == set(EMOTIONS)
    assert emo["ms_per_face"]["mean"] > 0
    # the astronaut's smile (the unperturbed copy) is "happy" to the real model
    assert cm[3][3] >= 1


def test_detection_scoring_on_an_imglab_folder(faces_dir, run_bench):
    proc = run_bench("accuracy.py", "--faces", str(faces_dir), "--no-emotion", "--no-haar")
    assert proc.returncode == 0, proc.stderr
    for figure in ("recall", "precision", "blazeface short min_score 0.6", "blazeface full"):
        assert figure in proc.stdout
    proc = run_bench(
        "accuracy.py", "--faces", str(faces_dir), "--no-emotion", "--no-haar", "--json"
    )
    det = _last_json(proc.stdout)["detection"]
    assert det["images"] == 2 and det["faces"] == 1 and det["ignored"] == 1
    short = det["settings"]["blazeface short min_score 0.5"]
    # one annotated face: it is either found or missed, never both
    assert short["tp"] + short["fn"] == 1
    assert short["tp"] == 1, "BlazeFace short range misses the astronaut's face"
    assert short["recall"] == 1.0 and short["precision"] == 1.0


def test_match_detections_handles_ignore_and_duplicates():
    gts = [common.GtBox(0, 0, 10, 10), common.GtBox(50, 50, 10, 10, ignore=True)]
    dets = [(0, 0, 10, 10, 0.9), (1, 1, 10, 10, 0.8), (50, 50, 10, 10, 0.7), (90, 90, 5, 5, 0.6)]
    # first hits the face, second is a duplicate (FP), third hits an ignored box (neither),
    # fourth hits nothing (FP)
    assert common.match_detections(dets, gts) == (1, 2, 0)
    assert common.match_detections([], gts) == (0, 0, 1)


def test_accuracy_through_the_detector_scores_each_margin(emotion_folder, run_bench):
    proc = run_bench(
        "accuracy.py", "--folder", str(emotion_folder), "--no-detection", "--json",
        "--framing-margins", "0.05,0.1,0.2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    fr = _last_json(proc.stdout)["framing"]
    assert fr["faces"] == 6
    # the astronaut's face, enlarged in a plain picture, is found by the real detector
    assert fr["detected"] >= 1
    # the detector's box sits inside the crop the face was given (brows to chin)
    assert 0.0 <= fr["box_in_square"]["x0"] < 0.5 and 0.3 < fr["box_in_square"]["w"] <= 1.2
    acc = fr["accuracy"]["affectra"]
    assert set(acc) == {"square", "0.05", "0.1", "0.2"}
    n = fr["detected"]
    # each accuracy is a whole number of the faces found
    assert all(abs(v * n - round(v * n)) < 1e-9 for v in acc.values())
    assert fr["product_margin"] == 0.1


def test_accuracy_scores_the_test_faces_not_in_the_training_split(face_crop, tmp_path, run_bench):
    gray = cv2.resize(cv2.cvtColor(face_crop, cv2.COLOR_BGR2GRAY), (48, 48))
    rng = np.random.default_rng(3)
    faces = np.stack(
        [np.clip(gray + rng.normal(0, 6, gray.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    )
    labels = np.array([3, 3, 6, 6, 0, 0, 3, 6])
    np.savez(tmp_path / "test.npz", x=faces, y=labels)
    # three of the test faces are in the training split pixel for pixel, one differs by one
    # grey level (not the same face), the rest are new
    near = faces[3].copy()
    near[0, 0] ^= 1
    train = np.concatenate([faces[[0, 2, 5]], near[None], rng.integers(0, 256, (4, 48, 48))])
    np.savez(tmp_path / "train.npz", x=train.astype(np.uint8), y=np.zeros(len(train), np.int8))
    proc = run_bench(
        "accuracy.py", "--fer2013", str(tmp_path / "test.npz"), "--train",
        str(tmp_path / "train.npz"), "--sizes", "48,16", "--no-tta", "--framing-margins", "",
        "--no-detection", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = _last_json(proc.stdout)
    assert out["not_in_train"]["faces"] == 5
    # the unseen score is the real classifier's on faces 1, 3, 4, 6 and 7 alone
    for model in ("affectra", "fer"):
        clf = TFLiteEmotionClassifier(model, 1)
        for px in (48, 16):
            row = out["emotion_by_size"][model][str(px)]
            assert row["faces"] == 8 and row["unseen"]["faces"] == 5
            right = 0
            for i in (1, 3, 4, 6, 7):
                small = cv2.resize(faces[i], (px, px), interpolation=cv2.INTER_AREA)
                right += int(np.argmax(clf.classify_crop(small).probs)) == labels[i]
            assert row["unseen"]["accuracy"] * 5 == pytest.approx(right)
    # a training split that is not there is said at once, before any face is classified
    missing = tmp_path / "no-such-train.npz"
    proc = run_bench(
        "accuracy.py", "--fer2013", str(tmp_path / "test.npz"), "--train", str(missing)
    )
    assert proc.returncode == 2 and f"--train {missing}: not a file" in proc.stderr


def test_accuracy_on_fer2013_is_near_the_known_figure(shared_data, run_bench):
    npz = shared_data / "fer2013" / "publictest.npz"
    if not npz.exists():
        pytest.skip(f"{npz} absent")
    # Our model scores 64.5 % on these 48-px faces and the fer model 65.5 % when fed
    # correctly; a preprocessing bug (wrong scale, colour order, input size) drops either far
    # below (~40 %). The side-by-side size table is bench work, not test work: --sizes "".
    for model, floor in (("affectra", 0.60), ("fer", 0.63)):
        proc = run_bench(
            "accuracy.py", "--fer2013", str(npz), "--no-detection", "--json", "--sizes", "",
            "--framing-margins", "", "--model", model,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        emo = _last_json(proc.stdout)["emotion"]
        assert emo["faces"] == 3589 and emo["model"] == model
        assert emo["accuracy"] >= floor, (model, emo["accuracy"])


def test_detection_on_dlib_faces_with_haar_baseline(shared_data, run_bench):
    faces = shared_data / "photos" / "dlib_faces"
    if not faces.exists():
        pytest.skip(f"{faces} absent")
    with_haar = common.peer_python("fer") is not None
    args = ["--faces", str(faces), "--no-emotion", "--json"] + ([] if with_haar else ["--no-haar"])
    proc = run_bench("accuracy.py", *args)
    assert proc.returncode == 0, proc.stderr
    det = _last_json(proc.stdout)["detection"]
    assert det["faces"] == 43
    for r in det["settings"].values():
        assert r["tp"] + r["fn"] == 43
    if with_haar:
        assert any(name.startswith("haar") for name in det["settings"]), det["note"]


# ------------------------------------------------------------------------- pipeline ----
def test_pipeline_bench_prints_fps_stages_rss_and_startup(tiny_clip, run_bench):
    proc = run_bench("pipeline.py", str(tiny_clip), "--repeat", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "960x540 resized to 640x360" in out
    for figure in ("fps", "peak RSS MB", "start-up s", "faces/frame", "recall~", "one core"):
        assert figure in out
    for stage in ("decode", "detect", "classify", "track"):
        assert f"affectra-edge  {stage}" in out


def test_pipeline_bench_json_figures(tiny_clip, run_bench):
    proc = run_bench("pipeline.py", str(tiny_clip), "--repeat", "1", "--frames", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    out = _last_json(proc.stdout)
    assert out["clip"]["frames"] == 8
    assert not Path(out["clip"]["clip"]).with_suffix(".npy").exists()
    for mode in ("one core", "all cores"):
        ours = out["results"][mode]["affectra-edge"]
        assert ours["frames"] == 8
        assert ours["fps"] > 0
        assert set(ours["stage_ms"]) == {"detect", "classify", "track"}
        assert 0 < ours["peak_rss_mb"] < 4096
        assert ours["startup_s"] > 0
        # the astronaut is in every frame and BlazeFace sees her
        assert ours["faces_per_frame"] >= 0.9
        assert 0.0 <= ours["recall_vs_reference"] <= 1.0
    assert out["clip"]["reference_faces_per_frame"] >= 0.9


def test_pipeline_bench_rejects_a_missing_clip(tmp_path, run_bench):
    proc = run_bench("pipeline.py", str(tmp_path / "nope.mp4"))
    assert proc.returncode == 2
    assert "nope.mp4" in proc.stderr


def test_pipeline_bench_against_peers(tiny_clip, run_bench):
    missing = [n for n in ("fer", "deepface") if common.peer_python(n) is None]
    if missing:
        pytest.skip(f"peer venvs {missing} absent: bench/peers/setup.sh creates them")
    proc = run_bench(
        "pipeline.py", str(tiny_clip), "--vs-peers", "--repeat", "1", "--frames", "3", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = _last_json(proc.stdout)
    assert out["missing"] == {}
    for mode in ("one core", "all cores"):
        res = out["results"][mode]
        assert set(res) == {"affectra-edge", "fer", "deepface"}
        for r in res.values():
            assert r["frames"] == 3 and r["fps"] > 0 and r["peak_rss_mb"] > 0
        assert res["deepface"]["note"] == "speed only, random weights"


# ---------------------------------------------------------------------- emotion mix ----
def test_emotion_mix_runs_every_way_and_prints_mixes(tiny_clip, run_bench):
    proc = run_bench("emotion_mix.py", str(tiny_clip), "--no-demo", "--json")
    assert proc.returncode == 0, proc.stderr
    (clip,) = _last_json(proc.stdout)["clips"].values()
    for way in ("fer @640", "fer full", "affectra @640", "affectra full"):
        r = clip[way]
        assert list(r["dwell_weighted_mix"]) == list(EMOTIONS)
        assert r["face_frames"] > 0, way
        assert sum(r["face_frame_mix"].values()) == pytest.approx(1.0, abs=1e-3)
        assert set(r["confident_share"]) == {"0.4", "0.5", "0.6"}


def test_accuracy_by_face_size_table_on_a_tiny_npz(tmp_path, face_crop, run_bench):
    import cv2

    gray = cv2.resize(cv2.cvtColor(face_crop, cv2.COLOR_BGR2GRAY), (48, 48))
    x = np.stack([gray, gray[:, ::-1], gray, gray[:, ::-1], gray, gray, gray])
    y = np.arange(7)
    np.savez(tmp_path / "t.npz", x=x, y=y)
    proc = run_bench(
        "accuracy.py", "--fer2013", str(tmp_path / "t.npz"), "--no-detection", "--json",
        "--sizes", "48,16",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = _last_json(proc.stdout)
    for model in ("affectra", "fer"):
        for px in ("48", "16"):
            row = out["emotion_by_size"][model][px]
            assert row["faces"] == 7 and 0.0 <= row["ece"] <= 1.0
            assert "tta" in row and row["tta"]["ms_per_face"]["mean"] > 0
    sweep = out["threshold_sweep"]["affectra"]
    assert sweep["0.00"]["faces_kept"] == 1.0
    assert sweep["0.70"]["faces_kept"] <= sweep["0.30"]["faces_kept"]
