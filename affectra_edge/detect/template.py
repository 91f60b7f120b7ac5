"""Carry tracks between full detections by matching each face's own picture near where it was.

At a full detection each face's grey patch is kept (in memory, a few hundred bytes, until the
next full detection); on the frames in between it is looked for in a window around its last
box by normalised cross-correlation, at about 24 px per face width. That costs tens of
microseconds a face, against ~3 ms for a short-range detector look (:mod:`.region`), and since
emotions are read only from full detections' boxes (:mod:`affectra_edge.schedule`), a carried
box only has to keep the track: where the face is, not its exact outline. A face whose best
match is poor (turned away, occluded, gone) is reported lost, and the scheduler runs the full
detector on the same frame. Size is not followed: the full detection a few frames later is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from affectra_edge.detect.region import drop_duplicates
from affectra_edge.types import Box

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Template:
    """One face's picture at its last full detection, at ``scale`` × frame pixels; ``dx``,
    ``dy``: where the picture starts inside the face's box (a face cut by the frame's edge)."""

    patch: np.ndarray
    scale: float
    dx: float = 0.0
    dy: float = 0.0


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


class TemplateCarrier:
    def __init__(self, *, face_px: int = 24, search: float = 0.6, min_match: float = 0.6):
        """``face_px``: face width the match runs at; ``search``: how far (face widths) a face
        may move between two frames; ``min_match``: the correlation below which it is lost."""
        self.face_px = face_px
        self.search = search
        self.min_match = min_match

    def calibrate(
        self, image: np.ndarray, boxes: list[Box], px_scale: float = 1.0
    ) -> list[Template | None]:
        """Each face's template from the frame the full detector found it in (None: too
        little of it inside the frame, or too flat to match)."""
        h, w = image.shape[:2]
        out: list[Template | None] = []
        for b in boxes:
            x1, y1 = max(0, round(b.x)), max(0, round(b.y))
            x2, y2 = min(w, round(b.x + b.w)), min(h, round(b.y + b.h))
            if x2 - x1 < 8 or y2 - y1 < 8:
                out.append(None)
                continue
            scale = min(1.0, self.face_px / max(b.w, 1.0))
            size = (max(4, round((x2 - x1) * scale)), max(4, round((y2 - y1) * scale)))
            patch = cv2.resize(_gray(image[y1:y2, x1:x2]), size, interpolation=cv2.INTER_AREA)
            # a flat patch (a wall, a dark frame) matches anything equally badly
            flat = float(patch.std()) <= 2.0
            out.append(None if flat else Template(patch, scale, x1 - b.x, y1 - b.y))
        return out

    def follow(
        self,
        image: np.ndarray,
        boxes: list[Box],
        templates: list[Template | None],
        px_scale: float = 1.0,
        still: list[bool] | None = None,
    ) -> list[Box | None]:
        """Each face found again near its box (None: lost). A face marked ``still`` (nothing
        moved around it) keeps its box without a look."""
        h, w = image.shape[:2]
        out: list[Box | None] = [None] * len(boxes)
        scores = [0.0] * len(boxes)
        for i, (b, t) in enumerate(zip(boxes, templates, strict=True)):
            if still is not None and still[i]:
                out[i], scores[i] = b, 1.0
                continue
            if t is None:
                continue
            m = self.search * max(b.w, b.h)
            x1, y1 = max(0, int(b.x - m)), max(0, int(b.y - m))
            x2, y2 = min(w, int(b.x + b.w + m + 1)), min(h, int(b.y + b.h + m + 1))
            size = (round((x2 - x1) * t.scale), round((y2 - y1) * t.scale))
            th, tw = t.patch.shape
            if size[0] < tw or size[1] < th:
                continue
            window = cv2.resize(_gray(image[y1:y2, x1:x2]), size, interpolation=cv2.INTER_AREA)
            res = cv2.matchTemplate(window, t.patch, cv2.TM_CCOEFF_NORMED)
            _, best, _, (px, py) = cv2.minMaxLoc(res)
            if best < self.min_match:
                continue
            # one match step is a face width / face_px (4 % of the face): refine the peak
            fx, fy = px + _peak(res[py, px - 1 : px + 2]), py + _peak(res[py - 1 : py + 2, px])
            out[i] = Box(x1 + fx / t.scale - t.dx, y1 + fy / t.scale - t.dy, b.w, b.h, b.score)
            scores[i] = best
        return drop_duplicates(out, scores)


def _peak(v: np.ndarray) -> float:
    """Sub-step offset of a correlation peak from its two neighbours (a parabola through the
    three); 0 at the window's edge."""
    if v.size != 3:
        return 0.0
    left, mid, right = (float(x) for x in v)
    den = left - 2.0 * mid + right
    return 0.0 if den >= 0.0 else max(-0.5, min(0.5, 0.5 * (left - right) / den))
