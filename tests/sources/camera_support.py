"""Helpers for the camera-source tests (import as ``from tests.sources.camera_support import ...``)."""

from __future__ import annotations

import numpy as np

from affectra_edge.config import CameraConfig

CLIP_FPS = 10.0
#: frames where the face is on screen: two visits separated by a gap longer than gap_s (2 s)
VISITS = ((5, 36), (62, 88))
CLIP_FRAMES = 100


def face_sprite(astronaut: np.ndarray) -> np.ndarray:
    return astronaut[20:300, 110:350].copy()  # head and shoulders, 280 × 240


def clip_frames(astronaut: np.ndarray, width: int = 480, height: int = 360) -> list[np.ndarray]:
    """A face walking slowly across a textured background, present during VISITS."""
    import cv2

    sprite = cv2.resize(face_sprite(astronaut), (160, 187), interpolation=cv2.INTER_AREA)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    bg = (np.array([190, 200, 210], np.float32) - 40 * y + 20 * x).clip(0, 255).astype(np.uint8)
    frames = []
    for i in range(CLIP_FRAMES):
        img = bg.copy()
        for a, b in VISITS:
            if a <= i < b:
                k = (i - a) / max(1, b - a)
                x0 = int(60 + 200 * k)
                y0 = 80 + int(6 * np.sin(i / 3))
                img[y0 : y0 + sprite.shape[0], x0 : x0 + sprite.shape[1]] = sprite
        frames.append(img)
    return frames


def esp32_camera(url: str, **kw) -> CameraConfig:
    kw.setdefault("timeout_s", 3.0)
    return CameraConfig(type="esp32", url=url, **kw)
