"""The ports between pipeline stages. Adapters implement these; the pipeline knows nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from affectra_edge.errors import AffectraError
from affectra_edge.types import Box, Emotions, Frame, SessionEvent


class SourceError(AffectraError):
    """A frame source failed (device gone, connection dropped, stream ended unexpectedly).

    The capture runner catches this, reports the source as ``lost`` and reconnects with
    backoff; it never propagates into the pipeline.
    """


class SourceUnavailable(SourceError):
    """The source can never work as configured (missing library, bad path): do not retry."""


@runtime_checkable
class FrameSource(Protocol):
    """Where frames come from.

    ``live`` sources produce frames in real time: when the pipeline falls behind, the capture
    runner keeps only the newest frame. Non-live sources (files) are read frame by frame,
    nothing is skipped, and ``read`` returning ``None`` means the end of the stream.
    """

    name: str
    live: bool

    def open(self) -> None: ...

    def read(self) -> Frame | None:
        """Block until the next frame. ``None`` = end of stream; raise SourceError on loss."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces in a BGR image, best first, after non-maximum suppression."""
        ...


@runtime_checkable
class Classifier(Protocol):
    name: str

    def classify(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Emotions]:
        """One 7-class distribution per box (in EMOTIONS order) from a BGR image."""
        ...


@runtime_checkable
class EventSink(Protocol):
    def on_event(self, event: SessionEvent) -> None:
        """Must not block for long: it runs on the pipeline thread."""
        ...
