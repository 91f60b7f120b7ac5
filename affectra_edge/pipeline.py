"""detect → classify → track → sessions for one frame at a time. No threads, no I/O.

The appliance runs :meth:`Pipeline.process` on its pipeline thread; ``replay``, the tests and
the benchmarks call it directly, which is why it stays pure and deterministic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from affectra_edge.classify import build_classifier
from affectra_edge.config import Config
from affectra_edge.detect import build_detector
from affectra_edge.ports import Classifier, Detector
from affectra_edge.sessions import SessionBuilder
from affectra_edge.track import Tracker
from affectra_edge.types import FaceObservation, Frame, FrameResult, SessionEvent

logger = logging.getLogger(__name__)


class Pipeline:
    def __init__(
        self,
        detector: Detector,
        classifier: Classifier,
        tracker: Tracker,
        sessions: SessionBuilder,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker
        self.sessions = sessions
        self._timer = timer
        self.last_timestamp: float | None = None

    def observe(self, frame: Frame) -> tuple[list[FaceObservation], dict[str, float]]:
        """Detection and classification only (also used by ``analyze``)."""
        t0 = self._timer()
        image, scale = frame.for_classifier
        boxes = self.detector.detect(frame.image, scale)
        t1 = self._timer()
        emotions: list = []
        if boxes:
            # Detection sees the small copy; the emotion crop comes from the full-resolution
            # frame, where a distant face still has most of the pixels the model needs.
            emotions = self.classifier.classify(image, [b.scaled(scale) for b in boxes])
        t2 = self._timer()
        obs = [FaceObservation(b, e) for b, e in zip(boxes, emotions, strict=True)]
        return obs, {"detect": (t1 - t0) * 1000.0, "classify": (t2 - t1) * 1000.0}

    def process(self, frame: Frame, decode_ms: float = 0.0) -> FrameResult:
        ts = frame.timestamp
        if self.last_timestamp is not None and ts < self.last_timestamp:
            # A camera clock that steps back must not end every session at once.
            logger.debug(
                "frame %d timestamp went back %.3f s", frame.index, self.last_timestamp - ts
            )
            ts = self.last_timestamp
        self.last_timestamp = ts
        obs, stage_ms = self.observe(frame)
        t0 = self._timer()
        faces, ended = self.tracker.update(obs, ts)
        events = self.sessions.update(ts, faces, ended)
        stage_ms["track"] = (self._timer() - t0) * 1000.0
        stage_ms["decode"] = decode_ms
        return FrameResult(
            frame_index=frame.index,
            timestamp=ts,
            faces=tuple(faces),
            events=tuple(events),
            stage_ms=stage_ms,
            width=frame.width,
            height=frame.height,
        )

    def finish(self, timestamp: float | None = None) -> list[SessionEvent]:
        """End every open session (end of a file, shutdown): each ends at its last sighting."""
        ts = timestamp if timestamp is not None else (self.last_timestamp or time.time())
        return self.sessions.update(ts, [], self.tracker.flush())


def build_pipeline(
    cfg: Config,
    *,
    detector: Detector | None = None,
    classifier: Classifier | None = None,
) -> Pipeline:
    s = cfg.sessions
    return Pipeline(
        detector or build_detector(cfg.detector),
        classifier or build_classifier(cfg.classifier),
        Tracker(gap_s=s.gap_s, match_iou=s.match_iou),
        SessionBuilder(
            min_dwell_s=s.min_dwell_s,
            threshold=cfg.classifier.threshold,
            smoothing=cfg.classifier.smoothing,
            update_interval_s=s.update_interval_s,
            device_id=cfg.device.id,
            artwork=cfg.device.artwork,
        ),
    )
