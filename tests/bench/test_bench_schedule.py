"""bench/schedule.py on tiny input: the agreement table and the real-time cost table print.

No figure is asserted (speed is the script's business); that each part runs and reports what
it measured is.
"""

from __future__ import annotations

import json


def test_schedule_bench_agreement_on_a_clip(tiny_clip, run_bench):
    proc = run_bench("schedule.py", "--agreement", str(tiny_clip), "--demo-fps", "", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    r = out["agreement"]["tiny.avi"]
    assert r["sessions"][0] == r["sessions"][1] == 1  # the sliding head, seen throughout
    assert set(r["ok"]) == {"sessions", "start_end", "dominant", "l1", "recall"}
    assert sum(r["steps"].values()) == 12
    assert 0.0 <= r["face_recall"] <= 1.0


def test_schedule_bench_realtime_prints_cpu_per_video_second(run_bench):
    proc = run_bench("schedule.py", "--realtime", "--seconds", "0.5", "--fps", "15")
    assert proc.returncode == 0, proc.stderr
    for scene in ("empty @ 15 fps", "one viewer @ 15 fps", "five viewers @ 15 fps"):
        assert scene in proc.stdout
    assert "CPU seconds per second of video" in proc.stdout
    # the deferred run (frames decoded only when needed) sees the faces the others see
    assert "deferred all" in proc.stdout
    lines = proc.stdout.splitlines()
    rows = [ln.split() for ln in lines if ln.startswith("  ") and " deferred " in ln]
    assert len(rows) == 3
    faces = {r[0]: r[r.index("faces") + 1].rstrip(";") for r in rows}
    assert faces["empty"] == "0.00" and float(faces["five"]) > 0.0


def test_schedule_bench_needs_a_mode(run_bench):
    proc = run_bench("schedule.py")
    assert proc.returncode == 2
    assert "--agreement" in proc.stderr
