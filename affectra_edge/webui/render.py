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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import cv2
import numpy as np

from affectra_edge.config import field_spec
from affectra_edge.types import EMOTIONS, Box, FrameResult

PRIVACY_MODES: tuple[str, ...] = field_spec("web", "privacy").choices

#: BGR colours per emotion: the stylesheet's light-theme palette (Okabe-Ito based, checked for
#: colour-blind staff in tests/web/test_web_palette.py), so a box matches the page's legend
COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (0x00, 0x5E, 0xD5),
    "disgust": (0x73, 0x9E, 0x00),
    "fear": (0x55, 0x22, 0x88),
    "happy": (0x42, 0xE4, 0xF0),
    "sad": (0xB2, 0x72, 0x00),
    "surprise": (0xE9, 0xB4, 0x56),
    "neutral": (0xC0, 0xC0, 0xC0),
}
assert set(COLOURS) == set(EMOTIONS)

#: the analyzed picture is drawn at about the width it is shown at, so its boxes and numbers
#: are not scaled down to hairlines and specks
ANALYSIS_W = 640

T = TypeVar("T")

# OpenCV 5 keeps its text renderer's state per thread (~5.7 MB, freed only when the thread
# ends), on the first getTextSize/putText. Web workers live as long as the daemon, so every
# one that ever drew a label (a live-view frame, a placeholder card, an analyzed upload) kept
# a copy: 16 workers ~ +92 MB, in ~6 MB steps over the first ~20 minutes of the soak
# (bench/RESULTS.md, issue 18). All text is measured and drawn on this one thread instead.
_TEXT = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render-text")


def _on_text_thread(fn: Callable[..., T], *args: object) -> T:
    return _TEXT.submit(fn, *args).result()


def text_size(text: str, scale: float, thickness: int) -> tuple[tuple[int, int], int]:
    """``((width, height), baseline)`` of ``text`` in the labels' font."""
    (tw, th), base = _on_text_thread(
        cv2.getTextSize, text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness
    )
    return (int(tw), int(th)), int(base)


def put_text(
    img: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    colour: tuple[int, int, int],
    thickness: int,
) -> None:
    """Draw ``text`` into ``img`` (in place) in the labels' font, anti-aliased."""
    _on_text_thread(
        cv2.putText, img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA
    )


def placeholder(width: int = 640, height: int = 360, text: str = "Live image disabled") -> bytes:
    img = np.full((height, width, 3), (48, 40, 36), np.uint8)
    _centered(img, text, height // 2, 0.9)
    _centered(img, "privacy setting: off", height // 2 + 36, 0.55)
    return encode(img)


def _centered(img: np.ndarray, text: str, y: int, scale: float) -> None:
    (tw, _), _ = text_size(text, scale, 2)
    x = max(4, (img.shape[1] - tw) // 2)
    put_text(img, text, (x, y), scale, (220, 220, 220), 2)


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
        (tw, th), base = text_size(label, 0.5, 1)
        ty = y0 - 6 if y0 - th - 8 > 0 else y1 + th + 6
        cv2.rectangle(out, (x0, ty - th - 4), (x0 + tw + 6, ty + base), colour, -1)
        put_text(out, label, (x0 + 3, ty - 1), 0.5, (20, 20, 20), 1)
    return out


def encode(image_bgr: np.ndarray, quality: int = 75) -> bytes:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _ink(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``bgr``."""
    b, g, r = bgr
    return (20, 20, 20) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def numbered(img: np.ndarray, boxes: list[tuple[Box, str | None]]) -> np.ndarray:
    """``img`` at :data:`ANALYSIS_W` (smaller ones as they are) with each box drawn in its
    emotion's colour and numbered 1, 2, … in a tag the size of body text when shown."""
    h, w = img.shape[:2]
    k = min(1.0, ANALYSIS_W / w)
    out = cv2.resize(
        img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
    )
    ow = out.shape[1]
    # stroke and text relative to the drawn width: the same look for a small or a large upload
    thick = max(2, round(ow / 200))
    scale = max(0.5, ow / 550)
    for n, (box, dominant) in enumerate(boxes, 1):
        colour = COLOURS.get(dominant or "", (200, 200, 200))
        x0, y0 = int(box.x * k), int(box.y * k)
        x1, y1 = int((box.x + box.w) * k), int((box.y + box.h) * k)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick, cv2.LINE_AA)
        label = str(n)
        (tw, th), _ = text_size(label, scale, thick)
        pad = max(4, thick * 2)
        tx0 = max(0, min(x0, out.shape[1] - tw - 2 * pad))
        ty1 = y0 if y0 - th - 2 * pad >= 0 else min(out.shape[0], y1 + th + 2 * pad)
        cv2.rectangle(out, (tx0, ty1 - th - 2 * pad), (tx0 + tw + 2 * pad, ty1), colour, -1)
        put_text(out, label, (tx0 + pad, ty1 - pad), scale, _ink(colour), thick)
    return out


def analysis_view(img: np.ndarray, faces: list[dict[str, Any]]) -> dict[str, Any]:
    """The uploader's own picture with numbered boxes (the numbers of the result cards),
    inline as a data: URL (nothing is stored)."""
    h, w = img.shape[:2]
    # numbered as people read a picture: left to right
    faces = sorted(faces, key=lambda f: (f["box"][0], f["box"][1]))
    shown = numbered(img, [(Box(*f["box"]), f.get("dominant")) for f in faces])
    data_url = "data:image/jpeg;base64," + base64.b64encode(encode(shown, 85)).decode()
    return {"faces": faces, "image": data_url, "width": w, "height": h}
