"""USB webcam (``[camera] type = "usb"``) through OpenCV's V4L2 backend.

``[camera] device`` is a path (``/dev/video0``, or a stable ``/dev/v4l/by-id/...`` link) or an
index (``0`` = ``/dev/video0``). The camera is asked for MJPG at the configured size and rate
— most UVC webcams only reach 15–30 fps at 640×480 and above in MJPG, raw YUYV is limited by
USB 2.0 bandwidth — and for a one-frame driver buffer so a slow pipeline sees fresh frames.
What the camera actually granted is logged; OpenCV silently falls back when it cannot comply.

An unplugged camera is a *loss* (``SourceError``): the runner keeps retrying with backoff, so
plugging it back in resumes capture. A path that exists but is not a device can never work
(``SourceUnavailable``).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from typing import Any

import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource, SourceError, SourceUnavailable
from affectra_edge.sources.common import SourceCounters, make_frame
from affectra_edge.types import Frame

logger = logging.getLogger(__name__)

OPENCV_HINT = "pip install opencv-python-headless (inside the appliance's virtualenv)"


def parse_device(device: str) -> int | str:
    """``"0"`` → 0, ``"/dev/video2"`` → the path; blank means index 0."""
    text = str(device).strip()
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    return text


def device_path(device: str) -> str:
    """The device node a ``[camera] device`` value refers to (``/dev/videoN`` for an index)."""
    dev = parse_device(device)
    return f"/dev/video{dev}" if isinstance(dev, int) else dev


def fourcc(code: str) -> int:
    """The FOURCC integer OpenCV expects for e.g. ``"MJPG"`` (cv2.VideoWriter_fourcc)."""
    if len(code) != 4:
        raise ValueError(f"a FOURCC has 4 characters, not {code!r}")
    a, b, c, d = (ord(ch) for ch in code)
    return a | (b << 8) | (c << 16) | (d << 24)


def capture_settings(camera: CameraConfig) -> list[tuple[str, float]]:
    """The ``cv2.CAP_PROP_*`` settings to apply, **in order** (FOURCC before the size: the
    V4L2 backend renegotiates the format on each call and the size depends on the codec)."""
    return [
        ("CAP_PROP_FOURCC", float(fourcc("MJPG"))),
        ("CAP_PROP_FRAME_WIDTH", float(camera.width)),
        ("CAP_PROP_FRAME_HEIGHT", float(camera.height)),
        ("CAP_PROP_FPS", float(camera.fps)),
        # one buffer: frames are never older than one capture interval
        ("CAP_PROP_BUFFERSIZE", 1.0),
        # blocking read bounded by timeout_s (honoured by OpenCV builds that support it)
        ("CAP_PROP_READ_TIMEOUT_MSEC", float(int(camera.timeout_s * 1000))),
    ]


def check_device(path: str) -> None:
    """Raise the error an operator can act on when ``path`` is not a usable V4L2 node."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError(
            f"{path}: no such video device (is the camera plugged in? "
            "list cameras with `v4l2-ctl --list-devices`)"
        ) from None
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from None
    if not stat.S_ISCHR(st.st_mode):
        raise SourceUnavailable(
            f"{path}: not a video device node (set [camera] device to /dev/videoN or an index)"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        raise SourceError(f"{path}: permission denied (add the service user to the 'video' group)")


def to_bgr(img: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames (some UVC cameras, some OpenCV builds) → 3-channel BGR."""
    import cv2

    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


class UsbSource:
    live = True

    def __init__(self, camera: CameraConfig, counters: SourceCounters | None = None):
        self.camera = camera
        self.counters = counters or SourceCounters()
        self.device = parse_device(camera.device)
        self.path = device_path(camera.device)
        self._cap: Any = None
        self._index = 0
        self.granted: dict[str, Any] = {}

    def open(self) -> None:
        try:
            import cv2
        except ImportError:
            raise SourceUnavailable(f"OpenCV is not installed: {OPENCV_HINT}") from None
        if sys.platform.startswith("linux"):
            check_device(self.path)
            cap = cv2.VideoCapture(self.path, cv2.CAP_V4L2)
        else:  # development machines: let OpenCV pick its native backend
            cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"{self.path}: cannot open with V4L2 (busy in another program, or not a "
                "capture device — metadata nodes like the second /dev/videoN of a UVC camera "
                "cannot capture)"
            )
        for prop, value in capture_settings(self.camera):
            pid = getattr(cv2, prop, None)
            if pid is not None and not cap.set(pid, value):
                logger.debug("%s: %s=%s not supported", self.path, prop, value)
        code = int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
        self.granted = {
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": float(cap.get(cv2.CAP_PROP_FPS)),
            "fourcc": "".join(chr((code >> (8 * k)) & 0xFF) for k in range(4)).strip("\x00"),
        }
        logger.info("%s opened: %s", self.path, self.granted)
        self._cap = cap
        self._index = 0

    def read(self) -> Frame:
        if self._cap is None:
            raise SourceError(f"{self.path}: not open")
        ok, img = self._cap.read()
        if not ok or img is None or img.size == 0:
            # V4L2 reports an unplugged camera as a failed read (ENODEV / select timeout)
            raise SourceError(f"{self.path}: no frame from the camera (unplugged or stalled)")
        frame = make_frame(to_bgr(img), time.time(), self._index, self.camera.detect_width)
        self._index += 1
        return frame

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


def create(camera: CameraConfig, counters: SourceCounters) -> FrameSource:
    return UsbSource(camera, counters)
