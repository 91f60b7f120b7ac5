"""Tracker and session builder, driven by a synthetic clock (they are pure)."""

from __future__ import annotations

import itertools

import pytest

from affectra_edge.sessions import SessionBuilder
from affectra_edge.track import Tracker
from affectra_edge.types import EMOTIONS, Box, Emotions, FaceObservation

HAPPY = Emotions(tuple(0.9 if e == "happy" else 0.1 / 6 for e in EMOTIONS))
SAD = Emotions(tuple(0.6 if e == "sad" else 0.4 / 6 for e in EMOTIONS))
UNSURE = Emotions(tuple(0.3 if e == "angry" else 0.7 / 6 for e in EMOTIONS))


def run(frames, *, fps=10.0, gap_s=2.0, min_dwell_s=1.0, threshold=0.0, smoothing=0.0):
    """frames: list of lists of (x, y, emotions) → (events, per-frame tracked faces)."""
    tracker = Tracker(gap_s=gap_s)
    ids = (f"s{i}" for i in itertools.count(1))
    builder = SessionBuilder(
        min_dwell_s=min_dwell_s,
        threshold=threshold,
        smoothing=smoothing,
        update_interval_s=2.0,
        new_id=lambda: next(ids),
    )
    events, tracks = [], []
    for i, faces in enumerate(frames):
        ts = 1000.0 + i / fps
        obs = [FaceObservation(Box(x, y, 80, 80, 0.9), e) for x, y, e in faces]
        tracked, ended = tracker.update(obs, ts)
        tracks.append(tracked)
        events += builder.update(ts, tracked, ended)
    ts = 1000.0 + len(frames) / fps
    events += builder.update(ts, [], tracker.flush())
    return events, tracks


def ends(events):
    return [e.session for e in events if e.kind == "end"]


def test_two_viewers_at_once_give_two_concurrent_sessions():
    frames = [[(100 + i, 100, HAPPY), (400 - i, 120, SAD)] for i in range(50)]
    events, _ = run(frames)
    sessions = ends(events)
    assert len(sessions) == 2
    a, b = sessions
    assert a.started_at < b.ended_at and b.started_at < a.ended_at  # they overlap
    assert {a.dominant, b.dominant} == {"happy", "sad"}
    assert all(s.frames == 50 for s in sessions)
    assert all(s.duration_s == pytest.approx(4.9) for s in sessions)


def test_face_missing_for_a_few_frames_keeps_its_identity():
    frames = [[(100 + 2 * i, 100, HAPPY)] if not 20 <= i < 28 else [] for i in range(60)]
    events, tracks = run(frames)
    assert len(ends(events)) == 1
    ids = {f.track_id for t in tracks for f in t}
    assert len(ids) == 1
    coasting = [f for t in tracks[20:28] for f in t]
    assert coasting and not any(f.visible for f in coasting)
    assert ends(events)[0].frames == 52


def test_leaving_and_coming_back_after_the_gap_gives_two_sessions():
    frames = [[(100, 100, HAPPY)]] * 20 + [[]] * 25 + [[(100, 100, HAPPY)]] * 20
    events, _ = run(frames, gap_s=2.0)
    first, second = ends(events)
    assert first.session_id != second.session_id
    # the first ends at the last sighting, not when the gap ran out
    assert first.ended_at == pytest.approx(1000.0 + 19 / 10)
    assert second.started_at == pytest.approx(1000.0 + 45 / 10)


def test_passers_by_shorter_than_min_dwell_do_not_count():
    frames = [[(100, 100, HAPPY)]] * 5 + [[]] * 30
    events, _ = run(frames, min_dwell_s=1.0)
    assert events == []


def test_session_events_start_update_end_in_order():
    frames = [[(100, 100, HAPPY)]] * 60
    events, _ = run(frames)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("update") >= 2
    assert len({e.session.session_id for e in events}) == 1
    assert (
        all(e.session.state == "open" for e in events[:-1]) and events[-1].session.state == "closed"
    )


def test_threshold_ignores_unsure_frames_and_falls_back_when_all_are_unsure():
    frames = [[(100, 100, HAPPY)]] * 10 + [[(100, 100, UNSURE)]] * 80
    (s,) = ends(run(frames, threshold=0.5)[0])
    assert s.dominant == "happy" and s.emotions.as_dict()["happy"] == pytest.approx(0.9, abs=1e-3)
    (s,) = ends(run(frames, threshold=0.0)[0])
    assert s.dominant == "angry"
    (s,) = ends(run([[(100, 100, UNSURE)]] * 30, threshold=0.9)[0])
    assert s.dominant == "angry" and sum(s.emotions.probs) == pytest.approx(1.0)


def test_threshold_judges_each_frame_before_smoothing():
    """With heavy smoothing, unsure frames after confident ones keep a high smoothed peak for
    a while; the threshold must still keep them out, because the frame itself was unsure."""
    frames = [[(100, 100, HAPPY)]] * 10 + [[(100, 100, UNSURE)]] * 10
    (s,) = ends(run(frames, threshold=0.5, smoothing=0.9)[0])
    # only the ten confident frames count: their smoothed values are pure HAPPY
    assert s.emotions.as_dict()["happy"] == pytest.approx(0.9, abs=1e-3)
    (s,) = ends(run(frames, threshold=0.0, smoothing=0.9)[0])
    assert s.emotions.as_dict()["happy"] < 0.85


def test_smoothing_damps_a_single_outlier_frame():
    frames = [[(100, 100, HAPPY)]] * 20 + [[(100, 100, SAD)]] + [[(100, 100, HAPPY)]] * 20
    raw = ends(run(frames)[0])[0].emotions.as_dict()["sad"]
    smooth = ends(run(frames, smoothing=0.8)[0])[0].emotions.as_dict()["sad"]
    assert smooth < raw


def test_fast_mover_matched_by_centre_distance_and_strangers_are_not():
    tracker = Tracker(gap_s=2.0)
    (a,), _ = tracker.update([FaceObservation(Box(100, 100, 80, 80))], 0.0)
    (b,), _ = tracker.update([FaceObservation(Box(150, 100, 80, 80))], 0.1)  # IoU < 0.2
    assert b.track_id == a.track_id
    faces, _ = tracker.update([FaceObservation(Box(600, 100, 80, 80))], 0.2)
    assert {f.track_id for f in faces if f.visible} != {a.track_id}
