"""Side-by-side comparison of two emotion back-ends on the same face crops.

Answers the curator's question "how close is the fast model to DeepFace on *our* visitors?":
every face is detected once and both back-ends classify the very same box (through the shared
:func:`~affectra_edge.classify.crop_face`), then we report top-1 agreement, the mean absolute
difference of the two distributions, the 7×7 confusion between their dominant labels and each
back-end's time per face. Nothing is written anywhere: images stay in memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectra_edge.errors import AffectraError
from affectra_edge.ports import Classifier, Detector
from affectra_edge.types import EMOTIONS, Box, Emotions

logger = logging.getLogger(__name__)

#: Files read as lists of image paths (one per line, ``#`` comments, relative to the list).
LIST_SUFFIXES = {".txt", ".lst", ".list"}


class InputError(AffectraError):
    """A path given to ``compare`` does not exist or holds nothing usable."""


# --------------------------------------------------------------------------- inputs


def _image_suffixes() -> set[str]:
    from affectra_edge.sources.file import IMAGE_SUFFIXES

    return IMAGE_SUFFIXES


def _folder_images(folder: Path) -> list[Path]:
    suffixes = _image_suffixes()
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [Path(root, f) for f in sorted(files) if Path(f).suffix.lower() in suffixes]
    return found


def _list_images(listing: Path) -> list[Path]:
    paths = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            paths.append(p if p.is_absolute() else listing.parent / p)
    return paths


def _video_frames(path: Path, every: int, max_frames: int | None) -> Iterator[tuple[str, object]]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"{path}: neither an image, an image list nor a readable video")
    try:
        index = taken = 0
        while max_frames is None or taken < max_frames:
            ok, img = cap.read()
            if not ok:
                break
            if index % every == 0:
                taken += 1
                yield f"{path}#{index}", img
            index += 1
    finally:
        cap.release()


def iter_inputs(
    paths: Sequence[str | os.PathLike],
    *,
    every: int = 1,
    max_frames: int | None = None,
) -> Iterator[tuple[str, np.ndarray | None]]:
    """``(label, BGR image)`` for every image or video frame named by ``paths``.

    A path may be an image, a folder (searched recursively for images), a text file listing
    image paths, or a video (every ``every``-th frame, at most ``max_frames`` per video). An
    unreadable image yields ``(label, None)`` so the caller can report it and carry on.
    """
    from affectra_edge.sources.file import read_image

    suffixes = _image_suffixes()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            images = _folder_images(path)
            if not images:
                raise InputError(f"{path}: folder holds no images ({', '.join(sorted(suffixes))})")
        elif path.suffix.lower() in LIST_SUFFIXES:
            images = _list_images(path)
        elif path.suffix.lower() in suffixes:
            images = [path]
        else:
            yield from _video_frames(path, every, max_frames)  # type: ignore[misc]
            continue
        for image in images:
            yield str(image), read_image(image)


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class FacePair:
    """One face as both back-ends saw it."""

    source: str
    box: Box
    a: Emotions
    b: Emotions

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "box": self.box.as_list(),
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "a_dominant": self.a.dominant,
            "b_dominant": self.b.dominant,
        }


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare_backends` (``a`` = rows of the confusion, ``b`` = columns)."""

    a: str
    b: str
    images: int
    pairs: tuple[FacePair, ...]
    #: total milliseconds each back-end spent classifying, keyed by back-end name
    classify_ms: dict[str, float] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    @property
    def faces(self) -> int:
        return len(self.pairs)

    def _matrix(self, which: str) -> np.ndarray:
        return np.array([getattr(p, which).probs for p in self.pairs], dtype=np.float64)

    @property
    def agreement(self) -> float | None:
        """Fraction of faces whose dominant label is the same for both back-ends."""
        if not self.pairs:
            return None
        return sum(p.a.dominant == p.b.dominant for p in self.pairs) / len(self.pairs)

    @property
    def mean_abs_diff(self) -> float | None:
        """Mean of |p_a − p_b| over all faces and all seven classes (0 = identical, ≤ 2/7)."""
        if not self.pairs:
            return None
        return float(np.abs(self._matrix("a") - self._matrix("b")).mean())

    @property
    def mean_abs_diff_per_class(self) -> dict[str, float] | None:
        if not self.pairs:
            return None
        per = np.abs(self._matrix("a") - self._matrix("b")).mean(axis=0)
        return {k: float(v) for k, v in zip(EMOTIONS, per, strict=True)}

    @property
    def confusion(self) -> list[list[int]]:
        """7×7 counts: row = ``a``'s dominant label, column = ``b``'s, in EMOTIONS order."""
        m = [[0] * len(EMOTIONS) for _ in EMOTIONS]
        for p in self.pairs:
            m[EMOTIONS.index(p.a.dominant)][EMOTIONS.index(p.b.dominant)] += 1
        return m

    def ms_per_face(self, backend: str) -> float | None:
        return self.classify_ms[backend] / self.faces if self.pairs else None

    def to_json(self, *, faces: bool = False) -> dict:
        def rnd(v: float | None, digits: int) -> float | None:
            return None if v is None else round(v, digits)

        per_class = self.mean_abs_diff_per_class
        out = {
            "backends": [self.a, self.b],
            "images": self.images,
            "faces": self.faces,
            "skipped": list(self.skipped),
            "agreement": rnd(self.agreement, 4),
            "mean_abs_diff": rnd(self.mean_abs_diff, 4),
            "mean_abs_diff_per_class": (
                None if per_class is None else {k: round(v, 4) for k, v in per_class.items()}
            ),
            "labels": list(EMOTIONS),
            "confusion": self.confusion,
            "ms_per_face": {n: rnd(self.ms_per_face(n), 3) for n in (self.a, self.b)},
        }
        if faces:
            out["per_face"] = [p.to_json() for p in self.pairs]
        return out

    def format_text(self) -> str:
        lines = [
            f"compared {self.a} with {self.b}: {self.faces} faces in {self.images} images"
            + (f" ({len(self.skipped)} unreadable, skipped)" if self.skipped else "")
        ]
        if not self.pairs:
            lines.append("no faces: nothing to compare")
            return "\n".join(lines)
        agree = sum(p.a.dominant == p.b.dominant for p in self.pairs)
        lines += [
            f"top-1 agreement    {100 * (self.agreement or 0):5.1f} %  ({agree} of {self.faces})",
            f"mean |p_a - p_b|   {self.mean_abs_diff:.4f}  (over faces and the 7 classes)",
            "ms per face        "
            + "   ".join(f"{n} {self.ms_per_face(n):.2f}" for n in (self.a, self.b)),
            "",
            f"confusion (rows: {self.a}, columns: {self.b})",
        ]
        width = max(len(e) for e in EMOTIONS) + 1
        header = " " * width + "".join(f"{e[:7]:>8}" for e in EMOTIONS) + f"{'total':>8}"
        lines.append(header)
        for label, row in zip(EMOTIONS, self.confusion, strict=True):
            cells = "".join(f"{c:>8}" for c in row)
            lines.append(f"{label:<{width}}{cells}{sum(row):>8}")
        totals = [sum(col) for col in zip(*self.confusion, strict=True)]
        lines.append(
            f"{'total':<{width}}" + "".join(f"{c:>8}" for c in totals) + f"{self.faces:>8}"
        )
        return "\n".join(lines)


def _timed(classifier: Classifier, image: np.ndarray, boxes: Sequence[Box]):
    t0 = time.perf_counter()
    result = classifier.classify(image, boxes)
    return result, (time.perf_counter() - t0) * 1000.0


def compare_backends(
    inputs: Iterable[tuple[str, np.ndarray | None]],
    a: Classifier,
    b: Classifier,
    *,
    detector: Detector | None = None,
) -> Comparison:
    """Classify every detected face with both back-ends (``detector=None``: whole images).

    The first face is classified once by each back-end before timing starts, so one-off
    set-up costs (graph optimisation, buffer allocation) do not count as per-face time.
    """
    if a.name == b.name:
        raise ValueError(f"comparing back-end {a.name!r} with itself")
    pairs: list[FacePair] = []
    skipped: list[str] = []
    ms = {a.name: 0.0, b.name: 0.0}
    images = 0
    warmed = False
    for source, image in inputs:
        if image is None:
            logger.warning("%s: not a readable image, skipped", source)
            skipped.append(source)
            continue
        images += 1
        if detector is None:
            h, w = image.shape[:2]
            boxes = [Box(0.0, 0.0, float(w), float(h), 1.0)]
        else:
            boxes = detector.detect(image)
        if not boxes:
            continue
        if not warmed:
            a.classify(image, boxes[:1])
            b.classify(image, boxes[:1])
            warmed = True
        ea, ta = _timed(a, image, boxes)
        eb, tb = _timed(b, image, boxes)
        ms[a.name] += ta
        ms[b.name] += tb
        pairs += [FacePair(source, box, x, y) for box, x, y in zip(boxes, ea, eb, strict=True)]
    return Comparison(a.name, b.name, images, tuple(pairs), ms, tuple(skipped))
