"""DeepFace's emotion model as the reference back-end (``[classifier] backend = "deepface"``).

It classifies the very crops the pipeline detected (:func:`~affectra_edge.classify.crop_face`)
through DeepFace's own public code path — ``DeepFace.analyze(actions=["emotion"],
detector_backend="skip")`` — so what runs here is what DeepFace users get: its letterboxing to
224×224, its grayscale 48×48 resize and its ONNX graph on onnxruntime (never TensorFlow).

Air-gapped by construction: DeepFace downloads ``facial_expression_model_weights.onnx`` on first
use when the file is missing, so :func:`create` checks for it *before* DeepFace is imported and
fails with one :class:`~affectra_edge.errors.ModelError` naming the exact path instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from affectra_edge.classify.crop import crop_face
from affectra_edge.config import ClassifierConfig
from affectra_edge.errors import ModelError
from affectra_edge.types import EMOTIONS, Box, Emotions

logger = logging.getLogger(__name__)

WEIGHT_FILE = "facial_expression_model_weights.onnx"
#: Where DeepFace 0.0.103 itself fetches the file from (its ``WEIGHTS_URL``); quoted in the
#: error so an installer can fetch it on a connected machine and copy it over.
WEIGHT_SOURCE = (
    "https://github.com/serengil/deepface_models/releases/download/v1.0/"
    "facial_expression_model_weights.onnx"
)
INSTALL_HINT = (
    "pip install 'affectra-edge[deepface]' && pip install --no-deps -r "
    "scripts/requirements-deepface.txt  (or: make test-setup)"
)
#: DeepFace's graph: grayscale 48×48 channels-last in, 7 class scores out.
INPUT_SHAPE = (48, 48, 1)
#: Modules the back-end needs; checked without importing them (importing DeepFace has side
#: effects: it creates folders under $DEEPFACE_HOME).
REQUIRED_MODULES = ("deepface", "onnxruntime", "werkzeug", "gdown", "requests")


def deepface_home() -> Path:
    """The folder DeepFace keeps ``.deepface/weights`` under (same rule as DeepFace's own)."""
    return Path(os.environ.get("DEEPFACE_HOME") or os.path.expanduser("~"))


def weights_path() -> Path:
    """The exact path DeepFace loads the emotion graph from."""
    return deepface_home() / ".deepface" / "weights" / WEIGHT_FILE


def _missing_modules() -> list[str]:
    missing = []
    for name in REQUIRED_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            # ValueError: the module is in sys.modules as None (import deliberately blocked)
            found = False
        if not found:
            missing.append(name)
    return missing


def check_installed() -> Path:
    """Raise :class:`ModelError` unless the extra and the weight file are both present."""
    missing = _missing_modules()
    if missing:
        raise ModelError(
            f"classifier backend 'deepface' needs the optional extra (missing: "
            f"{', '.join(missing)}); install it with: {INSTALL_HINT}"
        )
    path = weights_path()
    if not path.is_file():
        raise ModelError(
            f"classifier backend 'deepface': weight file {path} is missing and will not be "
            f"downloaded (air-gapped); fetch {WEIGHT_FILE} on a connected machine from "
            f"{WEIGHT_SOURCE} and copy it to {path} (the folder is $DEEPFACE_HOME/.deepface/"
            f"weights, $DEEPFACE_HOME defaulting to the home directory)"
        )
    return path


def _import_deepface() -> Any:
    # Pin the engine: with TensorFlow or torch also installed DeepFace would prefer them and
    # look for a different weight file (.h5 / .pt) — and try to download it.
    engine = os.environ.get("DEEPFACE_BACKEND_ENGINE", "")
    if engine and engine.strip().lower() != "onnx":
        logger.warning("DEEPFACE_BACKEND_ENGINE=%s overridden: the appliance runs onnx", engine)
    os.environ["DEEPFACE_BACKEND_ENGINE"] = "onnx"
    # DeepFace "logs" with print() to stdout; keep it to errors so `compare --json` stays JSON.
    os.environ.setdefault("DEEPFACE_LOG_LEVEL", str(logging.ERROR))
    try:
        with contextlib.redirect_stdout(sys.stderr):
            from deepface import DeepFace
            from deepface.commons import backend_utils
    except ImportError as exc:
        raise ModelError(
            f"classifier backend 'deepface' cannot import DeepFace ({exc}); install the extra "
            f"with: {INSTALL_HINT}"
        ) from None
    if backend_utils.get_backend_engine() != backend_utils.ONNX:
        # Only possible if DeepFace was imported earlier in this process with another engine.
        raise ModelError(
            "DeepFace was already initialised on another engine than onnxruntime in this "
            "process; start afresh without DEEPFACE_BACKEND_ENGINE set"
        )
    return DeepFace


def _check_graph(session: Any, path: Path) -> None:
    """The file must be DeepFace's emotion graph, not just any ONNX file."""
    ins, outs = session.get_inputs(), session.get_outputs()

    def fits(shape: Sequence[Any], expected: Sequence[int]) -> bool:
        # Symbolic (named or unknown) dimensions are accepted; fixed ones must match.
        return len(shape) == len(expected) + 1 and all(
            not isinstance(d, int) or d == e for d, e in zip(shape[1:], expected, strict=True)
        )

    if (
        len(ins) != 1
        or not outs
        or not fits(ins[0].shape, INPUT_SHAPE)
        or not fits(outs[0].shape, (len(EMOTIONS),))
    ):
        raise ModelError(
            f"{path} is not DeepFace's emotion model: expected input [n, 48, 48, 1] and "
            f"output [n, 7], found input {[i.shape for i in ins]} and output "
            f"{[o.shape for o in outs]}"
        )


def to_emotions(emotion: dict[str, float]) -> Emotions:
    """DeepFace's ``{"angry": 12.3, …}`` percentages → :class:`Emotions` in EMOTIONS order."""
    missing = [k for k in EMOTIONS if k not in emotion]
    if missing:
        raise ValueError(f"DeepFace result lacks {missing} (got {sorted(emotion)})")
    p = np.array([float(emotion[k]) for k in EMOTIONS], dtype=np.float64) / 100.0
    p = np.clip(np.nan_to_num(p, nan=0.0), 0.0, None)
    total = p.sum()
    # Renormalise: the percentages are rounded floats and need not sum to exactly 100.
    p = p / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
    return Emotions(tuple(float(v) for v in p))


class DeepFaceEmotionClassifier:
    """The :class:`~affectra_edge.ports.Classifier` port on top of ``DeepFace.analyze``."""

    name = "deepface"

    def __init__(self) -> None:
        path = check_installed()
        self._deepface = _import_deepface()
        try:
            # Build (and cache inside DeepFace) the session now, so a bad file fails at
            # start-up rather than on the first visitor.
            with contextlib.redirect_stdout(sys.stderr):
                client = self._deepface.build_model(model_name="Emotion", task="facial_attribute")
        except Exception as exc:  # DeepFace wraps onnxruntime's errors in ValueError
            raise ModelError(f"cannot load DeepFace emotion model {path}: {exc}") from None
        _check_graph(client.model, path)
        self.weights = path
        logger.info("DeepFace emotion model loaded from %s", path)

    def classify_crop(self, face: np.ndarray) -> Emotions:
        """Classify one already-cropped BGR face exactly as DeepFace would."""
        if face.size == 0 or face.ndim != 3 or face.shape[2] != 3:
            return Emotions(tuple(1.0 / len(EMOTIONS) for _ in EMOTIONS))
        results = self._deepface.analyze(
            img_path=np.ascontiguousarray(face),
            actions=["emotion"],
            detector_backend="skip",  # the pipeline already found the face
            enforce_detection=False,
            align=False,
            silent=True,
        )
        return to_emotions(results[0]["emotion"])

    def classify(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Emotions]:
        return [self.classify_crop(crop_face(image, b)) for b in boxes]


def create(cfg: ClassifierConfig) -> DeepFaceEmotionClassifier:
    """Factory used by :func:`affectra_edge.classify.build_classifier`."""
    # cfg.num_threads cannot reach DeepFace: it builds its onnxruntime session itself.
    return DeepFaceEmotionClassifier()
