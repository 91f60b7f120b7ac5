"""FER2013 as shipped in ``../shared/data/fer2013`` (see its README), and the size protocol.

Faces are uint8 (N, 48, 48) grayscale; labels 0 angry … 6 neutral (the appliance's order).
"A face of N px" means: the 48-px face resized to N×N with INTER_AREA (how a distant face
loses detail), then brought back to the model's input size the way the appliance does it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SIZE = 48


def load(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        x = np.asarray(z["x"], dtype=np.uint8)
        y = np.asarray(z["y"], dtype=np.int64)
    if x.ndim != 3 or x.shape[1:] != (SIZE, SIZE) or len(x) != len(y):
        raise ValueError(f"{path}: expected x (N, 48, 48) and y (N,), got {x.shape} {y.shape}")
    if y.min() < 0 or y.max() >= len(EMOTIONS):
        raise ValueError(f"{path}: labels outside 0..6")
    return x, y


def resize_face(face: np.ndarray, size: int) -> np.ndarray:
    """The appliance's resize: INTER_AREA to shrink, bilinear to enlarge."""
    h, w = face.shape[:2]
    if (w, h) == (size, size):
        return face
    interp = cv2.INTER_AREA if w > size or h > size else cv2.INTER_LINEAR
    return cv2.resize(face, (size, size), interpolation=interp)


def at_face_size(x: np.ndarray, px: int, input_size: int = SIZE) -> np.ndarray:
    """Every face shrunk to ``px`` (INTER_AREA) and brought back to ``input_size``."""
    out = np.empty((len(x), input_size, input_size), np.uint8)
    for i, face in enumerate(x):
        small = face if px == SIZE else cv2.resize(face, (px, px), interpolation=cv2.INTER_AREA)
        out[i] = resize_face(small, input_size)
    return out
