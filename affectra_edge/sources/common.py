"""What every source module uses: the counters it shares with its capture runner, and the
frame it makes of a captured picture.

The source modules import these from here, not from :mod:`affectra_edge.sources`, which
imports the source modules (and re-exports both names).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from affectra_edge.types import Frame


@dataclass
class SourceCounters:
    """What a source has done since start; shared by the source and its capture runner."""

    frames: int = 0
    dropped: int = 0
    corrupt: int = 0
    reconnects: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def inc(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "frames": self.frames,
                "dropped": self.dropped,
                "corrupt": self.corrupt,
                "reconnects": self.reconnects,
            }


def make_frame(image: np.ndarray, timestamp: float, index: int, detect_width: int) -> Frame:
    """A frame whose ``image`` is at most ``detect_width`` wide (0: as captured), keeping the
    captured picture as ``full`` for the emotion crops when it had to be shrunk."""
    w = image.shape[1]
    if detect_width <= 0 or w <= detect_width:
        return Frame(image, timestamp, index)
    import cv2

    h = max(1, round(image.shape[0] * detect_width / w))
    small = cv2.resize(image, (detect_width, h), interpolation=cv2.INTER_AREA)
    return Frame(small, timestamp, index, full=image)
