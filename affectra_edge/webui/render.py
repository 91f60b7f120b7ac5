"""Live-view rendering: one JPEG per frame with boxes and labels, after the privacy setting.

Privacy modes (``[web] privacy``):

- ``off``: no camera image at all — the stream sends a neutral placeholder card;
- ``boxes``: boxes and labels on a blank canvas (nobody's face leaves the pipeline);
- ``blurred`` (default): each face region is heavily pixelated and blurred, then boxed;
- ``full``: the raw frame with boxes (for installation and focusing only).

Everything happens in memory; nothing is written anywhere.
"""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np

from affectra_edge.config import field_spec
from affectra_edge.types import EMOTIONS, Box, Emotions, FrameResult, TrackedFace

PRIVACY_MODES: tuple[str, ...] = field_spec("web", "privacy").choices

# BGR colours per emotion (colour-blind-friendly palette, also used by the CSS)
COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (60, 60, 220),
    "disgust": (80, 160, 60),
    "fear": (160, 80, 150),
    "happy": (40, 190, 240),
    "sad": (200, 120, 40),
    "surprise": (200, 200, 60),
    "neutral": (160, 160, 160),
}
assert set(COLOURS) == set(EMOTIONS)


def placeholder(width: int = 640, height: int = 360, text: str = "Live image disabled") -> bytes:
    img = np.full((height, width, 3), (48, 40, 36), np.uint8)
    _centered(img, text, height // 2, 0.9)
    _centered(img, "privacy setting: off", height // 2 + 36, 0.55)
    return encode(img)


def _centered(img: np.ndarray, text: str, y: int, scale: float) -> None:
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    x = max(4, (img.shape[1] - tw) // 2)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (220, 220, 220), 2, cv2.LINE_AA)


def _blur_region(img: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    roi = img[y0:y1, x0:x1]
    if roi.size == 0:
        return
    h, w = roi.shape[:2]
    # Pixelate to ~8 blocks across, then blur: unrecognisable, still reads as "a face".
    small = cv2.resize(roi, (max(1, w // max(1, w // 8)), max(1, h // max(1, h // 8))))
    small = cv2.resize(small, (8, 8), interpolation=cv2.INTER_AREA)
    block = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    k = max(3, (min(w, h) // 4) | 1)
    img[y0:y1, x0:x1] = cv2.GaussianBlur(block, (k, k), 0)


def annotate(image_bgr: np.ndarray, result: FrameResult | None, privacy: str) -> np.ndarray:
    """The picture to show for ``privacy`` (a new array; the frame itself is not modified)."""
    if privacy not in PRIVACY_MODES:
        raise ValueError(f"unknown privacy mode {privacy!r}")
    h, w = image_bgr.shape[:2]
    faces = result.faces if result is not None else ()
    if privacy == "boxes":
        out = np.full((h, w, 3), (40, 36, 32), np.uint8)
    elif privacy == "blurred":
        out = image_bgr.copy()
        for f in faces:
            # a margin around the box so hair and ears are covered too
            mx, my = f.box.w * 0.2, f.box.h * 0.25
            x0, y0 = max(0, int(f.box.x - mx)), max(0, int(f.box.y - my))
            x1, y1 = min(w, int(f.box.x + f.box.w + mx)), min(h, int(f.box.y + f.box.h + my))
            _blur_region(out, x0, y0, x1, y1)
    else:
        out = image_bgr.copy()
    for f in faces:
        label = "…"
        colour = (200, 200, 200)
        if f.emotions is not None:
            dom = f.emotions.dominant
            colour = COLOURS[dom]
            label = f"#{f.track_id} {dom} {f.emotions.confidence:.0%}"
        else:
            label = f"#{f.track_id}"
        x0, y0 = int(f.box.x), int(f.box.y)
        x1, y1 = int(f.box.x + f.box.w), int(f.box.y + f.box.h)
        thickness = 2 if f.visible else 1
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness, cv2.LINE_AA)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = y0 - 6 if y0 - th - 8 > 0 else y1 + th + 6
        cv2.rectangle(out, (x0, ty - th - 4), (x0 + tw + 6, ty + base), colour, -1)
        cv2.putText(
            out,
            label,
            (x0 + 3, ty - 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (20, 20, 20),
            1,
            cv2.LINE_AA,
        )
    return out


def encode(image_bgr: np.ndarray, quality: int = 75) -> bytes:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def analysis_view(img: np.ndarray, faces: list[dict[str, Any]]) -> dict[str, Any]:
    """The uploader's own picture with boxes, inline as a data: URL (nothing is stored)."""
    tracked = tuple(
        TrackedFace(i + 1, Box(*f["box"]), Emotions(tuple(f["emotions"][e] for e in EMOTIONS)))
        for i, f in enumerate(faces)
    )
    h, w = img.shape[:2]
    shown = annotate(img, FrameResult(0, 0.0, tracked), "full")
    if w > 800:
        shown = cv2.resize(shown, (800, max(1, round(h * 800 / w))), interpolation=cv2.INTER_AREA)
    data_url = "data:image/jpeg;base64," + base64.b64encode(encode(shown, 85)).decode()
    return {"faces": faces, "image": data_url, "width": w, "height": h}
