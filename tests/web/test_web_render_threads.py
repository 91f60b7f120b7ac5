"""Text on live-view frames, placeholder cards and analyzed uploads is drawn on one thread.

OpenCV 5 keeps its text renderer's state (~5.7 MB) per thread until the thread ends; the web
workers live as long as the daemon, so text drawn on each of them cost ~92 MB for 16 workers
(the soak's RSS warm-up, bench/RESULTS.md issue 18).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from affectra_edge.types import Box, Emotions, FrameResult, TrackedFace
from affectra_edge.webui import render


@pytest.fixture
def text_threads(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """The threads OpenCV's text functions ran on (the real functions still do the work)."""
    seen: list[threading.Thread] = []

    def spy(real: Callable) -> Callable:
        def call(*args, **kwargs):
            seen.append(threading.current_thread())
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(cv2, "getTextSize", spy(cv2.getTextSize))
    monkeypatch.setattr(cv2, "putText", spy(cv2.putText))
    return seen


def test_text_from_many_web_workers_is_drawn_on_one_thread(text_threads):
    frame = np.full((240, 320, 3), 90, np.uint8)
    happy = Emotions((0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.1))
    result = FrameResult(0, 0.0, (TrackedFace(7, Box(60, 50, 80, 90), happy),))
    callers = []
    outputs: list[np.ndarray] = []

    def worker() -> None:
        callers.append(threading.current_thread())
        outputs.append(render.annotate(frame, result, "boxes"))
        render.placeholder(text="Waiting for the camera…")
        render.numbered(frame, [(Box(60, 50, 80, 90), "happy")])

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()

    assert len(outputs) == 4 and text_threads, "nothing was drawn"
    # one thread for all of it, and none of the callers (each would keep its own copy)
    assert len(set(text_threads)) == 1
    assert not set(text_threads) & set(callers)
    # the label really is in the picture: dark ink inside the tag above the box
    tag = outputs[0][30:50, 60:140]
    assert (tag < 40).any()
    assert all(np.array_equal(o, outputs[0]) for o in outputs)


def test_text_size_matches_opencv():
    assert render.text_size("#7 happy 90%", 0.5, 1) == cv2.getTextSize(
        "#7 happy 90%", cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    )
