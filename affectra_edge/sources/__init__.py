"""Frame sources, chosen by ``[camera] type``.

Each type is a small module with a ``create(camera: CameraConfig, counters: SourceCounters)``
function returning a :class:`~affectra_edge.ports.FrameSource`; heavy or platform-only
libraries (OpenCV capture, picamera2) are imported inside it.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource

#: camera type → module implementing it
SOURCE_MODULES: dict[str, str] = {
    "demo": "affectra_edge.sources.demo",
    "file": "affectra_edge.sources.file",
    "usb": "affectra_edge.sources.usb",
    "picamera": "affectra_edge.sources.picamera",
    "esp32": "affectra_edge.sources.esp32",
}


@dataclass
class SourceCounters:
    """What a source has done since start; shared by the source and its capture runner."""

    frames: int = 0
    dropped: int = 0
    corrupt: int = 0
    reconnects: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def inc(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "frames": self.frames,
                "dropped": self.dropped,
                "corrupt": self.corrupt,
                "reconnects": self.reconnects,
            }


def build_source(camera: CameraConfig, counters: SourceCounters | None = None) -> FrameSource:
    module = importlib.import_module(SOURCE_MODULES[camera.type])
    return module.create(camera, counters or SourceCounters())
