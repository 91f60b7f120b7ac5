"""Frame sources, chosen by ``[camera] type``.

Each type is a small module with a ``create(camera: CameraConfig, counters: SourceCounters)``
function returning a :class:`~affectra_edge.ports.FrameSource`; heavy or platform-only
libraries (OpenCV capture, picamera2) are imported inside it.
"""

from __future__ import annotations

import importlib

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource
from affectra_edge.sources.common import SourceCounters, make_frame

__all__ = ["SOURCE_MODULES", "SourceCounters", "build_source", "make_frame"]

#: camera type → module implementing it
SOURCE_MODULES: dict[str, str] = {
    "demo": "affectra_edge.sources.demo",
    "file": "affectra_edge.sources.file",
    "usb": "affectra_edge.sources.usb",
    "picamera": "affectra_edge.sources.picamera",
    "esp32": "affectra_edge.sources.esp32",
}


def build_source(camera: CameraConfig, counters: SourceCounters | None = None) -> FrameSource:
    module = importlib.import_module(SOURCE_MODULES[camera.type])
    source: FrameSource = module.create(camera, counters or SourceCounters())
    return source
