"""bench/soak.py without the 20 minutes: its arguments and its arithmetic (the soak itself
runs only under ``make bench``)."""

from __future__ import annotations

from bench.soak import metric, slope_mb_per_h


def test_soak_refuses_a_missing_clip(tmp_path, run_bench):
    proc = run_bench("soak.py", "--minutes", "0.1", "--clip", str(tmp_path / "nope.mp4"))
    assert proc.returncode == 2
    assert f"no clip at {tmp_path / 'nope.mp4'}" in proc.stderr


def test_slope_is_megabytes_per_hour_and_needs_three_points():
    # 1 MB per minute for 10 minutes, with noise that cancels out
    pts = [(60.0 * i, 200.0 + i + (0.5 if i % 2 else -0.5)) for i in range(11)]
    assert abs(slope_mb_per_h(pts) - 60.0) < 1.0
    assert slope_mb_per_h(pts[:2]) is None
    assert slope_mb_per_h([(5.0, 1.0)] * 4) is None


def test_metric_reads_a_sample_not_its_help_or_a_longer_name():
    text = (
        "# HELP affectra_sessions_total viewer sessions ended\n"
        "affectra_sessions_total_created 1.7e9\n"
        "affectra_sessions_total 42.0\n"
    )
    assert metric(text, "affectra_sessions_total") == 42.0
    assert metric(text, "affectra_missing") is None
