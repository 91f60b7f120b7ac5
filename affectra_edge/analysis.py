"""One-off analysis of still pictures (the web upload, ``affectra-edge analyze``): faces and
emotions, nothing kept, and the one JSON shape both print."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from affectra_edge.pipeline import Pipeline
from affectra_edge.types import FaceObservation, Frame


def face_json(obs: FaceObservation) -> dict[str, Any]:
    """One classified face as the API and the CLI report it."""
    assert obs.emotions is not None
    return {
        "box": obs.box.as_list(),
        "score": round(float(obs.box.score), 4),
        "emotions": obs.emotions.as_dict(),
        "dominant": obs.emotions.dominant,
    }


def faces_json(observations: Iterable[FaceObservation]) -> list[dict[str, Any]]:
    """Every face that got an emotion, in the detector's order (best first)."""
    return [face_json(o) for o in observations if o.emotions is not None]


class Analyzer:
    """Runs on its own model instance, built on first use, so the live pipeline's
    interpreters are never shared across threads; one picture at a time."""

    def __init__(self, build: Callable[[], Pipeline]):
        self._build = build
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()

    def observe(self, image: np.ndarray) -> list[FaceObservation]:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = self._build()
            obs, _ = self._pipeline.observe(Frame(image, time.time(), 0))
            return obs
