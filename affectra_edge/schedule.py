"""When to run the expensive stages (``[detector] schedule = "adaptive"``).

Frigate's lesson: cheap motion detection decides when the detector runs.

- Nobody tracked: the full detector runs on frames with motion, and every ``idle_detect_s``
  anyway (a visitor who walked in while the background was still adapting, then stood still).
- Somebody tracked: while any tracked viewer is *settling* (fewer than ``classify_first``
  readings so far) every frame is a full detection, exactly as with every-frame processing: a
  visit's first seconds are where a passer-by's whole mix and a flickering face are decided.
  After that the full detector runs every ``detect_every``-th frame, at once when motion
  appears outside every tracked person or at either side of the picture (a newcomer), while
  two faces are within 1.5 face widths of each other (a carry could swap them), when more
  people are tracked than carrying them costs less than one full detection
  (``carry_max_tracks``), and on demand when a carried track is lost. In between, tracks are
  *carried* (:mod:`affectra_edge.detect.template`, :mod:`affectra_edge.detect.region`).
- Emotions are read only from full detections' boxes (a carried box is close, but the emotion
  model reads a crop shifted by 1-2 % of a face differently: bench/RESULTS.md), each settling
  viewer on every frame, then at most ``classify_hz`` times a second; in between the last
  distribution is reused (:class:`ClassifyLimiter`).

Pure: time is the frames' timestamps, so replays decide exactly as the live run did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from affectra_edge.motion import Motion
from affectra_edge.types import Box, Emotions

logger = logging.getLogger(__name__)

Step = Literal["full", "carry", "skip"]


def person_region(face: Box) -> Box:
    """Where a viewer's own movement shows: head, shoulders and upper body around a face box.

    Motion here is the tracked viewer swaying, not somebody new (only changed pixels outside
    every viewer's region count as a newcomer: a walker who has reached a viewer's region was
    seen moving outside it first)."""
    return Box(face.x - 1.5 * face.w, face.y - 1.0 * face.h, 4.0 * face.w, 7.0 * face.h)


def _close(tracks: list[Box], factor: float) -> bool:
    """Whether two faces are within ``factor`` face widths of each other (centre to centre)."""
    for i, a in enumerate(tracks):
        for b in tracks[i + 1 :]:
            (ax, ay), (bx, by) = a.center, b.center
            if ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 < factor * max(a.w, b.w):
                return True
    return False


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
        close: float = 1.5,
        edge: float = 0.05,
    ):
        self.detect_every = detect_every
        self.idle_detect_s = idle_detect_s
        #: share of the motion mask that counts as motion in an empty scene
        self.motion_area = motion_area
        self.carry_max_tracks = carry_max_tracks
        self.close = close
        #: share of the picture's side strips that must change to count as a newcomer
        self.edge = edge
        self._last_full: float | None = None
        self._since_full = 0

    @staticmethod
    def needs_motion(tracks: list[Box], settling: bool) -> bool:
        """Whether :meth:`decide` will look at the motion: not while a tracked viewer is
        settling (every frame is a full detection then), so the caller can skip measuring."""
        return not (tracks and settling)

    def decide(
        self, timestamp: float, motion: Motion | None, tracks: list[Box], settling: bool = False
    ) -> Decision:
        """``settling``: some tracked viewer has not had their first readings yet;
        ``motion`` may be None only when :meth:`needs_motion` says so."""
        if self._last_full is None:
            return Decision("full", "first frame")
        if tracks and settling:
            return Decision("full", "settling viewer")
        if motion is None:
            raise ValueError("motion was not measured, but this decision needs it")
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
        if _close(tracks, self.close):
            return Decision("full", "tracks close")
        # A newcomer's smallest noticeable movement: a fraction of a tracked face's area.
        min_px = 0.25 * min(b.area for b in tracks)
        if motion.outside_px >= min_px:
            return Decision("full", "motion outside tracks")
        # Newcomers walk in from the sides. Next to a close, large viewer the whole side of
        # the picture lies within that viewer's region, so motion there counts on its own.
        if motion.edge >= self.edge:
            return Decision("full", "motion at the edge")
        return Decision("carry", "tracks")

    def ran(self, step: Step, timestamp: float) -> None:
        """Record what actually ran (a carry that lost a track is followed by a full run)."""
        if step == "full":
            self._last_full = timestamp
            self._since_full = 0
        else:
            self._since_full += 1


class ClassifyLimiter:
    """Each viewer's first ``first`` readings whenever they are seen (the scheduler makes every
    frame a full detection meanwhile), then at most ``hz`` a second; the last distribution in
    between.

    A session's emotion mix is the mean of its readings, and per-frame readings of a small or
    moving face are noisy: a passer-by's 2-4 s visit read at 5 Hz (10-20 readings) gave a mix
    0.13 (L1) away from the every-frame one on the crowd clip. Taking the first readings on
    every frame makes short visits exact and gives every longer one at least that many, while
    a viewer who stays, the case the cap is for, is read at ``hz`` (bench/RESULTS.md)."""

    def __init__(self, hz: float = 5.0, first: int = 0):
        # a little slack so that 5 Hz at 15 fps is every third frame, not every fourth
        self.period = (1.0 / hz - 1e-3) if hz > 0 else 0.0
        self.first = first
        #: per viewer: (time of the last reading, its distribution, readings so far)
        self._last: dict[int, tuple[float, Emotions, int]] = {}

    def due(self, track_id: int, timestamp: float) -> bool:
        if self._settling(track_id):
            return True
        return timestamp - self._last[track_id][0] >= self.period

    def settling(self, track_ids: list[int]) -> bool:
        """Whether any of these viewers has had fewer than ``first`` readings."""
        return any(self._settling(tid) for tid in track_ids)

    def _settling(self, track_id: int) -> bool:
        last = self._last.get(track_id)
        return last is None or last[2] < self.first

    def held(self, track_id: int) -> Emotions | None:
        last = self._last.get(track_id)
        return last[1] if last else None

    def classified(self, track_id: int, timestamp: float, emotions: Emotions) -> None:
        last = self._last.get(track_id)
        self._last[track_id] = (timestamp, emotions, 1 + (last[2] if last else 0))

    def forget(self, track_ids: list[int]) -> None:
        for tid in track_ids:
            self._last.pop(tid, None)
