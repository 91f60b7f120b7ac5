"""The "latest frame" slot shared by the pipeline and any number of live-view clients.

Modelled on picamera2's mjpeg_server example: one Condition guards one slot; the producer
overwrites it and notifies; each consumer waits for a sequence number newer than the one it
last saw. Nobody queues frames, so a slow browser can never hold up capture or inference.
Frames live in memory only and are never written anywhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from affectra_edge.types import Frame, FrameResult


@dataclass(frozen=True, slots=True)
class LiveItem:
    seq: int
    frame: Frame
    result: FrameResult | None


class LatestSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: LiveItem | None = None
        self._seq = 0
        self._closed = False

    def publish(self, frame: Frame, result: FrameResult | None = None) -> int:
        with self._cond:
            self._seq += 1
            self._item = LiveItem(self._seq, frame, result)
            self._cond.notify_all()
            return self._seq

    def wait_newer(self, seq: int, timeout: float | None = None) -> LiveItem | None:
        """The newest item with a sequence number above ``seq``; None on timeout or close."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._closed or (self._item is not None and self._item.seq > seq), timeout
            )
            if not ok or self._closed:
                return None
            return self._item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
