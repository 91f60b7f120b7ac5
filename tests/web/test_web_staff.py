"""What gallery staff read (issue 17): dwell bands from the store, today against earlier days,
charts that reflow, numbered analysis boxes, the date-range export, errors that keep the
navigation. Real store files and the real web server; the browser checks are in
``test_web_browser.py``."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests

from affectra_edge.config import StorageConfig
from affectra_edge.figures import local_day_start
from affectra_edge.store import open_store, queries
from affectra_edge.types import EMOTIONS, Emotions, ViewerSession
from affectra_edge.webui import charts, insights
from affectra_edge.webui.i18n import get_locale

HAPPY = Emotions(tuple(1.0 if e == "happy" else 0.0 for e in EMOTIONS))
SAD = Emotions(tuple(1.0 if e == "sad" else 0.0 for e in EMOTIONS))
#: a dwell on each side of every band edge, and on the edges themselves
DWELLS = (0.5, 2.9, 3.0, 5.0, 9.99, 10.0, 25.0, 29.9, 30.0, 31.0, 600.0)
#: what DWELLS give: [0, 3), [3, 10), [10, 30), [30, ∞)
BANDS = [2, 3, 3, 3]


@pytest.fixture
def store(tmp_path):
    st = open_store(
        StorageConfig(path=str(tmp_path / "a.db"), key_file=str(tmp_path / "db.key")),
        device_id="staff",
    )
    yield st
    st.close()


def _sessions(prefix: str, t0: float, dwells=DWELLS, probs=HAPPY) -> list[ViewerSession]:
    return [
        ViewerSession(f"{prefix}{i}", i + 1, t0 + 60 * i, t0 + 60 * i + d, 5, probs)
        for i, d in enumerate(dwells)
    ]


def _visitors(bands) -> list[int]:
    return [b["visitors"] for b in bands]


def test_dwell_bands_count_each_session_in_its_band(store):
    day = 1_763_337_600.0  # a UTC midnight
    store.import_sessions(_sessions("a", day + 3600))
    store.flush()
    bands = store.dwell_histogram(day, day + 86400)
    assert [(b["min_s"], b["max_s"]) for b in bands] == [(0, 3), (3, 10), (10, 30), (30, None)]
    assert _visitors(bands) == BANDS
    assert sum(_visitors(store.dwell_histogram(day, day + 3600))) == 0


def test_long_ranges_read_the_daily_histograms(store):
    """Above the exact limit whole days come from the stored histograms: the total is exact,
    and each band within the share of the one histogram bin that straddles its edges."""
    day = 1_763_337_600.0
    for k in range(3):
        store.import_sessions(_sessions(f"d{k}", day + k * 86400 + 3600))
    store.flush()
    start, end = day - 600, day + 3 * 86400 + 600  # ragged ends around three whole days
    exact = store._readers.snapshot(queries.dwell_histogram, start, end)
    assert _visitors(exact) == [3 * n for n in BANDS]
    approx = store._readers.snapshot(queries.dwell_histogram, start, end, queries.DWELL_BANDS, 0)
    assert sum(_visitors(approx)) == sum(_visitors(exact))
    assert np.abs(np.array(_visitors(approx)) - _visitors(exact)).max() <= 3
    assert all(isinstance(v, int) for v in _visitors(approx))


def test_today_against_yesterday_and_last_week(store):
    now = time.time()
    today0 = local_day_start(now)
    if now - today0 < 1200:
        pytest.skip("too close to midnight for sessions earlier today")
    early = today0 + 60  # the first minutes of each day: "by this time" on every day
    store.import_sessions(_sessions("t", early, dwells=(4.0, 4.0)))
    store.import_sessions(_sessions("y", local_day_start(today0 - 43200) + 60, dwells=(4.0,)))
    store.import_sessions(
        _sessions("w", local_day_start(today0 - 6.5 * 86400) + 60, dwells=(4.0,) * 4)
    )
    # later yesterday than now: not part of "yesterday by this time"
    late = local_day_start(today0 - 43200) + (now - today0) + 300
    if late + 600 < today0:
        store.import_sessions(_sessions("z", late, dwells=(4.0,) * 5, probs=SAD))
    store.flush()
    hours = store.buckets(today0, today0 + 86400, "hour", tz_offset_s=0)
    got = insights.compute(store, hours, now)
    assert got.today == 2
    assert got.yesterday is not None and got.yesterday.visitors == 1
    assert got.yesterday.change_pct == 100
    assert got.last_week is not None and got.last_week.visitors == 4
    assert got.last_week.change_pct == -50
    assert _visitors(got.dwell_bands) == [0, 2, 0, 0]
    assert got.busiest_hour is not None and got.busiest_hour[1] == 2


def test_time_chart_reflows_instead_of_scaling():
    """No viewBox (nothing is scaled), bars in percent of the width, text from the
    stylesheet; labels carry the steps the stylesheet thins them by."""
    en = get_locale("en")
    day = 1_763_337_600.0
    buckets = [
        {
            "start": day + i * 86400,
            "visitors": i,
            "avg_dwell_s": 4.0,
            "emotions": {"happy": 0.75, "sad": 0.25},
        }
        for i in range(14)
    ]
    svg = charts.time_course_svg(buckets, "day", en)
    assert "viewBox" not in svg and 'width="100%"' in svg
    assert re.search(r'<rect class="bar e-happy" x="[\d.]+%"', svg)
    assert 'class="bar e-sad"' in svg  # stacked by the mix, not only the dominant emotion
    labels = re.findall(r'<text class="axis xl([^"]*)"[^>]*>([^<]+)</text>', svg)
    assert len(labels) == 14
    # the newest day is always among the labels left at every width
    assert labels[-1][1] == "30 Nov" and {"m2", "m3", "m4"} <= set(labels[-1][0].split())
    assert "17 Nov18 Nov" not in svg
    assert "font-size" not in svg and "style=" not in svg  # the CSP: classes only


def test_legend_and_dwell_bars():
    de = get_locale("de")
    legend = charts.legend_html(de)
    assert legend.count("<li>") == len(EMOTIONS) and "fröhlich" in legend
    bands = [
        {"min_s": 0.0, "max_s": 3.0, "visitors": 1200},
        {"min_s": 3.0, "max_s": 10.0, "visitors": 0},
        {"min_s": 10.0, "max_s": 30.0, "visitors": 0},
        {"min_s": 30.0, "max_s": None, "visitors": 1},
    ]
    html = charts.dwell_html(bands, de)
    assert "unter 3 s" in html and "30 s und mehr" in html and "1.200" in html


def test_analysis_boxes_are_drawn_at_display_size_and_numbered():
    from affectra_edge.types import Box
    from affectra_edge.webui.render import ANALYSIS_W, COLOURS, analysis_view, numbered

    img = np.full((1600, 3200, 3), 90, np.uint8)
    out = numbered(img, [(Box(400, 400, 400, 400), "sad")])
    assert out.shape[1] == ANALYSIS_W  # not a huge picture with hairlines
    k = ANALYSIS_W / 3200
    edge = out[int(600 * k), int(400 * k) - 1 : int(400 * k) + 3]
    assert (np.abs(edge.astype(int) - COLOURS["sad"]).sum(axis=1) < 40).any()
    faces = [
        {"box": [2400, 300, 300, 300], "dominant": "happy", "emotions": {}},
        {"box": [200, 300, 300, 300], "dominant": "sad", "emotions": {}},
    ]
    view = analysis_view(img, faces)
    # numbered left to right: card 1 is the face on the left
    assert [f["dominant"] for f in view["faces"]] == ["sad", "happy"]
    assert view["image"].startswith("data:image/jpeg;base64,")


# ---- against the real server ---------------------------------------------------------------
def test_stats_api_has_the_dwell_histogram(web, viewer):
    doc = viewer.get(web.url + "/api/stats").json()
    bands = doc["dwell_histogram"]
    assert [b["max_s"] for b in bands] == [3, 10, 30, None]
    assert sum(b["visitors"] for b in bands) == doc["summary"]["visitors"]
    spec = viewer.get(web.url + "/api/openapi.json").json()
    stats = spec["components"]["schemas"]["Stats"]["properties"]
    assert stats["dwell_histogram"]["items"] == {"$ref": "#/components/schemas/DwellBand"}


def test_dashboard_speaks_plainly(web, viewer):
    page = viewer.get(web.url + "/", timeout=30).text
    assert "fps" not in page.lower()  # the frame rate lives on the Cameras page
    assert 'data-k="camera_words"' in page and 'class="legend"' in page
    assert 'class="bars dwell-bands"' in page
    footer = re.sub(r"<[^>]+>", "", page.split("<footer>")[1])  # the text staff read
    assert "web-test" not in footer  # the room's name, not the device id (that is a tooltip)
    assert "Gallery 3 box" in footer
    cams = viewer.get(web.url + "/cameras", timeout=30).text
    assert "frames per second" in cams and 'data-mqtt="disabled"' in cams


def test_not_found_keeps_the_navigation_or_asks_to_log_in(web, viewer):
    r = viewer.get(web.url + "/no/such/page", timeout=30)
    assert r.status_code == 404 and 'aria-label="Main"' in r.text and "Log out" in r.text
    anon = requests.get(web.url + "/no/such/page", allow_redirects=False, timeout=30)
    assert anon.status_code == 303 and anon.headers["Location"].endswith("/login")
    api = requests.get(web.url + "/api/nothing", allow_redirects=False, timeout=30)
    assert api.status_code == 404 and api.json()["status"] == 404
    static = requests.get(web.url + "/static/nothing.css", allow_redirects=False, timeout=30)
    assert static.status_code == 404


def test_csv_export_for_a_range_of_local_days(web, admin, viewer):
    r = admin.get(
        web.url + "/data/export.csv",
        params={"from_day": "2026-11-01", "to_day": "2026-11-30"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303
    target = urlsplit(r.headers["Location"])
    q = {k: float(v[0]) for k, v in parse_qs(target.query).items()}
    assert target.path == "/api/export.csv"
    start = time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1))
    end = time.mktime((2026, 12, 1, 0, 0, 0, 0, 0, -1))
    assert (q["from"], q["to"]) == (start, end)  # the last day is included
    today = time.strftime("%Y-%m-%d")
    csv = admin.get(web.url + "/data/export.csv", params={"from_day": today, "to_day": today})
    assert csv.status_code == 200 and csv.text.startswith("session_id,")
    assert (
        admin.get(web.url + "/data/export.csv", params={"from_day": "30.11.2026"}).status_code
        == 400
    )
    backwards = {"from_day": "2026-11-30", "to_day": "2026-11-01"}
    assert admin.get(web.url + "/data/export.csv", params=backwards).status_code == 400
    assert viewer.get(web.url + "/data/export.csv", allow_redirects=False).status_code == 403
    page = admin.get(web.url + "/data").text
    assert 'name="from_day"' in page and 'type="date"' in page


def test_measures_per_day_for_a_range_of_local_days_for_any_role(web, viewer):
    page = viewer.get(web.url + "/data").text
    assert 'action="/data/measures.csv"' in page and 'formaction="/data/export.csv"' not in page
    today = time.strftime("%Y-%m-%d")
    r = viewer.get(
        web.url + "/data/measures.csv",
        params={"from_day": today, "to_day": today},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303
    target = urlsplit(r.headers["Location"])
    q = parse_qs(target.query)
    assert target.path == "/api/stats.csv" and q["bucket"] == ["day"]
    assert float(q["from"][0]) == time.mktime(time.strptime(today, "%Y-%m-%d"))
    csv = viewer.get(web.url + "/data/measures.csv", params={"from_day": today, "to_day": today})
    header, *rows = csv.text.strip().splitlines()
    assert csv.status_code == 200 and "attraction_power" in header
    assert len(rows) <= 1  # one row a day, and only a day with visitors has one
    bad = viewer.get(web.url + "/data/measures.csv", params={"from_day": "yesterday"})
    assert bad.status_code == 400


def test_recent_rows_fragment_reads_like_the_page(web, viewer):
    """What the dashboard fetches when a visitor leaves: rows rendered by the server, in the
    page's language, with the emotion mix (also on phones)."""
    from tests.support import wait_for

    wait_for(lambda: web.appliance.store.count_sessions() >= 1, timeout=60, interval=0.5)
    en = viewer.get(web.url + "/recent.html", timeout=30).text
    assert en.lstrip().startswith("<tr>") and 'class="mix"' in en and "hide-sm" not in en
    assert re.search(r"<td>\d+(\.\d)? s</td>", en)
    de = viewer.get(web.url + "/recent.html", headers={"Accept-Language": "de"}, timeout=30).text
    tags = re.findall(r'<span class="tag e-(\w+)">([^<]+)</span>', de)
    assert tags and all(get_locale("de").emotion(key) == text for key, text in tags), tags
