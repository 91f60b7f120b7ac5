"""Attraction power, holding power, median dwell and valence/arousal in ``/api/stats``, the
dashboard, its live events and the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from affectra_edge.types import iso_utc
from affectra_edge.webui.users import UserStore
from tests.web.conftest import login, serve

DAY = 86400
T0 = 1_750_000_000 - 1_750_000_000 % DAY  # a past UTC day, away from the live demo's sessions
HAPPY_NEUTRAL = (0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.4)
SAD = (0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def test_api_stats_reports_the_measures(web, tmp_path):
    from affectra_edge.config import StorageConfig
    from affectra_edge.settings import RuntimeSettings
    from affectra_edge.store import open_store
    from affectra_edge.types import Emotions, ViewerSession

    store = open_store(
        StorageConfig(path=str(tmp_path / "a.db"), key_file=str(tmp_path / "db.key")),
        device_id="web-test",
    )
    try:
        # hour 1: viewers of 4, 6 and 20 s, two of them happy-neutral, one sad; 5 passed by.
        # hour 2: nobody stopped, 2 passed by.
        store.import_sessions(
            [
                ViewerSession("a", 1, T0 + 100, T0 + 104, 9, Emotions(HAPPY_NEUTRAL)),
                ViewerSession("b", 2, T0 + 200, T0 + 206, 9, Emotions(HAPPY_NEUTRAL)),
                ViewerSession("c", 3, T0 + 300, T0 + 320, 9, Emotions(SAD)),
            ]
        )
        store.count_passers_by([T0 + 50.0] * 5 + [T0 + 3600 + 10.0] * 2)
        assert store.flush(10)
        cfg = web.appliance.config
        settings = RuntimeSettings(replace(cfg, device=replace(cfg.device, expected_dwell_s=20.0)))
        users = UserStore(tmp_path / "users.json")
        users.set_password("viewer", "viewer-password", role="viewer")
        deps = replace(web.appliance.web_deps(), store=store, settings=settings)
        with serve(web, users, deps=deps) as base:
            s = login(base, "viewer", "viewer-password")
            r = s.get(base + "/api/stats", params={"from": T0, "to": T0 + DAY, "tz": 0})
            as_csv = s.get(base + "/api/stats.csv", params={"from": T0, "to": T0 + DAY, "tz": 0})
        assert r.status_code == 200, r.text[:300]
        doc = r.json()
        assert doc["expected_dwell_s"] == 20.0
        summary = doc["summary"]
        assert summary["visitors"] == 3 and summary["passers_by"] == 7
        assert summary["attraction_power"] == pytest.approx(0.3)
        assert summary["median_dwell_s"] == pytest.approx(6.0)
        assert summary["holding_power"] == pytest.approx(10.0 / 20.0)
        assert summary["valence"] == pytest.approx((0.486 * 2 - 0.63) / 3, abs=1e-4)
        assert summary["arousal"] == pytest.approx((0.306 * 2 - 0.27) / 3, abs=1e-4)
        first, second = doc["buckets"]
        assert first["attraction_power"] == pytest.approx(3 / 8)
        assert first["median_dwell_s"] == pytest.approx(6.0)
        assert first["holding_power"] == pytest.approx(0.5)
        # an hour with passers-by only: nobody attracted, nothing held
        assert second["visitors"] == 0 and second["passers_by"] == 2
        assert second["attraction_power"] == 0.0 and second["holding_power"] is None
        assert second["valence"] is None and second["median_dwell_s"] is None
        # the same buckets as CSV, for a spreadsheet
        assert as_csv.status_code == 200 and as_csv.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in as_csv.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [r["start"] for r in rows] == [iso_utc(T0), iso_utc(T0 + 3600)]
        assert rows[0]["attraction_power"] == "0.375" and rows[0]["holding_power"] == "0.5"
        assert rows[0]["passers_by"] == "5" and rows[0]["median_dwell_s"] == "6.0"
        assert rows[0]["valence"] == str(first["valence"])
        assert rows[1]["holding_power"] == "" and rows[1]["attraction_power"] == "0.0"
    finally:
        store.close()


def test_dashboard_explains_each_measure_and_updates_it_live(web, viewer):
    page = viewer.get(web.url + "/").text
    for label, key in [
        ("Attraction power", "attraction_power"),
        ("Holding power", "holding_power"),
        ("Median dwell", "median_dwell_s"),
        ("Valence", "valence"),
        ("Arousal", "arousal"),
    ]:
        assert label in page and f'data-k="{key}"' in page
    # each has its one-line explanation
    assert "share of the people who passed that stopped to look" in page
    assert "the work needs" in page and "30 s" in page.replace("</span> s", " s")
    with viewer.get(web.url + "/api/events", stream=True, timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                break
    keys = {"passers_by", "attraction_power", "holding_power", "median_dwell_s", "valence"}
    assert keys | {"arousal", "expected_dwell_s"} <= set(event)
    assert event["expected_dwell_s"] == 30.0


def test_openapi_describes_the_measures(web, viewer):
    from openapi_spec_validator import validate

    doc = viewer.get(web.url + "/api/openapi.json").json()
    validate(doc)
    schemas = doc["components"]["schemas"]
    measures = {"passers_by", "attraction_power", "holding_power", "valence", "arousal"}
    assert measures <= set(schemas["Summary"]["properties"])
    assert measures | {"median_dwell_s"} <= set(schemas["Bucket"]["properties"])
    assert {"valence", "arousal"} <= set(schemas["Session"]["properties"])
    assert "expected_dwell_s" in schemas["Stats"]["properties"]
