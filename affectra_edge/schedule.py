"""When to run the expensive stages (``[detector] schedule = "adaptive"``).

Frigate's lesson: cheap motion detection decides when the detector runs.

- Nobody tracked: the full detector runs on frames with motion, and every ``idle_detect_s``
  anyway (a visitor who walked in while the background was still adapting, then stood still).
- Somebody tracked: the full detector runs every ``detect_every``-th frame, at once when motion
  appears outside every tracked person (a newcomer), when more people are tracked than carrying
  them costs less than one full detection (``carry_max_tracks``), and on demand when a carried
  track is lost. In between, tracks are *carried*: each is looked for in a small region around
  its last box (:mod:`affectra_edge.detect.region`).
- Each viewer's emotion is classified at most ``classify_hz`` times a second; in between the
  last distribution is reused (:class:`ClassifyLimiter`).

Pure: time is the frames' timestamps, so replays decide exactly as the live run did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from affectra_edge.classify.crop import crop_face
from affectra_edge.motion import Motion
from affectra_edge.types import Box, Emotions

logger = logging.getLogger(__name__)

Step = Literal["full", "carry", "skip"]


def person_region(face: Box) -> Box:
    """Where a viewer's own movement shows: head, shoulders and upper body around a face box.

    Motion whose centre lies here is the tracked viewer swaying, not somebody new."""
    return Box(face.x - 1.5 * face.w, face.y - 1.0 * face.h, 4.0 * face.w, 7.0 * face.h)


@dataclass(frozen=True, slots=True)
class Decision:
    step: Step
    #: why (for logs, tests and the benchmark's tally)
    reason: str


class DetectionScheduler:
    def __init__(
        self,
        *,
        detect_every: int = 5,
        idle_detect_s: float = 2.0,
        motion_area: float = 0.002,
        carry_max_tracks: int = 3,
    ):
        self.detect_every = detect_every
        self.idle_detect_s = idle_detect_s
        #: share of the motion mask that counts as motion in an empty scene
        self.motion_area = motion_area
        self.carry_max_tracks = carry_max_tracks
        self._last_full: float | None = None
        self._since_full = 0

    def decide(self, timestamp: float, motion: Motion, tracks: list[Box]) -> Decision:
        if self._last_full is None:
            return Decision("full", "first frame")
        if not tracks:
            if motion.moving(self.motion_area):
                return Decision("full", "motion")
            if timestamp - self._last_full >= self.idle_detect_s:
                return Decision("full", "idle refresh")
            return Decision("skip", "still and empty")
        if self._since_full + 1 >= self.detect_every:
            return Decision("full", "every nth")
        if len(tracks) > self.carry_max_tracks:
            return Decision("full", "many tracks")
        # A newcomer's smallest noticeable movement: a fraction of a tracked face's area.
        min_px = 0.25 * min(b.area for b in tracks)
        if motion.outside([person_region(b) for b in tracks], min_px):
            return Decision("full", "motion outside tracks")
        return Decision("carry", "tracks")

    def ran(self, step: Step, timestamp: float) -> None:
        """Record what actually ran (a carry that lost a track is followed by a full run)."""
        if step == "full":
            self._last_full = timestamp
            self._since_full = 0
        else:
            self._since_full += 1


def thumbnail(image: np.ndarray, box: Box) -> np.ndarray:
    """A face as 16×16 grey levels: enough to see it move, turn or change expression."""
    crop = crop_face(image, box)
    if crop.size == 0:
        return np.zeros((THUMB, THUMB), np.int16)
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return cv2.resize(crop, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.int16)


THUMB = 16


@dataclass(slots=True)
class _Reading:
    timestamp: float
    emotions: Emotions
    thumb: np.ndarray | None


class ClassifyLimiter:
    """At most ``hz`` classifications per viewer per second while the face looks the same;
    the last distribution in between.

    A face whose 16×16 thumbnail differs from the one last classified by more than
    ``change`` grey levels on average (it walked, turned, or its expression changed) is
    classified again at once: reusing a reading is only sound while it still describes the
    face. A viewer standing still, the case the cap is for, stays at ``hz``."""

    def __init__(self, hz: float = 5.0, change: float = 0.0):
        # a little slack so that 5 Hz at 15 fps is every third frame, not every fourth
        self.period = (1.0 / hz - 1e-3) if hz > 0 else 0.0
        self.change = change
        self._last: dict[int, _Reading] = {}

    def due(self, track_id: int, timestamp: float, thumb: np.ndarray | None = None) -> bool:
        last = self._last.get(track_id)
        if last is None or timestamp - last.timestamp >= self.period:
            return True
        if self.change <= 0 or thumb is None or last.thumb is None:
            return False
        return float(np.abs(thumb - last.thumb).mean()) > self.change

    def held(self, track_id: int) -> Emotions | None:
        last = self._last.get(track_id)
        return last.emotions if last else None

    def classified(
        self,
        track_id: int,
        timestamp: float,
        emotions: Emotions,
        thumb: np.ndarray | None = None,
    ) -> None:
        self._last[track_id] = _Reading(timestamp, emotions, thumb)

    def forget(self, track_ids: list[int]) -> None:
        for tid in track_ids:
            self._last.pop(tid, None)
