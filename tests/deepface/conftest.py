"""Fixtures for the DeepFace back-end and ``compare`` tests.

DeepFace's real weights cannot be had here (air-gapped), so every test that runs DeepFace
points ``DEEPFACE_HOME`` at a folder holding :mod:`deepface_onnx_stub`'s graph: these tests
check the plumbing and the label mapping, never accuracy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules sit beside this file

from deepface_helpers import weights_in
from deepface_onnx_stub import write_stub


@pytest.fixture(scope="session")
def stub_home(tmp_path_factory) -> Path:
    """A DEEPFACE_HOME whose emotion weights are the known-answer stub graph."""
    home = tmp_path_factory.mktemp("deepface_home")
    write_stub(weights_in(home))
    return home


@pytest.fixture
def with_stub(stub_home, monkeypatch) -> Path:
    monkeypatch.setenv("DEEPFACE_HOME", str(stub_home))
    # The back-end sets these for the process; restore them so other areas' tests do not
    # inherit them.
    monkeypatch.setenv("DEEPFACE_BACKEND_ENGINE", "onnx")
    monkeypatch.setenv("DEEPFACE_LOG_LEVEL", "40")
    return stub_home


@pytest.fixture(scope="session")
def lfw_faces() -> np.ndarray:
    """scikit-image's LFW subset: 200 real 25×25 grayscale faces in [0, 1] (ships in its wheel)."""
    from affectra_edge.models import model_path

    path = model_path("astronaut").parent / "lfw_subset.npy"
    if not path.is_file():
        pytest.skip(f"{path} missing (scikit-image without its data files)")
    return np.load(path)
