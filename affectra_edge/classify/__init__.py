"""Emotion classification back-ends, chosen by ``[classifier] backend``.

Every back-end sees the same face crops (:func:`crop_face`) and returns the same 7-class
distribution in :data:`~affectra_edge.types.EMOTIONS` order, so sessions, store, UI and MQTT do
not care which one ran.
"""

from __future__ import annotations

from affectra_edge.classify.crop import CROP_MARGIN, crop_face
from affectra_edge.config import ClassifierConfig
from affectra_edge.ports import Classifier

__all__ = ["CROP_MARGIN", "build_classifier", "crop_face"]


def build_classifier(cfg: ClassifierConfig) -> Classifier:
    if cfg.backend == "tflite":
        from affectra_edge.classify.tflite import TFLiteEmotionClassifier

        return TFLiteEmotionClassifier(cfg.model, num_threads=cfg.num_threads)
    if cfg.backend == "deepface":
        from affectra_edge.classify import deepface

        return deepface.create(cfg)
    raise ValueError(f"unknown classifier backend {cfg.backend!r}")
