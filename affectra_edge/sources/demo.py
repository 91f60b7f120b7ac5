"""The demo scene: visitors approach an artwork, linger and leave — no camera needed.

The visitors are a real photograph (NASA's portrait of astronaut Eileen Collins, public
domain, shipped in scikit-image's wheel as ``astronaut.png``) composited over a drawn gallery
background, so the real detector and classifier run on a real face. The script repeats every
:data:`CYCLE_S` seconds: two visitors overlap (two concurrent sessions), then two come alone,
and a passer-by in between is too quick to count: four sessions per cycle.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.errors import ModelError
from affectra_edge.models import model_path
from affectra_edge.ports import FrameSource
from affectra_edge.sources.common import SourceCounters
from affectra_edge.types import Frame


@dataclass(frozen=True)
class Visit:
    """One visitor: walks in from ``enter_x`` to ``x``, stays, walks out to ``exit_x``."""

    arrive: float
    leave: float
    x: float  # where they stand, fraction of frame width
    y: float
    scale: float  # sprite scale while standing
    enter_x: float = -0.2
    exit_x: float = 1.2
    flip: bool = False
    walk_s: float = 1.2


CYCLE_S = 50.0
VISITS: tuple[Visit, ...] = (
    Visit(1.0, 12.0, 0.27, 0.42, 1.1, exit_x=-0.2),
    Visit(5.0, 16.0, 0.74, 0.45, 0.95, enter_x=1.2, flip=True),
    Visit(21.0, 27.0, 0.50, 0.40, 1.2),
    # a passer-by: crosses in under a second, never becomes a session at min_dwell_s = 1
    Visit(31.0, 31.0, 0.50, 0.45, 1.0, walk_s=0.4),
    Visit(36.0, 42.0, 0.45, 0.43, 1.05, enter_x=1.2, exit_x=-0.2, flip=True),
)


@lru_cache(maxsize=1)
def _sprite() -> tuple[np.ndarray, np.ndarray]:
    """The head-and-shoulders crop of the photograph and a soft elliptical alpha mask."""
    path = model_path("astronaut")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:  # checksum verified: only an OpenCV without its image codecs gets here
        raise ModelError(f"{path}: OpenCV cannot decode this image")
    sprite = img[20:300, 110:350].copy()  # 280 × 240
    h, w = sprite.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 6, h // 2 - 6), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 6)
    return sprite, mask


def _background(width: int, height: int) -> np.ndarray:
    """A gallery wall and floor with soft light: enough texture to be realistic, no faces."""
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    light = 0.85 + 0.15 * np.exp(-(((x - 0.5) / 0.45) ** 2))
    wall = np.stack([200 - 25 * y, 205 - 20 * y, 210 - 10 * y], axis=-1) * light[..., None]
    bg = np.broadcast_to(wall, (height, width, 3)).copy()
    floor = int(height * 0.78)
    bg[floor:] = np.array([70, 90, 120], np.float32) * (0.8 + 0.2 * y[floor:, :, None])
    # a bench and a door frame
    cv2.rectangle(
        bg,
        (int(width * 0.08), int(height * 0.7)),
        (int(width * 0.35), int(height * 0.74)),
        (60, 60, 70),
        -1,
    )
    cv2.rectangle(
        bg, (int(width * 0.82), int(height * 0.2)), (int(width * 0.97), floor), (150, 150, 160), 4
    )
    return np.clip(bg, 0, 255).astype(np.uint8)


class DemoScene:
    def __init__(self, width: int = 640, height: int = 480, visits: tuple[Visit, ...] = VISITS):
        self.width, self.height = width, height
        self.visits = visits
        self._bg = _background(width, height)
        self._cache: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}

    def _scaled(self, px: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
        key = (px, flip)
        if key not in self._cache:
            sprite, mask = _sprite()
            s = px / sprite.shape[1]
            size = (px, max(1, round(sprite.shape[0] * s)))
            sp = cv2.resize(sprite, size, interpolation=cv2.INTER_AREA)
            m = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
            if flip:
                sp, m = sp[:, ::-1].copy(), m[:, ::-1].copy()
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = (sp, m[..., None])
        return self._cache[key]

    def placements(self, t: float) -> list[tuple[float, float, float, bool]]:
        """(centre x px, centre y px, sprite width px, flip) of every visitor at scene time t."""
        t = t % CYCLE_S
        out = []
        for v in self.visits:
            start, end = v.arrive - v.walk_s, v.leave + v.walk_s
            if not (start <= t <= end):
                continue
            if t < v.arrive:  # walking in, growing as they approach
                k = (t - start) / v.walk_s
                fx, scale = v.enter_x + (v.x - v.enter_x) * k, v.scale * (0.75 + 0.25 * k)
            elif t > v.leave:
                k = (t - v.leave) / v.walk_s
                fx, scale = v.x + (v.exit_x - v.x) * k, v.scale * (1.0 - 0.25 * k)
            else:  # standing, swaying a little as people do
                fx = v.x + 0.01 * math.sin(2 * math.pi * (t - v.arrive) / 3.0)
                scale = v.scale * (1.0 + 0.03 * math.sin(2 * math.pi * (t - v.arrive) / 5.0))
            fy = v.y + 0.005 * math.sin(2 * math.pi * t / 2.0)
            out.append((fx * self.width, fy * self.height, 240 * scale * self.width / 640, v.flip))
        return out

    def render(self, t: float) -> np.ndarray:
        frame = self._bg.copy()
        for cx, cy, wpx, flip in sorted(self.placements(t), key=lambda p: p[2]):
            sp, m = self._scaled(max(8, round(wpx)), flip)
            h, w = sp.shape[:2]
            x0, y0 = round(cx - w / 2), round(cy - h / 2)
            x1, y1 = max(0, x0), max(0, y0)
            x2, y2 = min(self.width, x0 + w), min(self.height, y0 + h)
            if x2 <= x1 or y2 <= y1:
                continue
            roi = frame[y1:y2, x1:x2].astype(np.float32)
            spr = sp[y1 - y0 : y2 - y0, x1 - x0 : x2 - x0].astype(np.float32)
            a = m[y1 - y0 : y2 - y0, x1 - x0 : x2 - x0]
            frame[y1:y2, x1:x2] = (roi * (1 - a) + spr * a).astype(np.uint8)
        return frame


class DemoSource:
    """The scene as a live camera: paced at ``camera.fps``, stamped with the wall clock."""

    live = True

    def __init__(self, camera: CameraConfig, counters: SourceCounters | None = None):
        self.camera = camera
        self.counters = counters or SourceCounters()
        self.scene = DemoScene(camera.width, camera.height)
        self._t0 = 0.0
        self._next_due = 0.0
        self._index = 0

    def open(self) -> None:
        self._t0 = time.time()
        self._next_due = self._t0
        self._index = 0

    def read(self) -> Frame:
        period = 1.0 / self.camera.fps
        due = self._next_due
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        # A real camera that falls behind skips frames; it never bursts to catch up.
        self._next_due = max(due + period, now)
        frame = Frame(self.scene.render(now - self._t0), now, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        pass


def create(camera: CameraConfig, counters: SourceCounters) -> FrameSource:
    return DemoSource(camera, counters)


def scene_frames(
    duration_s: float, fps: float = 10.0, width: int = 640, height: int = 480, start: float = 0.0
):
    """Frames of the scene on a synthetic clock (tests and benchmarks: no waiting)."""
    scene = DemoScene(width, height)
    base = 1_700_000_000.0
    for i in range(int(duration_s * fps)):
        t = start + i / fps
        yield Frame(scene.render(t), base + t, i)
