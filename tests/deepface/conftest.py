"""Fixtures for the DeepFace back-end and ``compare`` tests.

DeepFace's real weights cannot be had here (air-gapped), so every test that runs DeepFace
points ``DEEPFACE_HOME`` at a folder holding :mod:`onnx_stub`'s graph: these tests check the
plumbing and the label mapping, never accuracy.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # onnx_stub sits beside this file

from onnx_stub import write_stub

from affectra_edge.classify.deepface import WEIGHT_FILE

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def _extra_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("deepface", "onnxruntime", "onnx"))


needs_extra = pytest.mark.skipif(
    not _extra_installed(),
    reason="the [deepface] extra (deepface, onnxruntime) or onnx is not installed; "
    "run `make setup`",
)


def weights_in(home: Path) -> Path:
    return home / ".deepface" / "weights" / WEIGHT_FILE


@pytest.fixture(scope="session")
def stub_home(tmp_path_factory) -> Path:
    """A DEEPFACE_HOME whose emotion weights are the known-answer stub graph."""
    home = tmp_path_factory.mktemp("deepface_home")
    write_stub(weights_in(home))
    return home


@pytest.fixture
def with_stub(stub_home, monkeypatch) -> Path:
    monkeypatch.setenv("DEEPFACE_HOME", str(stub_home))
    return stub_home


@pytest.fixture(scope="session")
def lfw_faces() -> np.ndarray:
    """scikit-image's LFW subset: 200 real 25×25 grayscale faces in [0, 1] (ships in its wheel)."""
    from affectra_edge.models import model_path

    path = model_path("astronaut").parent / "lfw_subset.npy"
    if not path.is_file():
        pytest.skip(f"{path} missing (scikit-image without its data files)")
    return np.load(path)


def write_lfw_pngs(faces: np.ndarray, folder: Path, indices, size: int = 25) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in indices:
        img = (faces[i] * 255).round().astype(np.uint8)
        if size != img.shape[0]:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
        p = folder / f"lfw_{i:03d}.png"
        assert cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def run_cli(*args: str, env: dict[str, str] | None = None, prelude: str = ""):
    """``affectra-edge ARGS`` in a fresh interpreter (DeepFace caches its model per process)."""
    code = (
        f"{prelude}\nimport sys\nfrom affectra_edge.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=120,
    )
