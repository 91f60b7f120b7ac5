"""detect → classify → track → sessions for one frame at a time. No threads, no I/O.

The appliance runs :meth:`Pipeline.process` on its pipeline thread; ``replay``, the tests and
the benchmarks call it directly, which is why it stays pure and deterministic.

``[detector] schedule = "every_frame"`` detects and classifies every face on every frame.
``"adaptive"`` runs motion → schedule → (full detection | carried tracks | nothing) → track →
classify the viewers that are due (:mod:`affectra_edge.schedule`); the sessions are the same
within the tolerances in bench/RESULTS.md, at a fraction of the cost.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from affectra_edge.classify import build_classifier
from affectra_edge.config import Config, DetectorConfig
from affectra_edge.detect import build_detector
from affectra_edge.detect.region import RegionDetector
from affectra_edge.detect.template import TemplateCarrier
from affectra_edge.motion import Motion, MotionDetector
from affectra_edge.ports import Carrier, Classifier, Detector
from affectra_edge.schedule import ClassifyLimiter, DetectionScheduler, Step, person_region
from affectra_edge.sessions import SessionBuilder
from affectra_edge.track import Tracker
from affectra_edge.types import (
    Box,
    FaceObservation,
    Frame,
    FrameResult,
    SessionEvent,
    TrackedFace,
)

logger = logging.getLogger(__name__)


@dataclass
class Adaptive:
    """The parts of the adaptive schedule (one set per pipeline: they keep state)."""

    motion: MotionDetector
    scheduler: DetectionScheduler
    #: None: carry tracks by holding the boxes of the last full detection
    carrier: Carrier[Any] | None
    limiter: ClassifyLimiter
    #: faces seen in the last frame (what a "hold" carry repeats, a "region" carry follows)
    last_boxes: list[Box] = dataclasses.field(default_factory=list)
    #: per face of ``last_boxes``, what the carrier measured at its last full detection;
    #: None until the first carry after it needs them (see ``calibration_image``)
    states: list[Any] | None = None
    #: the picture of the last full detection, kept (in memory, one frame) until the next
    #: frame shows whether anything will be carried: a crowd, where every frame is a full
    #: detection anyway, never pays for calibrating
    calibration_image: np.ndarray | None = None

    @classmethod
    def from_config(cls, cfg: DetectorConfig, regions: Detector | None = None) -> Adaptive:
        carrier: Carrier[Any] | None = None
        if cfg.carry == "template":
            carrier = TemplateCarrier()
        elif cfg.carry == "region":
            if regions is None:
                # The short-range model: inside a region around a face, the face is large.
                from affectra_edge.detect.blazeface import BlazeFaceDetector

                regions = BlazeFaceDetector.from_config(
                    dataclasses.replace(cfg, model="short", max_faces=4)
                )
            carrier = RegionDetector(regions)
        return cls(
            MotionDetector(threshold=cfg.motion_threshold),
            DetectionScheduler(
                detect_every=cfg.detect_every,
                idle_detect_s=cfg.idle_detect_s,
                motion_area=cfg.motion_area,
                # A region look costs a quarter to a third of one full pass (measured:
                # bench/RESULTS.md), so beyond three faces the full pass is the cheaper look;
                # holding boxes or matching pictures costs next to nothing per face.
                carry_max_tracks=3 if cfg.carry == "region" else cfg.max_faces,
            ),
            carrier,
            ClassifyLimiter(cfg.classify_hz, cfg.classify_first),
        )


class Pipeline:
    def __init__(
        self,
        detector: Detector,
        classifier: Classifier,
        tracker: Tracker,
        sessions: SessionBuilder,
        *,
        adaptive: Adaptive | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker
        self.sessions = sessions
        #: None: every frame is detected and every face classified
        self.adaptive = adaptive
        self._timer = timer
        self.last_timestamp: float | None = None
        #: what the last frame ran: "full", "carry" or "skip" (benchmarks tally it)
        self.last_step: Step = "full"

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
        if self.adaptive is not None:
            faces, ended, stage_ms = self._adaptive(frame, ts, self.adaptive)
            t0 = self._timer()
            events = self.sessions.update(ts, faces, ended)
            stage_ms["track"] += (self._timer() - t0) * 1000.0
        else:
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

    def _adaptive(
        self, frame: Frame, ts: float, a: Adaptive
    ) -> tuple[list[TrackedFace], list[int], dict[str, float]]:
        t0 = self._timer()
        tracks = self.tracker.boxes()
        settling = a.limiter.settling(self.tracker.ids())
        # While nobody is tracked a JPEG source's small preview is enough for motion, and a
        # still, empty scene is never decoded in full. With viewers the picture is decoded
        # anyway (a carry or a full detection), so motion uses it rather than paying for both;
        # the two grey copies differ by at most 12 grey levels (threshold: 20), so a switch
        # between them is not motion (bench/RESULTS.md).
        seen = frame.preview if not tracks and frame.preview is not None else frame.image
        size = (frame.width, frame.height)
        motion: Motion | None = None
        if a.scheduler.needs_motion(tracks, settling):
            motion = a.motion.update(
                seen, regions=bool(tracks), keep=[person_region(b) for b in tracks], size=size
            )
        else:
            # A settling viewer's frames are full detections whatever moved (a crowd's are
            # nearly all settling): the background only takes the frame in.
            a.motion.adapt(seen, size)
        t1 = self._timer()
        step = a.scheduler.decide(ts, motion, tracks, settling).step
        boxes: list[Box] = []
        # only now is the picture needed (a deferred frame is decoded here, or never)
        image, scale = frame.for_classifier if step != "skip" else (None, 1.0)
        if step == "carry" and a.carrier is None:
            boxes = a.last_boxes
        elif step == "carry" and a.carrier is not None:
            # Only faces seen in the last frame are followed: a track the full detector
            # missed waits for the next full detection, as it would have with every frame.
            if a.states is None:
                image_then = a.calibration_image if a.calibration_image is not None else frame.image
                a.states = a.carrier.calibrate(image_then, a.last_boxes, scale)
            # Holding the box of a face nothing moved around costs nothing. (Holding a face
            # that moves little for a frame or two as well was measured and rejected: it
            # split a session on the interview clip; bench/RESULTS.md.)
            still = [motion is not None and not motion.touches(b) for b in a.last_boxes]
            found = a.carrier.follow(frame.image, a.last_boxes, a.states, scale, still)
            if any(b is None for b in found):
                # A carried face is gone (or hiding): look at the whole frame now, so that
                # a viewer who moved on is not reported missing for a frame by mistake.
                step = "full"
            else:
                boxes = [b for b in found if b is not None]
        if step == "full":
            boxes = self.detector.detect(frame.image, scale)
            a.states = None
        a.calibration_image = frame.image if step == "full" else None
        a.last_boxes = boxes
        a.scheduler.ran(step, ts)
        self.last_step = step
        t2 = self._timer()
        faces, ended = self.tracker.update([FaceObservation(b) for b in boxes], ts)
        t3 = self._timer()
        # Only boxes of the full detector are read: the emotion model reads a carried box,
        # 1-2 % of a face off, differently enough to move a session's mix (bench/RESULTS.md).
        due = [f for f in faces if step == "full" and f.visible and a.limiter.due(f.track_id, ts)]
        if due and image is not None:  # due only on full detections, which had the picture
            emotions = self.classifier.classify(image, [f.box.scaled(scale) for f in due])
            for f, e in zip(due, emotions, strict=True):
                a.limiter.classified(f.track_id, ts, e)
        # Between classifications a viewer keeps their last distribution, so sessions and
        # the live view see one per visible frame, as with every-frame processing.
        faces = [
            dataclasses.replace(f, emotions=a.limiter.held(f.track_id)) if f.visible else f
            for f in faces
        ]
        a.limiter.forget(ended)
        t4 = self._timer()
        stage_ms = {
            "motion": (t1 - t0) * 1000.0,
            "detect": (t2 - t1) * 1000.0,
            "classify": (t4 - t3) * 1000.0,
            "track": (t3 - t2) * 1000.0,
        }
        return faces, ended, stage_ms

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
    adaptive = Adaptive.from_config(cfg.detector) if cfg.detector.schedule == "adaptive" else None
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
        adaptive=adaptive,
    )
