"""Carry tracks between full detections: look for each face only around where it was.

A crop ``margin`` times the face's size around its last box fills most of the short-range
BlazeFace input (128 px), where the face is large and easy; that costs a quarter to a third of a
full-range pass over the whole frame, per face. A face not found there is reported as lost,
and the scheduler runs the full detector on the same frame.

The two models draw different boxes around the same face (on the shared interview clip the
short-range box sits 15–20 % of a face width to one side, steadily for a given face), and the
emotion model reads a shifted crop differently. So each face is *calibrated* when the full
detector finds it: the region model looks at it on that same frame, and the difference is
applied to every box the region model finds for it until the next full detection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from affectra_edge.detect.blazeface import nms
from affectra_edge.ports import Detector
from affectra_edge.types import Box

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Offset:
    """The full detector's box relative to the region model's box for the same face."""

    dx: float  # centre shift, in region-box widths
    dy: float  # centre shift, in region-box heights
    sw: float  # width ratio
    sh: float  # height ratio

    @classmethod
    def between(cls, full: Box, region: Box) -> Offset:
        (fx, fy), (rx, ry) = full.center, region.center
        rw, rh = max(region.w, 1e-6), max(region.h, 1e-6)
        return cls((fx - rx) / rw, (fy - ry) / rh, full.w / rw, full.h / rh)

    def apply(self, region: Box) -> Box:
        cx, cy = region.center
        w, h = region.w * self.sw, region.h * self.sh
        cx, cy = cx + self.dx * region.w, cy + self.dy * region.h
        return Box(cx - w / 2, cy - h / 2, w, h, region.score)


class RegionDetector:
    def __init__(self, detector: Detector, *, margin: float = 2.2, nms_iou: float = 0.3):
        """``detector``: the small, fast model to run on each region (short-range BlazeFace)."""
        self.detector = detector
        self.margin = margin
        self.nms_iou = nms_iou

    def region(self, box: Box, width: int, height: int) -> tuple[int, int, int, int]:
        """The square crop (x1, y1, x2, y2) around ``box``, clipped to the frame."""
        side = max(box.w, box.h) * self.margin
        cx, cy = box.center
        x1 = int(max(0, round(cx - side / 2)))
        y1 = int(max(0, round(cy - side / 2)))
        x2 = int(min(width, round(cx + side / 2)))
        y2 = int(min(height, round(cy + side / 2)))
        return x1, y1, x2, y2

    def find(self, image: np.ndarray, boxes: list[Box], px_scale: float = 1.0) -> list[Box | None]:
        """For each box, the face found around it in ``image`` (frame pixels), or None."""
        h, w = image.shape[:2]
        found: list[Box | None] = []
        for box in boxes:
            x1, y1, x2, y2 = self.region(box, w, h)
            if x2 - x1 < 2 or y2 - y1 < 2:
                found.append(None)
                continue
            cands = self.detector.detect(image[y1:y2, x1:x2], px_scale)
            best: Box | None = None
            best_d = 0.0
            for c in cands:
                c = Box(c.x + x1, c.y + y1, c.w, c.h, c.score)
                (bx, by), (cx, cy) = box.center, c.center
                d = ((bx - cx) ** 2 + (by - cy) ** 2) ** 0.5 / max(box.w, box.h, 1.0)
                # the face the track followed, not a neighbour who shares the region
                if d <= 0.75 and (best is None or d < best_d):
                    best, best_d = c, d
            found.append(best)
        return drop_duplicates(found, [b.score if b else 0.0 for b in found], self.nms_iou)

    def calibrate(
        self, image: np.ndarray, boxes: list[Box], px_scale: float = 1.0
    ) -> list[Offset | None]:
        """For each box of the full detector, how the region model's box differs (None: the
        region model does not see this face, so it cannot be carried)."""
        return [
            None if r is None else Offset.between(b, r)
            for b, r in zip(boxes, self.find(image, boxes, px_scale), strict=True)
        ]

    def follow(
        self,
        image: np.ndarray,
        boxes: list[Box],
        offsets: list[Offset | None],
        px_scale: float = 1.0,
        still: list[bool] | None = None,
    ) -> list[Box | None]:
        """Each face found again around its box, in the full detector's terms (None: lost).

        A face marked ``still`` (nothing moved around it) keeps its box without a look: a
        viewer standing still costs nothing between full detections."""
        out: list[Box | None] = [None] * len(boxes)
        todo = []
        for i, o in enumerate(offsets):
            if still is not None and still[i]:
                out[i] = boxes[i]
            elif o is not None:
                todo.append(i)
        found = self.find(image, [boxes[i] for i in todo], px_scale)
        for i, r in zip(todo, found, strict=True):
            o = offsets[i]
            if r is not None and o is not None:
                out[i] = o.apply(r)
        return out


def drop_duplicates(
    found: list[Box | None], scores: list[float], iou: float = 0.3
) -> list[Box | None]:
    """Two tracks that found the same face: the weaker one lost it."""
    idx = [i for i, b in enumerate(found) if b is not None]
    if len(idx) < 2:
        return found
    xyxy = np.array([[b.x, b.y, b.x + b.w, b.y + b.h] for i in idx if (b := found[i])])
    keep = set(nms(xyxy, np.array([scores[i] for i in idx]), iou, len(idx)))
    return [b if (i not in idx or idx.index(i) in keep) else None for i, b in enumerate(found)]
