"""Multi-face tracking: give each face a persistent identity across frames.

Matching is greedy on a cost that prefers box overlap (IoU) and falls back to centre distance
relative to face size, so a face that moves quickly between two low-fps frames still keeps its
track. A track that is not matched coasts on its last box until it has been unseen for
``gap_s`` seconds of *frame* time; then it is dropped and reported as ended. Pure: time comes
from the frames, so replays are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from affectra_edge.types import Box, FaceObservation, TrackedFace


@dataclass
class _Track:
    track_id: int
    box: Box
    first_seen: float
    last_seen: float
    hits: int = 1


class Tracker:
    def __init__(self, *, gap_s: float = 2.0, match_iou: float = 0.2, max_centre_dist: float = 1.0):
        self.gap_s = gap_s
        self.match_iou = match_iou
        #: largest centre distance, in face widths, accepted when boxes do not overlap enough
        self.max_centre_dist = max_centre_dist
        self._tracks: dict[int, _Track] = {}
        self._ids = count(1)

    def _cost(self, track: _Track, box: Box) -> float | None:
        iou = track.box.iou(box)
        if iou >= self.match_iou:
            return 1.0 - iou  # in [0, 1 - match_iou]
        (tx, ty), (bx, by) = track.box.center, box.center
        scale = max(track.box.w, track.box.h, box.w, box.h, 1.0)
        dist = ((tx - bx) ** 2 + (ty - by) ** 2) ** 0.5 / scale
        # sizes must be comparable too, or a passer-by close to the camera could steal the id
        ratio = max(track.box.w, box.w) / max(1.0, min(track.box.w, box.w))
        if dist <= self.max_centre_dist and ratio <= 2.0:
            return 1.0 + dist  # always worse than any IoU match
        return None

    def update(
        self, observations: list[FaceObservation], timestamp: float
    ) -> tuple[list[TrackedFace], list[int]]:
        """Match this frame's faces; returns (faces incl. coasting tracks, ids of ended tracks)."""
        pairs = []
        for tid, track in self._tracks.items():
            for j, obs in enumerate(observations):
                c = self._cost(track, obs.box)
                if c is not None:
                    pairs.append((c, tid, j))
        pairs.sort()
        used_tracks: set[int] = set()
        used_obs: set[int] = set()
        matched: dict[int, int] = {}
        for _, tid, j in pairs:
            if tid in used_tracks or j in used_obs:
                continue
            used_tracks.add(tid)
            used_obs.add(j)
            matched[j] = tid

        faces: list[TrackedFace] = []
        for j, obs in enumerate(observations):
            if j in matched:
                tid = matched[j]
                t = self._tracks[tid]
                t.box, t.last_seen, t.hits = obs.box, timestamp, t.hits + 1
            else:
                tid = next(self._ids)
                self._tracks[tid] = _Track(tid, obs.box, timestamp, timestamp)
            faces.append(TrackedFace(tid, obs.box, obs.emotions, visible=True))

        ended: list[int] = []
        for tid, t in list(self._tracks.items()):
            if tid in used_tracks or t.last_seen == timestamp:
                continue
            if timestamp - t.last_seen > self.gap_s:
                del self._tracks[tid]
                ended.append(tid)
            else:
                faces.append(TrackedFace(tid, t.box, None, visible=False))
        return faces, ended

    def boxes(self) -> list[Box]:
        """The last box of every live track, seen in the last frame or coasting."""
        return [t.box for t in self._tracks.values()]

    def ids(self) -> list[int]:
        """Every live track, seen in the last frame or coasting."""
        return list(self._tracks)

    def flush(self) -> list[int]:
        """End every track (end of stream / shutdown)."""
        ended = list(self._tracks)
        self._tracks.clear()
        return ended
