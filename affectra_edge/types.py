"""Small immutable values that cross module boundaries.

The data flow is sources → detect → classify → track → sessions → store / publish / web;
each arrow carries one of the types below and nothing else.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

#: Output order of the emotion model, and the order used everywhere else (store columns,
#: MQTT payloads, API). Never reorder: it is part of the public contract.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

SCHEMA_VERSION = 1


def iso_utc(ts: float) -> str:
    """Epoch seconds → ISO-8601 UTC with millisecond precision and a trailing ``Z``."""
    dt = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso_utc(text: str) -> float:
    """ISO-8601 (``Z`` or offset; naive means UTC) → epoch seconds."""
    dt = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return dt.timestamp()


class FrameDecodeError(ValueError):
    """A frame's picture, decoded on first use, turned out not to decode."""


class Frame:
    """One picture.

    ``image`` is HxWx3 uint8 in **BGR** order (OpenCV's, and picamera2's ``RGB888``).
    ``timestamp`` is epoch seconds (UTC) of capture; for files it is derived from the
    stream position, so replays are deterministic at any speed.

    A frame made with :meth:`deferred` (a JPEG source's) knows its size from the file's
    header and is decoded only when ``image`` or ``full`` is first used, once, by whichever
    thread asks first. Its ``preview``, a small grey copy (a reduced-size decode), is made
    the same way; the adaptive pipeline measures motion on it, so a still, empty scene never
    pays for a full decode, and every-frame processing never pays for a preview.
    """

    __slots__ = (
        "_decode",
        "_full",
        "_image",
        "_lock",
        "_preview",
        "_preview_decode",
        "_size",
        "index",
        "timestamp",
    )

    def __init__(
        self,
        image: np.ndarray,
        timestamp: float,
        index: int,
        full: np.ndarray | None = None,
    ):
        self.timestamp = timestamp
        self.index = index
        self._preview: np.ndarray | None = None
        self._preview_decode: Callable[[], np.ndarray | None] | None = None
        self._image: np.ndarray | None = image
        #: the same view at the camera's full resolution, when ``image`` is a smaller copy
        self._full = full
        self._size = (int(image.shape[1]), int(image.shape[0]))
        self._decode: Callable[[], tuple[np.ndarray, np.ndarray | None] | None] | None = None
        self._lock: threading.Lock | None = None

    @classmethod
    def deferred(
        cls,
        decode: Callable[[], tuple[np.ndarray, np.ndarray | None] | None],
        size: tuple[int, int],
        preview: Callable[[], np.ndarray | None],
        timestamp: float,
        index: int,
    ) -> Frame:
        """A frame decoded on first use: ``decode()`` returns ``(image, full)`` (``image``
        exactly ``size`` = (width, height)), ``preview()`` a small grey copy; either None
        when the picture does not decode."""
        frame = cls.__new__(cls)
        frame.timestamp, frame.index = timestamp, index
        frame._preview, frame._preview_decode = None, preview
        frame._image = frame._full = None
        frame._size = size
        frame._decode = decode
        frame._lock = threading.Lock()
        return frame

    def _decoded(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self._image is None:
            assert self._lock is not None
            with self._lock:
                # tried once: the compressed data (or the failure) is not kept for a retry
                decode, self._decode = self._decode, None
                out = decode() if decode is not None and self._image is None else None
                if out is not None and (out[0].shape[1], out[0].shape[0]) == self._size:
                    self._full, self._image = out[1], out[0]
                if self._image is None:
                    raise FrameDecodeError(
                        f"frame {self.index}: the camera's JPEG did not decode; skipped"
                    )
        return self._image, self._full

    @property
    def image(self) -> np.ndarray:
        return self._decoded()[0]

    @property
    def preview(self) -> np.ndarray | None:
        """A small grey copy of the same view, decoded on first use (deferred frames only:
        None for a frame made from a picture in memory)."""
        if self._preview is None and self._lock is not None:
            with self._lock:
                decode, self._preview_decode = self._preview_decode, None
                out = decode() if decode is not None and self._preview is None else None
                if out is not None and out.size:
                    self._preview = out
                if self._preview is None:
                    raise FrameDecodeError(
                        f"frame {self.index}: the camera's JPEG did not decode; skipped"
                    )
        return self._preview

    @property
    def full(self) -> np.ndarray | None:
        """The same view at the camera's full resolution, when ``image`` is a smaller copy
        made for detection (face boxes are in ``image`` pixels; emotion crops come from
        here)."""
        return self._decoded()[1]

    @property
    def decoded(self) -> bool:
        """Whether the picture is in memory (always, unless made :meth:`deferred`)."""
        return self._image is not None

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def height(self) -> int:
        return self._size[1]

    @property
    def for_classifier(self) -> tuple[np.ndarray, float]:
        """The largest image of this view and its scale relative to ``image``."""
        image, full = self._decoded()
        if full is None:
            return image, 1.0
        return full, full.shape[1] / image.shape[1]


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in pixel coordinates of the frame it was found in."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def area(self) -> float:
        return max(0.0, self.w) * max(0.0, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_list(self) -> list[int]:
        return [round(self.x), round(self.y), round(self.w), round(self.h)]

    def scaled(self, factor: float) -> Box:
        if factor == 1.0:
            return self
        return Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score)


@dataclass(frozen=True, slots=True)
class Emotions:
    """A 7-class probability vector in :data:`EMOTIONS` order."""

    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.probs) != len(EMOTIONS):
            raise ValueError(f"expected {len(EMOTIONS)} probabilities, got {len(self.probs)}")

    @property
    def dominant(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(max(self.probs))

    def as_dict(self, digits: int = 4) -> dict[str, float]:
        return {k: round(float(v), digits) for k, v in zip(EMOTIONS, self.probs, strict=True)}


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """A detected face and, once classified, its emotion distribution."""

    box: Box
    emotions: Emotions | None = None


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """A face the tracker has tied to a persistent identity."""

    track_id: int
    box: Box
    emotions: Emotions | None
    #: True when the face was matched in this very frame (False while coasting through a gap).
    visible: bool = True


@dataclass(frozen=True, slots=True)
class ViewerSession:
    """One person in front of the artwork: from first sight to the end of the gap.

    ``state`` is ``open`` while the viewer is still there (``ended_at`` is then the last
    time they were seen) and ``closed`` once the session is final.
    """

    session_id: str
    track_id: int
    started_at: float
    ended_at: float
    frames: int
    emotions: Emotions
    state: Literal["open", "closed"] = "closed"
    device_id: str = ""
    artwork: str = ""

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    @property
    def dominant(self) -> str:
        return self.emotions.dominant

    def to_json(self) -> dict:
        """The session's public JSON shape (CLI, API and MQTT share it).

        ``valence`` and ``arousal`` came later, as additive fields (``version`` stays 1)."""
        # imported here: measures needs EMOTIONS from this module
        from affectra_edge.measures import DIGITS, valence_arousal

        valence, arousal = valence_arousal(self.emotions.probs)
        return {
            "type": "session",
            "version": SCHEMA_VERSION,
            "session_id": self.session_id,
            "device_id": self.device_id,
            "artwork": self.artwork,
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at),
            "duration_s": round(self.duration_s, 3),
            "frames": self.frames,
            "emotions": self.emotions.as_dict(),
            "dominant": self.dominant,
            "valence": round(valence, DIGITS),
            "arousal": round(arousal, DIGITS),
        }


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """What the session builder tells its sinks.

    ``start`` when a viewer has been seen for the minimum time, ``update`` periodically while
    they stay (so a crash loses at most one update interval), ``end`` once they have been gone
    for the gap time. The session is a snapshot at the time of the event.
    """

    kind: Literal["start", "update", "end"]
    session: ViewerSession


@dataclass(frozen=True, slots=True)
class FrameResult:
    """Everything the pipeline learned from one frame (for the live view and statistics)."""

    frame_index: int
    timestamp: float
    faces: tuple[TrackedFace, ...]
    events: tuple[SessionEvent, ...] = ()
    #: milliseconds per stage: decode, detect, classify, track
    stage_ms: dict[str, float] = field(default_factory=dict)
    width: int = 0
    height: int = 0
