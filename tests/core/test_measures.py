"""The visitor-studies measures: passers-by from the session builder (synthetic clock, the
shared clips; the demo scene end to end is in tests/store/test_store_measures.py), the
circumplex mapping against its documentation, holding power and its configuration key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from affectra_edge.config import Config, ConfigError, SessionsConfig, load_config
from affectra_edge.measures import (
    CIRCUMPLEX,
    attraction_power,
    holding_power,
    mean_valence_arousal,
    valence_arousal,
)
from affectra_edge.pipeline import build_pipeline
from affectra_edge.sessions import SessionBuilder
from affectra_edge.track import Tracker
from affectra_edge.types import EMOTIONS, Box, Emotions, FaceObservation
from tests.core.test_track_sessions import HAPPY

REPO = Path(__file__).resolve().parents[2]


def run(frames, *, fps=10.0, min_dwell_s=1.0):
    """frames: lists of x positions (one face each) → (sessions ended, passers-by taken)."""
    tracker, builder = Tracker(gap_s=2.0), SessionBuilder(min_dwell_s=min_dwell_s)
    ended, passed = [], []
    for i, xs in enumerate(frames):
        ts = 1000.0 + i / fps
        obs = [FaceObservation(Box(x, 100, 80, 80, 0.9), HAPPY) for x in xs]
        faces, gone = tracker.update(obs, ts)
        ended += [e.session for e in builder.update(ts, faces, gone) if e.kind == "end"]
        passed += builder.take_passers_by()
    ended += [e.session for e in builder.update(1e9, [], tracker.flush()) if e.kind == "end"]
    return ended, passed + builder.take_passers_by()


# ---- passers-by ------------------------------------------------------------------------------
def test_a_passer_by_is_counted_once_at_its_last_sighting():
    # five frames (0.4 s) then gone: shorter than min_dwell_s
    ended, passed = run([[100]] * 5 + [[]] * 30)
    assert ended == [] and passed == [pytest.approx(1000.4)]


def test_a_visitor_who_stops_is_a_viewer_and_not_a_passer_by():
    # walks in (the first second would be a passer-by's) and stays 6 s
    ended, passed = run([[100 + i] for i in range(60)] + [[]] * 30)
    assert len(ended) == 1 and passed == []


def test_one_frame_detections_are_not_people():
    ended, passed = run([[100], [], [], [400], []] + [[]] * 30)
    assert ended == [] and passed == []


def test_a_passer_by_who_comes_back_to_look_counts_as_both():
    frames = [[100]] * 5 + [[]] * 30 + [[100]] * 30 + [[]] * 30
    ended, passed = run(frames)
    assert len(ended) == 1 and len(passed) == 1


@pytest.fixture(scope="module")
def clip_observations(shared_data):
    """Detections and emotions of every frame of the shared clips (the expensive part, once)."""
    from affectra_edge.config import CameraConfig
    from affectra_edge.sources import SourceCounters, build_source

    shared = shared_data
    pipe = build_pipeline(Config())
    out = {}
    for name in ("facenet_pytorch_video.mp4", "orlando_bloom.avi"):
        src = build_source(
            CameraConfig(type="file", path=str(shared / "video" / name), width=1920, height=1080),
            SourceCounters(),
        )
        src.open()
        frames = []
        while (f := src.read()) is not None:
            frames.append((f.timestamp, pipe.observe(f)[0]))
        src.close()
        out[name] = frames
    return out


def _replay(frames, min_dwell_s):
    """Tracker and session builder over stored observations: (sessions, passers-by, tracks
    seen in two frames or more)."""
    tracker, builder = Tracker(gap_s=2.0), SessionBuilder(min_dwell_s=min_dwell_s)
    sessions, seen = [], {}
    for ts, obs in frames:
        faces, gone = tracker.update(obs, ts)
        for f in faces:
            seen[f.track_id] = seen.get(f.track_id, 0) + int(f.visible)
        sessions += [e.session for e in builder.update(ts, faces, gone) if e.kind == "end"]
    sessions += [e.session for e in builder.update(ts, [], tracker.flush()) if e.kind == "end"]
    multi = sum(1 for n in seen.values() if n >= 2)
    return sessions, builder.take_passers_by(), multi


@pytest.mark.parametrize("clip", ["facenet_pytorch_video.mp4", "orlando_bloom.avi"])
def test_shared_clips_count_every_person_once_as_viewer_or_passer_by(clip_observations, clip):
    frames = clip_observations[clip]
    sessions, passed, people = _replay(frames, 1.0)
    # every track seen twice or more is exactly one of the two, never both, never neither
    assert people >= 1 and len(sessions) + len(passed) == people
    assert len({s.track_id for s in sessions}) == len(sessions)
    # the same people with a threshold nobody reaches are all passers-by (at the same last
    # sightings), and with none at all every one of them is a viewer
    nobody, everybody, _ = _replay(frames, 3600.0)
    assert nobody == []
    assert sorted(everybody) == pytest.approx(sorted(passed + [s.ended_at for s in sessions]))
    assert _replay(frames, 0.0)[1] == []


def test_crowd_clip_has_passers_by_and_the_interviewee_stops(clip_observations):
    crowd, passed, _ = _replay(clip_observations["facenet_pytorch_video.mp4"], 1.0)
    assert passed and crowd  # people walking by the camera, and some seen long enough
    frames = clip_observations["orlando_bloom.avi"]
    interview, passed, _ = _replay(frames, 1.0)
    longest = max(interview, key=lambda s: s.duration_s)
    # the interviewee is in view for the whole 5.5 s clip: one viewer (not split into several,
    # not also a passer-by); the clip's other, briefly seen faces are the passers-by
    assert longest.duration_s > 5.0 and longest.frames >= 0.95 * len(frames)
    assert longest.ended_at not in passed


# ---- valence and arousal -----------------------------------------------------------------------
def _documented_table() -> dict[str, tuple[float, float]]:
    text = (REPO / "docs" / "measures.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (-?\d\.\d\d) \| (-?\d\.\d\d) \|$", text, re.M)
    return {name: (float(v), float(a)) for name, v, a in rows}


def test_circumplex_mapping_is_the_documented_table():
    assert _documented_table() == dict(CIRCUMPLEX)
    assert tuple(CIRCUMPLEX) == EMOTIONS
    # Russell & Mehrabian (1977): pleasant and aroused happiness, unpleasant and calm sadness,
    # unpleasant and aroused anger and fear; neutral at the centre
    assert CIRCUMPLEX["happy"] == (0.81, 0.51) and CIRCUMPLEX["sad"] == (-0.63, -0.27)
    assert CIRCUMPLEX["angry"] == (-0.51, 0.59) and CIRCUMPLEX["fear"] == (-0.64, 0.60)
    assert CIRCUMPLEX["neutral"] == (0.0, 0.0)


def test_session_valence_is_the_probability_weighted_mean():
    for i, e in enumerate(EMOTIONS):
        one_hot = tuple(1.0 if j == i else 0.0 for j in range(7))
        assert valence_arousal(one_hot) == pytest.approx(CIRCUMPLEX[e])
    mix = (0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.4)  # the docs' worked example
    assert valence_arousal(mix) == pytest.approx((0.486, 0.306))
    assert valence_arousal((0.0,) * 7) == (0.0, 0.0)
    # the mean over sessions is the value of the mean distribution (what the roll-ups use)
    a, b = (0.1, 0.0, 0.2, 0.3, 0.4, 0.0, 0.0), (0.0, 0.5, 0.0, 0.0, 0.0, 0.25, 0.25)
    mean = tuple((x + y) / 2 for x, y in zip(a, b, strict=True))
    want = [(p + q) / 2 for p, q in zip(valence_arousal(a), valence_arousal(b), strict=True)]
    assert mean_valence_arousal(mean) == pytest.approx(want)


def test_session_json_carries_valence_and_arousal_additively():
    from affectra_edge.types import ViewerSession

    s = ViewerSession("x", 1, 10.0, 20.0, 50, Emotions((0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.4)))
    doc = s.to_json()
    assert doc["version"] == 1
    assert (doc["valence"], doc["arousal"]) == (0.486, 0.306)
    assert list(doc)[-2:] == ["valence", "arousal"]  # after every field that was there before


# ---- holding power and its key -----------------------------------------------------------------
def test_attraction_power_is_viewers_over_everyone_who_passed():
    assert attraction_power(3, 1) == 0.75
    assert attraction_power(0, 5) == 0.0  # people passed, nobody stopped
    assert attraction_power(0, 0) is None  # nobody passed: nothing to measure


def test_holding_power_is_mean_dwell_over_expected_dwell():
    assert holding_power(15.0, 30.0) == 0.5
    assert holding_power(45.0, 30.0) == 1.5
    assert holding_power(0.0, 30.0) is None  # no viewers, nothing to hold


@pytest.mark.parametrize(
    ("value", "problem"),
    [("0", "must be ≥ 0.1"), ("-5", "must be ≥ 0.1"), ("nan", "finite"), ('"30"', "number")],
)
def test_expected_dwell_s_is_validated(tmp_path, value, problem):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[device]\nexpected_dwell_s = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as err:
        load_config(cfg)
    assert "device.expected_dwell_s" in str(err.value)


def test_expected_dwell_s_default_and_value(tmp_path):
    assert Config().device.expected_dwell_s == 30.0
    cfg = tmp_path / "c.toml"
    cfg.write_text("[device]\nexpected_dwell_s = 12.5\n", encoding="utf-8")
    assert load_config(cfg).device.expected_dwell_s == 12.5
    assert SessionsConfig().min_dwell_s == 1.0  # passers-by are what falls below this
