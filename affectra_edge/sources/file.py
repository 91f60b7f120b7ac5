"""A video file or a folder of images as a frame source (``[camera] type = "file"``).

Timestamps: when ``realtime`` is off (``replay``), frame *i* is stamped ``base + i / fps`` where
``base`` is the file's modification time, so a replay is deterministic at any speed. With
``realtime`` on, frames are paced at their native rate and stamped with the wall clock, so a
file can stand in for a live camera.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource, SourceError, SourceUnavailable
from affectra_edge.sources.common import SourceCounters, make_frame
from affectra_edge.types import Frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


def read_image(path: str | os.PathLike) -> np.ndarray | None:
    """Decode an image file into BGR, or None when it is not a readable image."""
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return img


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def video_fps(cap) -> float | None:
    """The frame rate an opened ``cv2.VideoCapture`` declares, or None when it is implausible."""
    import cv2

    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and 0.5 <= fps <= 240 else None


def video_frames(cap) -> Iterator[np.ndarray]:
    """Every frame of a ``cv2.VideoCapture`` up to its end; releases the capture when done."""
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                return
            yield img
    finally:
        cap.release()


class FileSource:
    live = False

    def __init__(self, camera: CameraConfig, counters: SourceCounters | None = None):
        self.camera = camera
        self.path = Path(camera.path)
        self.counters = counters or SourceCounters()
        self._iter: Iterator[np.ndarray] | None = None
        self._fps = camera.fps
        self._index = 0
        self._base = 0.0
        self._wall0 = 0.0

    @property
    def fps(self) -> float:
        return self._fps

    def open(self) -> None:
        if not self.path.exists():
            raise SourceUnavailable(f"{self.path}: no such file or folder")
        self._base = float(int(self.path.stat().st_mtime))
        self._index = 0
        self._wall0 = time.time()
        self._iter = self._frames()
        logger.debug("opened %s at %.2f fps", self.path, self._fps)

    def _frames(self) -> Iterator[np.ndarray]:
        while True:
            yield from (self._folder() if self.path.is_dir() else self._video())
            if not self.camera.loop:
                return

    def _folder(self) -> Iterator[np.ndarray]:
        files = image_files(self.path)
        if not files:
            raise SourceUnavailable(f"{self.path}: folder holds no images")
        for f in files:
            img = read_image(f)
            if img is None:
                self.counters.inc("corrupt")
                logger.warning("%s: not a readable image, skipped", f)
                continue
            yield img

    def _video(self) -> Iterator[np.ndarray]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceUnavailable(
                f"{self.path}: cannot open as a video (unknown format or corrupt)"
            )
        fps = video_fps(cap)
        if fps is not None:
            self._fps = fps
        yield from video_frames(cap)

    def read(self) -> Frame | None:
        if self._iter is None:
            raise SourceError("source not open")
        try:
            img = next(self._iter)
        except StopIteration:
            return None
        i = self._index
        self._index += 1
        if self.camera.realtime:
            due = self._wall0 + i / self._fps
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            ts = time.time()
        else:
            ts = self._base + i / self._fps
        return make_frame(img, ts, i, self.camera.detect_width)

    def close(self) -> None:
        if self._iter is not None:
            self._iter.close()  # type: ignore[attr-defined]
        self._iter = None


def create(camera: CameraConfig, counters: SourceCounters) -> FrameSource:
    return FileSource(camera, counters)
