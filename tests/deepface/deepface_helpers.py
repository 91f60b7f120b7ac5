"""Helpers shared by the DeepFace tests (a uniquely named module: every test folder has a
``conftest``, so importing from ``conftest`` would be ambiguous in a whole-suite run)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from affectra_edge.classify.deepface import WEIGHT_FILE

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def _extra_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("deepface", "onnxruntime", "onnx"))


needs_extra = pytest.mark.skipif(
    not _extra_installed(),
    reason="the [deepface] extra (deepface, onnxruntime) or onnx is not installed; "
    "run `make test-setup`",
)


def weights_in(home: Path) -> Path:
    return home / ".deepface" / "weights" / WEIGHT_FILE


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
