"""``/metrics`` the way Prometheus and Grafana users expect it (prometheus_client)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from affectra_edge import __version__


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_are_idiomatic_counters_histograms_and_process(web, admin):
    admin.get(web.url + "/api/status")  # one timed request at least
    m = admin.get(web.url + "/metrics")
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
    fams = _families(m.text)
    # Running totals are counters, exposed with _total (rate() and increase() work on them).
    for name in (
        "affectra_frames_processed",
        "affectra_source_frames",
        "affectra_dropped_frames",
        "affectra_corrupt_frames",
        "affectra_source_reconnects",
        "affectra_sessions",
    ):
        assert fams[name].type == "counter", name
        assert f"{name}_total " in m.text or f"{name}_total{{" in m.text, name
    # Timings are histograms in seconds, not last-frame gauges in milliseconds.
    assert fams["affectra_stage_seconds"].type == "histogram"
    stages = {s.labels["stage"] for s in fams["affectra_stage_seconds"].samples}
    assert {"detect", "classify"} <= stages
    assert fams["affectra_inference_seconds"].type == "histogram"
    requests_seen = fams["affectra_http_request_duration_seconds"]
    assert requests_seen.type == "histogram"
    routes = {s.labels.get("route") for s in requests_seen.samples}
    assert "/api/status" in routes and not any(r and "?" in r for r in routes)
    assert "affectra_stage_ms" not in fams and "affectra_inference_ms" not in fams
    # What every Prometheus client exports, and the release.
    assert fams["process_cpu_seconds"].type == "counter"
    assert "process_resident_memory_bytes" in fams and "python_info" in fams
    (build,) = fams["affectra_build_info"].samples  # the text format has no "info" type
    assert build.value == 1 and build.labels["version"] == __version__


def test_openmetrics_is_negotiated(web, admin):
    m = admin.get(
        web.url + "/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"},
    )
    assert m.headers["Content-Type"].startswith("application/openmetrics-text")
    assert m.text.rstrip().endswith("# EOF")
    assert "# TYPE affectra_frames_processed counter" in m.text
