"""The face crop every emotion back-end classifies (and ``compare`` compares them on)."""

from __future__ import annotations

import numpy as np

from affectra_edge.types import Box

#: Extra border around the detector's box, as a fraction of its size. BlazeFace boxes are
#: tight (brows to chin); FER2013 faces include a little forehead and jaw.
CROP_MARGIN = 0.1


def crop_face(image: np.ndarray, box: Box, margin: float = CROP_MARGIN) -> np.ndarray:
    """The face region of a BGR image, widened by ``margin`` and clipped to the frame."""
    h, w = image.shape[:2]
    mx, my = box.w * margin, box.h * margin
    x1 = int(max(0, round(box.x - mx)))
    y1 = int(max(0, round(box.y - my)))
    x2 = int(min(w, round(box.x + box.w + mx)))
    y2 = int(min(h, round(box.y + box.h + my)))
    if x2 <= x1 or y2 <= y1:
        return image[0:0, 0:0]
    return image[y1:y2, x1:x2]
