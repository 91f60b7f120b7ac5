"""Raspberry Pi camera (``[camera] type = "picamera"``) through picamera2 / libcamera.

picamera2 needs libcamera's Python bindings, which exist only as Raspberry Pi OS packages:
install ``python3-picamera2`` with apt and create the virtualenv with
``--system-site-packages`` (``scripts/setup.sh`` does on a Pi). It is imported in ``open()``
only, so every other camera type works without it.

The video configuration has a ``main`` stream in ``RGB888`` — libcamera's name for 24-bit
pixels stored B, G, R in memory, i.e. exactly OpenCV's BGR, so frames need no conversion —
for the emotion crops, and a ``lores`` stream ``[camera] detect_width`` wide in ``YUV420``
that the ISP scales in hardware for free (Pi 4 and earlier accept only YUV420 there), for
detection and the live view. Both come from one request, so they show the same instant.
``queue=False`` makes each capture wait for a fresh frame instead of handing out a queued
old one.
``[camera] device`` selects the camera index on boards with two (Pi 5, Compute Module).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource, SourceError, SourceUnavailable
from affectra_edge.sources.common import SourceCounters
from affectra_edge.types import Frame

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "on Raspberry Pi OS run `sudo apt install python3-picamera2` and create the venv with "
    "--system-site-packages"
)
#: lores widths are kept to multiples of this, so that the YUV420 rows carry no padding
LORES_ALIGN = 64


def _even(n: float) -> int:
    # YUV420 planes are subsampled 2×2, so libcamera wants even dimensions
    return max(2, round(n / 2.0) * 2)


def video_configuration(camera: CameraConfig) -> dict[str, Any]:
    """The keyword arguments for ``Picamera2.create_video_configuration`` (pure, testable)."""
    w, h = _even(camera.width), _even(camera.height)
    lores_width = (camera.detect_width // LORES_ALIGN) * LORES_ALIGN
    frame_us = round(1_000_000 / camera.fps)
    kwargs: dict[str, Any] = {
        "main": {"size": (w, h), "format": "RGB888"},
        # a fixed frame duration = a fixed rate (auto-exposure may not stretch it in the dark)
        "controls": {"FrameDurationLimits": (frame_us, frame_us)},
        "buffer_count": 4,
        "queue": False,
        "display": None,
        "encode": None,
    }
    if 0 < lores_width < w:
        lw = lores_width
        kwargs["lores"] = {"size": (lw, min(h, _even(h * lw / w))), "format": "YUV420"}
    return kwargs


def camera_index(device: str) -> int:
    text = str(device).strip()
    return int(text) if text.isdigit() else 0


def import_picamera2() -> Any:
    """The ``Picamera2`` class, or SourceUnavailable saying exactly what is missing."""
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing == "picamera2" or (not missing and "picamera2" in str(exc)):
            raise SourceUnavailable(f"picamera2 is not installed: {INSTALL_HINT}") from None
        if missing.startswith("libcamera") or "libcamera" in str(exc):
            raise SourceUnavailable(
                "picamera2 is installed but libcamera's Python bindings are not "
                f"(they come only from Raspberry Pi OS packages): {INSTALL_HINT}"
            ) from None
        raise SourceUnavailable(
            f"picamera2 cannot be imported ({missing or exc}): {INSTALL_HINT}"
        ) from None
    return Picamera2


def yuv420_to_bgr(yuv: np.ndarray, width: int, height: int) -> np.ndarray:
    """picamera2's ``make_array("lores")`` of a YUV420 stream ((h·3/2, w) planar I420) → BGR."""
    import cv2

    if yuv.shape[0] != height * 3 // 2 or yuv.shape[1] < width:
        raise SourceError(f"lores frame {yuv.shape} does not match {width}×{height} YUV420")
    return cv2.cvtColor(np.ascontiguousarray(yuv[:, :width]), cv2.COLOR_YUV2BGR_I420)


class PiCameraSource:
    live = True

    def __init__(self, camera: CameraConfig, counters: SourceCounters | None = None):
        self.camera = camera
        self.counters = counters or SourceCounters()
        self.index = camera_index(camera.device)
        self._cam: Any = None
        self._frame_index = 0
        self._lores: tuple[int, int] | None = None

    def open(self) -> None:
        picamera2_cls = import_picamera2()
        try:
            cameras = picamera2_cls.global_camera_info()
        except Exception as exc:
            raise SourceError(f"libcamera cannot list cameras: {exc}") from None
        if len(cameras) <= self.index:
            raise SourceError(
                f"no camera #{self.index} detected by libcamera ({len(cameras)} found; check "
                "the ribbon cable, then `rpicam-hello --list-cameras`)"
            )
        try:
            cam = picamera2_cls(self.index)
        except Exception as exc:
            # typically "Device or resource busy" at boot or while rpicam-* runs
            raise SourceError(f"Pi camera #{self.index} unavailable: {exc}") from None
        try:
            kwargs = video_configuration(self.camera)
            self._lores = kwargs["lores"]["size"] if "lores" in kwargs else None
            config = cam.create_video_configuration(**kwargs)
            cam.configure(config)
            cam.start()
        except Exception as exc:
            cam.close()
            raise SourceError(f"Pi camera #{self.index}: cannot start: {exc}") from None
        self._cam = cam
        self._frame_index = 0
        logger.info("Pi camera #%d started: %s", self.index, config.get("main"))

    def read(self) -> Frame:
        cam = self._cam
        if cam is None:
            raise SourceError("Pi camera not open")
        try:
            try:
                job = cam.capture_request(wait=False)
                request = cam.wait(job, timeout=self.camera.timeout_s)
            except TypeError:  # older picamera2 without timeouts: block
                request = cam.capture_request()
            try:
                img = request.make_array("main")
                lores = request.make_array("lores") if self._lores else None
            finally:
                request.release()
        except TimeoutError:
            raise SourceError(
                f"Pi camera #{self.index}: no frame for {self.camera.timeout_s:g} s"
            ) from None
        except Exception as exc:
            raise SourceError(f"Pi camera #{self.index}: capture failed: {exc}") from None
        if img.ndim == 3 and img.shape[2] == 4:  # XRGB8888 if a driver insists
            img = img[:, :, :3]
        if lores is not None and self._lores:
            frame = Frame(yuv420_to_bgr(lores, *self._lores), time.time(), self._frame_index, img)
        else:
            frame = Frame(img, time.time(), self._frame_index)
        self._frame_index += 1
        return frame

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.stop()
            finally:
                cam.close()


def create(camera: CameraConfig, counters: SourceCounters) -> FrameSource:
    return PiCameraSource(camera, counters)
