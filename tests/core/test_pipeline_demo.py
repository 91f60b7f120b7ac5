"""The whole pipeline on the built-in demo scene (real detector and classifier)."""

from __future__ import annotations

from affectra_edge.config import Config
from affectra_edge.pipeline import build_pipeline
from affectra_edge.sources.demo import CYCLE_S, scene_frames


def test_demo_cycle_gives_four_sessions_two_of_them_concurrent():
    pipe = build_pipeline(Config())
    events = []
    for frame in scene_frames(CYCLE_S, fps=10):
        events += pipe.process(frame).events
    events += pipe.finish()
    sessions = [e.session for e in events if e.kind == "end"]
    assert len(sessions) == 4
    assert all(s.dominant == "happy" for s in sessions)
    a, b = sessions[0], sessions[1]
    assert a.started_at < b.ended_at and b.started_at < a.ended_at
    # each session's dwell time matches the script within a walk-in/out
    assert 10.0 <= a.duration_s <= 14.0
    assert len({s.session_id for s in sessions}) == 4
    starts = [e for e in events if e.kind == "start"]
    assert len(starts) == 4  # the passer-by never became a session


def test_replay_is_deterministic():
    def sessions():
        pipe = build_pipeline(Config())
        out = []
        for frame in scene_frames(20, fps=10):
            out += [
                (e.kind, e.session.started_at, e.session.ended_at, e.session.frames)
                for e in pipe.process(frame).events
            ]
        return out

    assert sessions() == sessions()
