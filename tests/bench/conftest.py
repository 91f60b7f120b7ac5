"""Tiny generated inputs for the benchmark smoke tests (real files, real model code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


def _run_bench(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run a bench script as the real child process ``make bench`` would start."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        check=False,
    )


@pytest.fixture(scope="session")
def run_bench():
    """``run_bench("pipeline.py", *args)`` → CompletedProcess (a real child process)."""
    return _run_bench


@pytest.fixture(scope="session")
def face_crop(astronaut) -> np.ndarray:
    """The astronaut's face, roughly as FER2013 frames faces (forehead to chin)."""
    return astronaut[30:250, 130:330].copy()


@pytest.fixture(scope="session")
def emotion_folder(tmp_path_factory, face_crop) -> Path:
    """``<label>/*.png``: 2 images in each of 3 labels (one by name, one by index), 48×48 gray."""
    root = tmp_path_factory.mktemp("emotions")
    gray = cv2.cvtColor(face_crop, cv2.COLOR_BGR2GRAY)
    rng = np.random.default_rng(1)
    for label in ("happy", "neutral", "0"):
        d = root / label
        d.mkdir()
        for i in range(2):
            img = cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA)
            if i:  # a second, perturbed variant
                noise = rng.normal(0, 8, img.shape)
                img = np.clip(img + noise, 0, 255).astype(np.uint8)
            cv2.imwrite(str(d / f"{i}.png"), img)
    (root / "not-a-label").mkdir()  # must be skipped with a message, not crash
    return root


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory, astronaut) -> Path:
    """A dlib imglab folder: the astronaut photo with one box, plus an image with none."""
    root = tmp_path_factory.mktemp("faces")
    cv2.imwrite(str(root / "astronaut.jpg"), astronaut)
    cv2.imwrite(str(root / "blank.jpg"), np.full((200, 300, 3), 127, np.uint8))
    (root / "testing.xml").write_text(
        "<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset><images>\n"
        "  <image file='astronaut.jpg'>\n"
        "    <box top='60' left='170' width='100' height='110'/>\n"
        "    <box top='0' left='0' width='20' height='20' ignore='1'/>\n"
        "  </image>\n"
        "  <image file='blank.jpg'/>\n"
        "</images></dataset>\n"
    )
    return root


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory, astronaut) -> Path:
    """12 frames, 960×540 MJPEG AVI: the astronaut's head sliding across a grey background."""
    path = tmp_path_factory.mktemp("clip") / "tiny.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (960, 540))
    assert writer.isOpened()
    # head and shoulders, large enough for the short-range detector after the 640-px resize
    sprite = cv2.resize(astronaut[20:300, 110:350], (360, 420), interpolation=cv2.INTER_AREA)
    for i in range(12):
        frame = np.full((540, 960, 3), 90, np.uint8)
        x = 60 + 30 * i
        frame[40:460, x : x + 360] = sprite
        writer.write(frame)
    writer.release()
    return path
