"""What a gallery camera does to a face, applied to FER2013's 48-px studio-like crops.

Order follows the scene and then the camera: pose and framing (rotation, scale, shift,
shear, flip), light (brightness, contrast, gamma), something in front of the face
(occlusion), then the camera (distance as a downscale to 12–48 px and back, defocus or
motion blur, sensor noise, JPEG/MJPEG artefacts). All randomness comes from the caller's
``numpy.random.Generator`` so a seed fixes the whole run.
"""

from __future__ import annotations

import cv2
import numpy as np
from data import SIZE

_INTERP_UP = (cv2.INTER_LINEAR, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST)
_INTERP_DOWN = (cv2.INTER_AREA, cv2.INTER_AREA, cv2.INTER_LINEAR)


def augment(face: np.ndarray, rng: np.random.Generator, p_lowres: float = 0.6) -> np.ndarray:
    img = face
    if rng.random() < 0.5:
        img = img[:, ::-1]
    c = (SIZE - 1) / 2.0
    m = cv2.getRotationMatrix2D((c, c), rng.uniform(-15, 15), rng.uniform(0.85, 1.15))
    shear = rng.uniform(-0.08, 0.08)
    m[0, 1] += shear
    m[0, 2] += rng.uniform(-4, 4) - shear * c
    m[1, 2] += rng.uniform(-4, 4)
    img = cv2.warpAffine(
        np.ascontiguousarray(img),
        m,
        (SIZE, SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    f = img.astype(np.float32) / 255.0
    if rng.random() < 0.8:
        f = np.clip(f, 0.0, 1.0) ** np.exp(rng.uniform(-0.4, 0.4))
        f = (f - 0.5) * rng.uniform(0.6, 1.4) + 0.5 + rng.uniform(-0.2, 0.2)
    img = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        h, w = rng.integers(8, 22, size=2)
        y0, x0 = rng.integers(0, SIZE - h), rng.integers(0, SIZE - w)
        img = img.copy()
        if rng.random() < 0.5:
            img[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256)
        else:
            img[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    if rng.random() < p_lowres:
        px = int(rng.integers(12, SIZE + 1))
        small = cv2.resize(img, (px, px), interpolation=_INTERP_DOWN[rng.integers(3)])
        img = cv2.resize(small, (SIZE, SIZE), interpolation=_INTERP_UP[rng.integers(4)])
    r = rng.random()
    if r < 0.12:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.3))
    elif r < 0.2:
        k = int(rng.integers(3, 6))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(2, 8), img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 91))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img


def augment_batch(x: np.ndarray, rng: np.random.Generator, p_lowres: float = 0.6) -> np.ndarray:
    return np.stack([augment(face, rng, p_lowres) for face in x])
