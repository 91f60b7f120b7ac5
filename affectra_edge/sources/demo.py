"""The demo scene: visitors approach an artwork, linger and leave — no camera needed.

The visitors are drawn here (head and shoulders, different skin tones, hair and expressions:
a smile, an open-mouthed "oh", a straight mouth, turned-down corners) and composited over a
drawn gallery background, so the real detector and classifier run on every frame and the
dashboard shows what they make of a mixed crowd. Nothing is loaded from disk. The script
repeats every :data:`CYCLE_S` seconds: two visitors overlap (two concurrent sessions), then
two come alone, and a passer-by in between is too quick to count: four sessions per cycle.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.ports import FrameSource
from affectra_edge.sources.common import SourceCounters
from affectra_edge.types import Frame

BGR = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    """How a drawn visitor looks; ``expression`` is what the drawing shows, not a label: the
    classifier decides what it reads there."""

    expression: str  # smile | oh | straight | down
    skin: BGR
    hair: BGR
    shirt: BGR


LOOKS: tuple[Look, ...] = (
    Look("smile", skin=(150, 180, 225), hair=(40, 60, 90), shirt=(90, 70, 60)),
    Look("oh", skin=(70, 100, 150), hair=(30, 30, 35), shirt=(60, 110, 160)),
    Look("straight", skin=(115, 155, 200), hair=(90, 170, 215), shirt=(120, 90, 50)),
    Look("down", skin=(95, 135, 185), hair=(160, 160, 165), shirt=(70, 120, 80)),
)


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
    look: Look = LOOKS[0]


CYCLE_S = 50.0
VISITS: tuple[Visit, ...] = (
    Visit(1.0, 12.0, 0.27, 0.42, 1.1, exit_x=-0.2, look=LOOKS[0]),
    Visit(5.0, 16.0, 0.74, 0.45, 0.95, enter_x=1.2, flip=True, look=LOOKS[1]),
    Visit(21.0, 27.0, 0.50, 0.40, 1.2, look=LOOKS[2]),
    # a passer-by: crosses in under a second, never becomes a session at min_dwell_s = 1 but
    # is counted once as a passer-by (attraction power). Across the middle of the frame, at a
    # pace the tracker can follow (a face moving more than its width per frame starts new tracks)
    Visit(31.0, 31.0, 0.50, 0.45, 1.0, enter_x=0.2, exit_x=0.8, walk_s=0.4, look=LOOKS[2]),
    Visit(36.0, 42.0, 0.45, 0.43, 1.05, enter_x=1.2, exit_x=-0.2, flip=True, look=LOOKS[3]),
)

SPRITE_W, SPRITE_H = 240, 280


def _shade(c: BGR, k: float) -> BGR:
    return (int(c[0] * k), int(c[1] * k), int(c[2] * k))


def _draw_mouth(img: np.ndarray, expression: str, cx: int, my: int) -> None:
    lip, dark, aa = (90, 90, 170), (40, 30, 60), cv2.LINE_AA
    if expression == "smile":  # open, teeth showing
        cv2.ellipse(img, (cx, my - 4), (24, 14), 0, 0, 180, (235, 235, 240), -1, aa)
        cv2.ellipse(img, (cx, my - 4), (24, 14), 0, 0, 180, lip, 3, aa)
        cv2.line(img, (cx - 24, my - 4), (cx + 24, my - 4), lip, 3, aa)
    elif expression == "oh":
        cv2.ellipse(img, (cx, my + 2), (11, 15), 0, 0, 360, dark, -1, aa)
        cv2.ellipse(img, (cx, my + 2), (12, 16), 0, 0, 360, lip, 3, aa)
    elif expression == "down":
        cv2.ellipse(img, (cx, my + 12), (20, 12), 0, 200, 340, lip, 4, aa)
    else:  # straight
        cv2.line(img, (cx - 18, my), (cx + 18, my), lip, 4, aa)


@lru_cache(maxsize=len(LOOKS))
def _sprite(look: Look) -> tuple[np.ndarray, np.ndarray]:
    """A drawn head and shoulders (SPRITE_H × SPRITE_W) and its soft alpha mask."""
    img = np.zeros((SPRITE_H, SPRITE_W, 3), np.uint8)
    mask = np.zeros((SPRITE_H, SPRITE_W), np.uint8)
    cx, cy, aa = SPRITE_W // 2, 125, cv2.LINE_AA
    # body, neck, hair behind the head, head, ears, fringe: back to front
    for target, colour in ((img, None), (mask, 255)):
        cv2.ellipse(
            target, (cx, SPRITE_H + 30), (115, 95), 0, 180, 360, colour or look.shirt, -1, aa
        )
        cv2.rectangle(target, (cx - 22, 190), (cx + 22, 240), colour or _shade(look.skin, 0.85), -1)
        cv2.ellipse(target, (cx, cy - 10), (78, 92), 0, 0, 360, colour or look.hair, -1, aa)
        cv2.ellipse(target, (cx, cy + 5), (62, 80), 0, 0, 360, colour or look.skin, -1, aa)
        for side in (-1, 1):
            ear = colour or _shade(look.skin, 0.92)
            cv2.ellipse(target, (cx + side * 62, cy + 10), (9, 16), 0, 0, 360, ear, -1, aa)
        cv2.ellipse(target, (cx, cy - 55), (66, 35), 0, 180, 360, colour or look.hair, -1, aa)
    # the features that carry an expression: lids, brows and mouth
    ey = cy - 10
    inner, outer = {"oh": (-10, -10), "down": (-4, 5)}.get(look.expression, (0, 0))
    lid = {"oh": 8, "smile": 3, "down": 3}.get(look.expression, 4)
    for side in (-1, 1):
        ex = cx + side * 25
        cv2.ellipse(img, (ex, ey), (10, lid), 0, 0, 360, (220, 225, 230), -1, aa)
        cv2.circle(img, (ex, ey), min(5, lid + 1), (50, 40, 30), -1, aa)
        cv2.ellipse(img, (ex, ey), (10, lid), 0, 0, 360, _shade(look.skin, 0.5), 2, aa)
        brow = ((cx + side * 12, ey - 16 + inner), (cx + side * 40, ey - 16 + outer))
        cv2.line(img, *brow, _shade(look.hair, 0.5), 4, aa)
    cv2.line(img, (cx, ey + 5), (cx - 5, ey + 30), _shade(look.skin, 0.75), 2, aa)
    cv2.line(img, (cx - 6, ey + 31), (cx + 6, ey + 31), _shade(look.skin, 0.7), 2, aa)
    _draw_mouth(img, look.expression, cx, cy + 45)
    # a little softness, as a lens gives: hard drawn edges look nothing like a camera frame
    soft = cv2.GaussianBlur(img, (0, 0), 1.2)
    alpha = np.asarray(cv2.GaussianBlur(mask / 255.0, (0, 0), 2.0), dtype=np.float32)
    # the torso fades out instead of ending in a hard line across the chest
    alpha[-40:] *= np.linspace(1.0, 0.0, 40, dtype=np.float32)[:, None]
    return soft, alpha


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
        self._cache: dict[tuple[Look, int, bool], tuple[np.ndarray, np.ndarray]] = {}

    def _scaled(self, look: Look, px: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
        key = (look, px, flip)
        if key not in self._cache:
            sprite, mask = _sprite(look)
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

    def placements(self, t: float) -> list[tuple[float, float, float, bool, Look]]:
        """(centre x px, centre y px, sprite width px, flip, look) of every visitor at scene
        time t."""
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
            wpx = SPRITE_W * scale * self.width / 640
            out.append((fx * self.width, fy * self.height, wpx, v.flip, v.look))
        return out

    def render(self, t: float) -> np.ndarray:
        frame = self._bg.copy()
        for cx, cy, wpx, flip, look in sorted(self.placements(t), key=lambda p: p[2]):
            sp, m = self._scaled(look, max(8, round(wpx)), flip)
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
