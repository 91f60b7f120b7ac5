"""Adaptive detection scheduling: motion mask, scheduler, classification cap, region and
template carry.

The logic is driven by synthetic frames and a synthetic clock (frame timestamps); the last
tests run the real models on the demo scene and compare with every-frame processing.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from affectra_edge.config import Config, ConfigError, load_config
from affectra_edge.detect.region import Offset, RegionDetector
from affectra_edge.detect.template import TemplateCarrier
from affectra_edge.motion import Motion, MotionDetector
from affectra_edge.pipeline import Adaptive, Pipeline, build_pipeline
from affectra_edge.schedule import ClassifyLimiter, DetectionScheduler, person_region
from affectra_edge.sessions import SessionBuilder
from affectra_edge.sources.demo import scene_frames
from affectra_edge.track import Tracker
from affectra_edge.types import EMOTIONS, Box, Emotions, Frame

FPS = 15.0
STILL = Motion(0.0)


def noisy(base: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    """A camera's view of ``base``: the same picture with sensor noise."""
    return np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def wall() -> np.ndarray:
    img = np.full((480, 640, 3), 120.0)
    img[:, 320:] = 150.0  # some structure, so a global shift would show
    return img


# ---------------------------------------------------------------------------- motion ----
def test_noise_is_not_motion_but_a_newcomer_is_and_where(wall):
    rng = np.random.default_rng(0)
    md = MotionDetector()
    first = md.update(noisy(wall, rng))
    assert first.area == 1.0  # nothing has been looked at yet
    for _ in range(5):
        assert md.update(noisy(wall, rng)).area == 0.0
    person = wall.copy()
    person[200:300, 400:480] = 30.0  # a dark coat walks in
    m = md.update(noisy(person, rng))
    assert m.moving(0.002)
    assert m.area == pytest.approx(80 * 100 / (640 * 480), rel=0.5)
    big = m.regions[0]
    # the region is reported in frame pixels, around the coat
    assert 380 <= big.x <= 410 and 190 <= big.y <= 210
    assert 70 <= big.w <= 110 and 90 <= big.h <= 120


def test_background_adapts_to_slow_light_changes_and_to_someone_who_stays(wall):
    md = MotionDetector(adapt=0.05)
    md.update(wall.astype(np.uint8))
    moving = []
    for i in range(40):  # dusk: half a grey level darker every frame
        moving.append(md.update((wall - 0.5 * i).clip(0, 255).astype(np.uint8)).moving(0.002))
    assert not any(moving)
    person = wall.copy()
    person[200:300, 400:480] = 30.0
    still = person.astype(np.uint8)
    areas = [md.update(still, regions=False).area for _ in range(120)]
    assert areas[0] > 0.01
    assert areas[-1] == 0.0  # someone who stands still becomes background
    assert md.update(still, regions=False).regions == ()


def test_adapt_leaves_the_background_update_would_and_later_motion_is_the_same(wall):
    rng = np.random.default_rng(3)
    frames = [noisy(wall, rng) for _ in range(6)]
    person = wall.copy()
    person[200:300, 400:480] = 30.0
    frames += [noisy(person, rng) for _ in range(4)]
    measured, adapted = MotionDetector(), MotionDetector()
    measured.update(frames[0])
    adapted.update(frames[0])
    for f in frames[1:-1]:
        measured.update(f)
        adapted.adapt(f)  # a settling viewer's frames: nothing measured
    assert np.array_equal(measured._bg, adapted._bg)
    a, b = measured.update(frames[-1]), adapted.update(frames[-1])
    assert a == b and a.area > 0.0  # the coat, taken in for three frames, still shows


def test_motion_at_either_side_of_the_picture_is_measured_apart(wall):
    rng = np.random.default_rng(4)
    md = MotionDetector()
    md.update(noisy(wall, rng))
    for _ in range(3):
        md.update(noisy(wall, rng))
    middle = wall.copy()
    middle[150:400, 250:350] = 30.0  # somebody in the middle: not at a side
    m = md.update(noisy(middle, rng))
    assert m.area > 0.01 and m.edge == 0.0
    md = MotionDetector()
    md.update(noisy(wall, rng))
    for _ in range(3):
        md.update(noisy(wall, rng))
    walker = wall.copy()
    walker[150:400, 0:40] = 30.0  # a coat coming in at the left edge
    m = md.update(noisy(walker, rng))
    # 250 of 480 rows of the left strip changed: half of one strip, a quarter of both
    assert m.edge == pytest.approx(250 / 480 / 2, abs=0.05)


def test_motion_outside_ignores_the_tracked_viewers_own_region(wall):
    rng = np.random.default_rng(2)
    md = MotionDetector()
    md.update(noisy(wall, rng))
    face = Box(200, 100, 40, 40)
    keep = [person_region(face)]  # x 140-300, y 60-340
    sway = wall.copy()
    sway[180:300, 170:270] = 40.0  # the viewer's shoulders moved
    m = md.update(noisy(sway, rng), keep=keep)
    assert m.moving(0.002) and m.outside_px == 0.0
    newcomer = sway.copy()
    newcomer[150:300, 480:560] = 40.0  # somebody walks in to the right
    m = md.update(noisy(newcomer, rng), keep=keep)
    assert m.outside_px == pytest.approx(80 * 150, rel=0.3)
    # a box wholly off the frame keeps nothing (it must not wrap round to the far side)
    m = md.update(noisy(newcomer, rng), keep=[*keep, Box(-150, -150, 100, 100)])
    assert m.outside_px == pytest.approx(80 * 150, rel=0.3)
    assert m.touches(face) or m.touches(Box(480, 150, 80, 150))
    speck = Motion(0.001, (Box(500, 100, 5, 5),), outside_px=25.0)
    sched = DetectionScheduler()
    sched.ran("full", 0.0)
    assert sched.decide(0.1, speck, [face]).step == "carry"  # smaller than a quarter face
    big = Motion(0.01, (Box(480, 150, 80, 150),), outside_px=80 * 150)
    assert sched.decide(0.1, big, [face]).reason == "motion outside tracks"
    assert Motion(0.01, (Box(190, 120, 60, 100),)).touches(face)
    assert not Motion(0.01, (Box(500, 100, 60, 100),)).touches(face)


# ------------------------------------------------------------------------- scheduler ----
def run_schedule(sched: DetectionScheduler, frames: list[tuple[Motion, list[Box]]]) -> list[str]:
    steps = []
    for i, (motion, tracks) in enumerate(frames):
        step = sched.decide(i / FPS, motion, tracks).step
        sched.ran(step, i / FPS)
        steps.append(step)
    return steps


def test_empty_still_scene_detects_only_at_start_and_every_idle_interval():
    sched = DetectionScheduler(idle_detect_s=2.0)
    steps = run_schedule(sched, [(STILL, [])] * int(5 * FPS))
    full = [i for i, s in enumerate(steps) if s == "full"]
    assert full == [0, 30, 60]
    assert steps.count("skip") == len(steps) - 3


def test_motion_in_an_empty_scene_triggers_the_detector():
    sched = DetectionScheduler(motion_area=0.002)
    moving = Motion(0.01, (Box(0, 0, 50, 50),))
    faint = Motion(0.001, (Box(0, 0, 5, 5),))
    steps = run_schedule(sched, [(STILL, []), (faint, []), (moving, []), (STILL, [])])
    assert steps == ["full", "skip", "full", "skip"]


def test_tracked_viewer_is_carried_and_fully_detected_every_nth_frame():
    sched = DetectionScheduler(detect_every=5)
    face = [Box(100, 100, 40, 40)]
    steps = run_schedule(sched, [(STILL, [])] + [(STILL, face)] * 12)
    assert steps[1:] == ["carry"] * 4 + ["full"] + ["carry"] * 4 + ["full"] + ["carry"] * 2


def test_newcomer_motion_or_a_crowd_means_a_full_detection_now():
    sched = DetectionScheduler(detect_every=10, carry_max_tracks=3)
    sched.ran("full", 0.0)
    face = Box(100, 100, 40, 40)
    newcomer = Motion(0.02, (Box(500, 100, 60, 100),), outside_px=6000.0)
    assert sched.decide(0.1, newcomer, [face]).reason == "motion outside tracks"
    # two faces close together: a carry could swap them
    neighbour = Box(150, 110, 40, 40)
    assert sched.decide(0.1, STILL, [face, neighbour]).reason == "tracks close"
    assert sched.decide(0.1, STILL, [face, Box(400, 110, 40, 40)]).step == "carry"
    assert sched.decide(0.1, STILL, [face] * 4).reason == "many tracks"
    # motion at a side of the picture: somebody walking in, even where a large viewer's
    # region covers that side (no motion "outside" the viewers then)
    walking_in = Motion(0.01, (Box(0, 100, 30, 200),), outside_px=0.0, edge=0.2)
    assert sched.decide(0.1, walking_in, [face]).reason == "motion at the edge"
    assert sched.decide(0.1, Motion(0.01, (), 0.0, edge=0.02), [face]).step == "carry"
    apart = [face, Box(300, 100, 40, 40), Box(500, 100, 40, 40)]
    assert sched.decide(0.1, STILL, apart).step == "carry"
    # a viewer still settling (first readings) is detected on every frame, as every-frame
    # processing would; an empty scene has nobody to settle
    assert sched.decide(0.1, STILL, [face], settling=True).reason == "settling viewer"
    assert sched.decide(0.1, STILL, [], settling=True).step == "skip"
    # the motion is not needed (nor measured by the pipeline) while a tracked viewer settles
    assert not sched.needs_motion([face], settling=True)
    assert sched.needs_motion([], settling=True) and sched.needs_motion([face], settling=False)
    assert sched.decide(0.1, None, [face], settling=True).reason == "settling viewer"
    with pytest.raises(ValueError, match="not measured"):
        sched.decide(0.1, None, [face])


def test_classify_limiter_caps_each_viewer_and_holds_the_last_distribution():
    lim = ClassifyLimiter(hz=5.0)
    probs = Emotions(tuple(1.0 if e == "happy" else 0.0 for e in EMOTIONS))
    due_a, due_b = [], []
    for i in range(15):  # one second at 15 fps; viewer 2 arrives at frame 4
        ts = i / FPS
        if lim.due(1, ts):
            due_a.append(i)
            lim.classified(1, ts, probs)
        if i >= 4 and lim.due(2, ts):
            due_b.append(i)
            lim.classified(2, ts, probs)
    assert due_a == [0, 3, 6, 9, 12]  # 5 Hz at 15 fps: every third frame
    assert due_b == [4, 7, 10, 13]  # each viewer on their own clock
    assert lim.held(1) is probs
    lim.forget([1])
    assert lim.held(1) is None and lim.due(1, 1.0)


def test_classify_limiter_takes_a_new_viewers_first_readings_on_every_frame():
    lim = ClassifyLimiter(hz=5.0, first=30)
    probs = Emotions(tuple(1.0 / len(EMOTIONS) for _ in EMOTIONS))
    due = []
    for i in range(int(4 * FPS)):  # viewer 1 from frame 0 (unseen in frames 10-19)
        ts = i / FPS
        if not 10 <= i < 20 and lim.due(1, ts):
            due.append(i)
            lim.classified(1, ts, probs)
    assert due[:30] == [*range(10), *range(20, 40)]  # 30 readings on every frame seen
    assert due[30:] == list(range(42, 60, 3))  # then 5 Hz from the last reading
    assert not lim.settling([1])
    assert lim.settling([1, 2])  # viewer 2 has no readings yet
    lim.classified(2, 3.0, probs)
    assert lim.due(2, 3.0 + 1 / FPS)  # viewer 2 counts their own readings
    lim.forget([1])
    lim.classified(1, 10.0, probs)
    assert lim.due(1, 10.0 + 1 / FPS)  # a forgotten viewer starts over


# --------------------------------------------------------------------- region carry ----
def test_offset_maps_the_region_models_box_onto_the_full_detectors():
    full = Box(117, 70, 90, 90)
    region = Box(108, 75, 86, 86)
    off = Offset.between(full, region)
    back = off.apply(region)
    assert (back.x, back.y, back.w, back.h) == pytest.approx((117, 70, 90, 90))
    moved = off.apply(Box(118, 80, 86, 86))  # the face moved 10 px right, 5 down
    assert (moved.x, moved.y) == pytest.approx((127, 75))


def test_region_detector_follows_the_face_and_loses_it_where_there_is_none(astronaut):
    from affectra_edge.detect.blazeface import BlazeFaceDetector

    full = BlazeFaceDetector("full").detect(astronaut)
    assert len(full) == 1
    region = RegionDetector(BlazeFaceDetector("short", max_faces=4))
    offsets = region.calibrate(astronaut, full)
    assert offsets[0] is not None
    found = region.follow(astronaut, full, offsets)
    assert found[0] is not None and found[0].iou(full[0]) > 0.9
    elsewhere = Box(full[0].x + 3 * full[0].w, full[0].y + 2 * full[0].h, full[0].w, full[0].h)
    assert region.follow(astronaut, [elsewhere], offsets) == [None]
    # a face nothing moved around keeps its box without a look (and costs nothing)
    assert region.follow(astronaut, [elsewhere], offsets, still=[True]) == [elsewhere]


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The same picture with everything moved by (dx, dy) pixels (a camera-shaped sway)."""
    out = np.roll(image, (dy, dx), axis=(0, 1))
    return out


def test_template_carry_follows_a_moving_face_and_loses_it_where_it_is_not(astronaut):
    from affectra_edge.detect.blazeface import BlazeFaceDetector

    full = BlazeFaceDetector("full").detect(astronaut)
    face = full[0]
    carrier = TemplateCarrier()
    templates = carrier.calibrate(astronaut, full)
    assert templates[0] is not None
    # the face moved 0.3 face widths right and 0.15 down: found there, size kept
    dx, dy = round(0.3 * face.w), round(0.15 * face.h)
    (found,) = carrier.follow(shifted(astronaut, dx, dy), full, templates)
    assert found is not None
    assert (found.x - face.x, found.y - face.y) == pytest.approx((dx, dy), abs=1.5)
    assert (found.w, found.h) == (face.w, face.h)
    # looked for where there is no face (the same box over the sky): lost
    elsewhere = Box(5, 5, face.w, face.h)
    flat = astronaut.copy()
    flat[: int(3 * face.h), : int(3 * face.w)] = 128
    assert carrier.follow(flat, [elsewhere], templates) == [None]
    # the face covered (a hand, a turned head): lost, so the full detector looks at once
    covered = astronaut.copy()
    x, y = int(face.x), int(face.y)
    covered[y - 20 : y + int(face.h) + 20, x - 20 : x + int(face.w) + 20] = 90
    assert carrier.follow(covered, full, templates) == [None]
    # nothing moved around it: the box stands, without a look
    assert carrier.follow(covered, full, templates, still=[True]) == full


def test_template_carry_keeps_a_face_cut_by_the_frame_edge_and_one_track_per_face(astronaut):
    from affectra_edge.detect.blazeface import BlazeFaceDetector

    face = BlazeFaceDetector("full").detect(astronaut)[0]
    # the frame cut through the face: a third of it outside on the left
    cut = int(face.x + face.w / 3)
    image = np.ascontiguousarray(astronaut[:, cut:])
    box = Box(face.x - cut, face.y, face.w, face.h, face.score)
    carrier = TemplateCarrier()
    (t,) = carrier.calibrate(image, [box])
    assert t is not None
    (found,) = carrier.follow(shifted(image, 6, 4), [box], [t])
    assert found is not None and (found.x - box.x, found.y - box.y) == pytest.approx(
        (6, 4), abs=1.5
    )
    # two tracks on one face (the detector's duplicate): one keeps it, the other lost it
    twin = Box(box.x + 3, box.y + 2, box.w, box.h, box.score)
    both = carrier.follow(image, [box, twin], carrier.calibrate(image, [box, twin]))
    assert sum(b is not None for b in both) == 1


# -------------------------------------------------------------------------- pipeline ----
class CountingClassifier:
    name = "counting"

    def __init__(self) -> None:
        self.faces = 0

    def classify(self, image, boxes):
        self.faces += len(boxes)
        return [Emotions(tuple(1.0 / len(EMOTIONS) for _ in EMOTIONS)) for _ in boxes]


class ScriptedDetector:
    """Finds one face whenever the frame is not empty (a bright patch marks the face)."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image, px_scale=1.0):
        self.calls += 1
        ys, xs = np.nonzero(image[..., 0] > 200)
        if xs.size == 0:
            return []
        return [Box(float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1))]


def test_adaptive_pipeline_skips_the_detector_on_a_still_empty_scene_and_caps_emotions(wall):
    cfg = dataclasses.replace(
        Config().detector, schedule="adaptive", carry="hold", classify_first=15
    )
    det, clf = ScriptedDetector(), CountingClassifier()
    pipe = Pipeline(
        det,
        clf,
        Tracker(),
        SessionBuilder(min_dwell_s=1.0),
        adaptive=Adaptive.from_config(cfg),
    )
    rng = np.random.default_rng(1)
    wall = wall[::2, ::2]  # 320 × 240 is enough here, and quicker to make noisy
    base = 1_700_000_000.0
    empty = [noisy(wall, rng) for _ in range(int(3 * FPS))]
    for i, img in enumerate(empty):
        pipe.process(Frame(img, base + i / FPS, i))
    assert det.calls == 2  # the first frame and one idle refresh after 2 s
    visitor = wall.copy()
    visitor[75:115, 150:180] = 230.0
    n0 = len(empty)
    faces, steps = [], []
    for i in range(int(2 * FPS)):
        res = pipe.process(Frame(noisy(visitor, rng), base + (n0 + i) / FPS, n0 + i))
        faces.append([f for f in res.faces if f.visible])
        steps.append(pipe.last_step)
    assert all(len(f) == 1 and f[0].emotions is not None for f in faces)
    assert len({f[0].track_id for f in faces}) == 1
    # while the viewer settles (their first 15 readings) every frame is a full detection, as
    # with every-frame processing; then every fifth, the boxes held in between
    assert steps[:15] == ["full"] * 15
    assert steps[15:] == ["carry", "carry", "carry", "carry", "full"] * 3
    assert det.calls == 2 + 15 + 3
    # read only on full detections: 15 settling, then 3 (every fifth frame is 3 Hz, under the
    # 5 Hz cap), not 30
    assert clf.faces == 15 + 3


def _sessions(schedule: str, frames: list[Frame]):
    cfg = Config()
    pipe = build_pipeline(
        cfg.replace(detector=dataclasses.replace(cfg.detector, schedule=schedule))
    )
    events = []
    for frame in frames:
        events += pipe.process(frame).events
    events += pipe.finish()
    return [e.session for e in events if e.kind == "end"]


def test_adaptive_and_every_frame_replays_of_the_demo_give_the_same_sessions():
    # the first 30 s of the cycle: two visitors overlapping, one alone, the passer-by
    frames = list(scene_frames(30.0, fps=8.0))
    every, adaptive = _sessions("every_frame", frames), _sessions("adaptive", frames)
    assert len(every) == len(adaptive) == 3
    for e, a in zip(every, adaptive, strict=True):
        assert abs(e.started_at - a.started_at) <= 0.3
        assert abs(e.ended_at - a.ended_at) <= 0.3
        assert e.dominant == a.dominant
        assert float(np.abs(np.subtract(e.emotions.probs, a.emotions.probs)).sum()) <= 0.05


# ---------------------------------------------------------------------------- config ----
def test_schedule_keys_are_validated(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[detector]\nschedule = "adaptive"\ncarry = "hold"\nclassify_hz = 2.5\n')
    det = load_config(path).detector
    assert (det.schedule, det.carry, det.classify_hz) == ("adaptive", "hold", 2.5)
    for bad, key in (
        ('schedule = "sometimes"', "detector.schedule"),
        ("detect_every = 0", "detector.detect_every"),
        ("classify_hz = nan", "detector.classify_hz"),
        ('carry = "guess"', "detector.carry"),
    ):
        path.write_text(f"[detector]\n{bad}\n")
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert key in str(err.value)
