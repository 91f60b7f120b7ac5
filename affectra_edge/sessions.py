"""Viewer sessions from tracked faces: one session per person in front of the artwork.

A track becomes a session once it has been seen for ``min_dwell_s``; a track that ends before
that is a passer-by, counted once (:meth:`SessionBuilder.take_passers_by`, for attraction power)
and otherwise forgotten. The session ends when the tracker drops the track after ``gap_s``
without a sighting, and its end time is the last sighting, not the moment the gap ran out. The emotion distribution is the
mean of per-frame probabilities over frames whose top probability reaches ``threshold``
(optionally smoothed per track first); if no frame qualifies, all frames are used so that a
session always carries a distribution. Pure: driven by frame timestamps only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from affectra_edge.types import EMOTIONS, Emotions, SessionEvent, TrackedFace, ViewerSession

N = len(EMOTIONS)

#: a track seen in fewer frames is not counted as a passer-by: a one-frame detection is far
#: more often a false positive (a pattern in the artwork, a reflection) than a person, and
#: counting those would understate attraction power
MIN_PASSER_FRAMES = 2
MAX_PENDING_PASSERS = 100_000


@dataclass
class _Viewer:
    track_id: int
    first_seen: float
    last_seen: float
    frames: int = 0
    sum_confident: np.ndarray = field(default_factory=lambda: np.zeros(N))
    n_confident: int = 0
    sum_all: np.ndarray = field(default_factory=lambda: np.zeros(N))
    n_all: int = 0
    smoothed: np.ndarray | None = None
    session_id: str | None = None
    last_update: float = 0.0

    def distribution(self) -> Emotions:
        if self.n_confident:
            p = self.sum_confident / self.n_confident
        elif self.n_all:
            p = self.sum_all / self.n_all
        else:
            p = np.full(N, 1.0 / N)
        p = p / p.sum()
        return Emotions(tuple(float(v) for v in p))


class SessionBuilder:
    def __init__(
        self,
        *,
        min_dwell_s: float = 1.0,
        threshold: float = 0.0,
        smoothing: float = 0.0,
        update_interval_s: float = 5.0,
        device_id: str = "",
        artwork: str = "",
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ):
        self.min_dwell_s = min_dwell_s
        self.threshold = threshold
        self.smoothing = smoothing
        self.update_interval_s = update_interval_s
        self.device_id = device_id
        self.artwork = artwork
        self._new_id = new_id
        self._viewers: dict[int, _Viewer] = {}
        self._passers_by: list[float] = []
        #: passers-by counted since start (for the figures; the store keeps them per slot)
        self.passers_by_total = 0

    def take_passers_by(self) -> list[float]:
        """The last sightings of the passers-by counted since the previous call: tracks that
        ended before ``min_dwell_s`` and were seen in at least :data:`MIN_PASSER_FRAMES`."""
        out, self._passers_by = self._passers_by, []
        return out

    @property
    def open_sessions(self) -> int:
        return sum(1 for v in self._viewers.values() if v.session_id is not None)

    def _snapshot(self, v: _Viewer, state: str) -> ViewerSession:
        assert v.session_id is not None
        return ViewerSession(
            session_id=v.session_id,
            track_id=v.track_id,
            started_at=v.first_seen,
            ended_at=v.last_seen,
            frames=v.frames,
            emotions=v.distribution(),
            state=state,  # type: ignore[arg-type]
            device_id=self.device_id,
            artwork=self.artwork,
        )

    def _observe(self, v: _Viewer, emotions: Emotions) -> None:
        p = np.asarray(emotions.probs, dtype=np.float64)
        # The frame's own confidence decides, before smoothing: a small, blurred or turned
        # face must not slip in because earlier confident frames lifted the smoothed peak.
        confident = float(p.max()) >= self.threshold
        if self.smoothing > 0:
            v.smoothed = (
                p if v.smoothed is None else self.smoothing * v.smoothed + (1 - self.smoothing) * p
            )
            p = v.smoothed
        v.sum_all += p
        v.n_all += 1
        if confident:
            v.sum_confident += p
            v.n_confident += 1

    def update(
        self, timestamp: float, faces: list[TrackedFace], ended: list[int]
    ) -> list[SessionEvent]:
        events: list[SessionEvent] = []
        for face in faces:
            if not face.visible:
                continue
            v = self._viewers.get(face.track_id)
            if v is None:
                v = self._viewers[face.track_id] = _Viewer(face.track_id, timestamp, timestamp)
            v.last_seen = timestamp
            v.frames += 1
            if face.emotions is not None:
                self._observe(v, face.emotions)
            if v.session_id is None:
                if v.last_seen - v.first_seen >= self.min_dwell_s:
                    v.session_id = self._new_id()
                    v.last_update = timestamp
                    events.append(SessionEvent("start", self._snapshot(v, "open")))
            elif timestamp - v.last_update >= self.update_interval_s:
                v.last_update = timestamp
                events.append(SessionEvent("update", self._snapshot(v, "open")))
        for tid in ended:
            v = self._viewers.pop(tid, None)
            if v is None:
                continue
            if v.session_id is not None:
                events.append(SessionEvent("end", self._snapshot(v, "closed")))
            elif v.frames >= MIN_PASSER_FRAMES:
                self.passers_by_total += 1
                if len(self._passers_by) < MAX_PENDING_PASSERS:  # nobody taking them (replay)
                    self._passers_by.append(v.last_seen)
        return events
