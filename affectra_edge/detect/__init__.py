"""Face detection back-ends, chosen by ``[detector] type`` (one small module each)."""

from __future__ import annotations

from affectra_edge.config import DetectorConfig
from affectra_edge.ports import Detector


def build_detector(cfg: DetectorConfig) -> Detector:
    if cfg.type == "blazeface":
        from affectra_edge.detect.blazeface import BlazeFaceDetector

        return BlazeFaceDetector.from_config(cfg)
    raise ValueError(f"unknown detector type {cfg.type!r}")  # config validation prevents this
