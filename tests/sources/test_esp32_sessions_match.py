"""A replay-equivalent run over the simulator yields the same sessions as the file itself."""

from __future__ import annotations

import pytest

from affectra_edge.config import CameraConfig, Config
from affectra_edge.esp32_sim import SimOptions
from affectra_edge.sources import SourceCounters, build_source
from affectra_edge.types import Frame, ViewerSession
from tests.sources.camera_support import CLIP_FPS, CLIP_FRAMES, VISITS, esp32_camera


def sessions_of(frames: list[Frame]) -> list[ViewerSession]:
    from affectra_edge.pipeline import build_pipeline

    pipeline = build_pipeline(Config())
    ended = []
    for f in frames:
        ended += [e.session for e in pipeline.process(f).events if e.kind == "end"]
    ended += [e.session for e in pipeline.finish() if e.kind == "end"]
    return sorted(ended, key=lambda s: s.started_at)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "plain"])
def test_sessions_over_the_simulator_match_the_file(simulators, clip, chunked):
    path = clip[0]
    file_src = build_source(CameraConfig(type="file", path=str(path)), SourceCounters())
    file_src.open()
    file_frames = []
    while (f := file_src.read()) is not None:
        file_frames.append(f)
    file_src.close()
    assert len(file_frames) == CLIP_FRAMES

    sim = simulators(path, options=SimOptions(chunked=chunked, fps=0, loop=False, quality=90))
    src = build_source(esp32_camera(sim.stream_url), SourceCounters())
    src.open()
    try:
        sim_frames = [src.read() for _ in range(CLIP_FRAMES)]
    finally:
        src.close()

    from_file, from_sim = sessions_of(file_frames), sessions_of(sim_frames)
    assert len(from_file) == len(VISITS)  # the clip really holds two viewers
    assert len(from_sim) == len(from_file)
    for a, b in zip(from_file, from_sim, strict=True):
        # durations agree to within one frame (JPEG re-encoding may move a detection edge)
        assert abs(a.duration_s - b.duration_s) <= 1.0 / CLIP_FPS + 1e-6
        assert abs(a.frames - b.frames) <= 1
        assert a.dominant == b.dominant
    # and both match the script of the clip
    for (first, last), s in zip(VISITS, from_sim, strict=True):
        assert abs(s.duration_s - (last - 1 - first) / CLIP_FPS) <= 2.0 / CLIP_FPS
