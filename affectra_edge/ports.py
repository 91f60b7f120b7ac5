"""The ports between pipeline stages. Adapters implement these; the pipeline knows nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

from affectra_edge.errors import EXIT_SOURCE, AffectraError
from affectra_edge.types import Box, Emotions, Frame, SessionEvent


class SourceError(AffectraError):
    """A frame source failed (device gone, connection dropped, stream ended unexpectedly).

    The capture runner catches this, reports the source as ``lost`` and reconnects with
    backoff; it never propagates into the pipeline. A command that reads a source directly
    (``replay``) exits with code 5 on it, as the README promises.
    """

    exit_code = EXIT_SOURCE


class SourceUnavailable(SourceError):
    """The source can never work as configured (missing library, bad path): do not retry."""


class FrameSource(Protocol):
    """Where frames come from.

    ``live`` sources produce frames in real time: when the pipeline falls behind, the capture
    runner keeps only the newest frame. Non-live sources (files) are read frame by frame,
    nothing is skipped, and ``read`` returning ``None`` means the end of the stream.
    """

    live: bool

    def open(self) -> None: ...

    def read(self) -> Frame | None:
        """Block until the next frame. ``None`` = end of stream; raise SourceError on loss."""
        ...

    def close(self) -> None: ...


class Detector(Protocol):
    def detect(self, image: np.ndarray, px_scale: float = 1.0) -> list[Box]:
        """Faces in a BGR image, best first, after non-maximum suppression.

        ``px_scale`` is how many full-resolution pixels one pixel of ``image`` stands for
        (size limits are in full-resolution pixels)."""
        ...


S = TypeVar("S")


class Carrier(Protocol[S]):
    """Follows faces between full detections (``[detector] carry``).

    ``calibrate`` runs on the frame of a full detection and returns what ``follow`` needs per
    face (None: this face cannot be followed); ``follow`` returns each face's box in the new
    frame, or None where it is lost (the scheduler then runs the full detector)."""

    def calibrate(
        self, image: np.ndarray, boxes: list[Box], px_scale: float = 1.0
    ) -> list[S | None]: ...

    def follow(
        self,
        image: np.ndarray,
        boxes: list[Box],
        states: list[S | None],
        px_scale: float = 1.0,
        still: list[bool] | None = None,
    ) -> list[Box | None]: ...


class Classifier(Protocol):
    name: str

    def classify(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Emotions]:
        """One 7-class distribution per box (in EMOTIONS order) from a BGR image."""
        ...


class EventSink(Protocol):
    def on_event(self, event: SessionEvent) -> None:
        """Must not block for long: it runs on the pipeline thread."""
        ...
