"""The JSON API, live stream, SSE, OpenAPI document, users and packaging."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from affectra_edge.webui.openapi import API_PATHS
from affectra_edge.webui.users import UserStore, UserStoreError, ensure_demo_admin
from tests.support import run_cli, wait_for
from tests.web.conftest import REPO, login, serve


def _frames(resp: requests.Response, n: int) -> list[np.ndarray]:
    """The first ``n`` JPEGs of a multipart/x-mixed-replace stream."""
    buf, out = b"", []
    for chunk in resp.iter_content(8192):
        buf += chunk
        while True:
            head = buf.find(b"\r\n\r\n")
            if head < 0 or b"Content-Length:" not in buf[:head]:
                break
            length = int(buf[:head].split(b"Content-Length:")[1].split(b"\r\n")[0])
            if len(buf) < head + 4 + length:
                break
            jpeg = buf[head + 4 : head + 4 + length]
            out.append(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
            buf = buf[head + 4 + length + 2 :]
            if len(out) == n:
                return out
    return out


def test_status_stats_sessions_and_metrics(web, admin):
    st = admin.get(web.url + "/api/status").json()
    assert st["device"]["id"] == "web-test" and st["storage"] == "enabled"
    assert st["camera"]["type"] == "demo" and st["camera"]["state"] == "streaming"
    assert st["privacy"] == "blurred"
    r = admin.get(web.url + "/api/stats", params={"bucket": "hour"}).json()
    assert r["bucket"] == "hour" and "visitors" in r["summary"]
    for params, field in [
        ({"bucket": "week"}, "bucket"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2024-01-01T00:00:00Z", "to": "2023-01-01T00:00:00Z"}, "from"),
        ({"from": "2020-01-01T00:00:00Z", "bucket": "hour"}, "from"),
    ]:
        r = admin.get(web.url + "/api/stats", params=params)
        assert r.status_code == 400 and r.json()["error"].startswith(field), (params, r.text)
    r = admin.get(web.url + "/api/sessions", params={"limit": 5}).json()
    assert r["limit"] == 5 and isinstance(r["sessions"], list) and r["total"] >= 0
    for params in ({"limit": 0}, {"limit": 10_000}, {"offset": -1}, {"limit": "5;drop"}):
        assert admin.get(web.url + "/api/sessions", params=params).status_code == 400
    m = admin.get(web.url + "/metrics")
    assert m.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE affectra_fps gauge" in m.text and "affectra_frames_processed_total" in m.text


def test_visitors_are_counted_and_exported(web, admin):
    """The demo's first visitor leaves after ~13 s; the session shows up everywhere."""
    wait_for(lambda: web.appliance.store.count_sessions() >= 1, timeout=60, interval=0.5)
    web.appliance.figures.invalidate()
    st = admin.get(web.url + "/api/status").json()
    assert st["summary"]["visitors_total"] >= 1 and st["summary"]["visitors_today"] >= 1
    sessions = admin.get(web.url + "/api/sessions").json()["sessions"]
    assert sessions and sessions[0]["device_id"] == "web-test"
    assert sessions[0]["duration_s"] > 1
    r = admin.get(web.url + "/api/export.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    lines = r.text.strip().splitlines()
    assert len(lines) >= 2 and sessions[0]["session_id"] in r.text
    svg = admin.get(web.url + "/chart.svg", params={"bucket": "hour"})
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and 'class="bar e-' in svg.text
    assert "No visitors" not in svg.text
    page = admin.get(web.url + "/").text
    assert sessions[0]["dominant"] in page


def test_csv_download_defuses_formula_artwork(web, tmp_path):
    """An artwork name that a spreadsheet would run is downloaded as text (a leading ')."""
    from affectra_edge.config import StorageConfig
    from affectra_edge.store import open_store
    from affectra_edge.types import Emotions, ViewerSession

    store = open_store(
        StorageConfig(path=str(tmp_path / "a.db"), key_file=str(tmp_path / "db.key")),
        device_id="web-test",
    )
    try:
        formula = '=HYPERLINK("http://evil/","x")'
        probs = Emotions((0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0))
        store.import_sessions(
            [ViewerSession("evil-1", 1, 1000.0, 1005.0, 9, probs, artwork=formula)]
        )
        users = UserStore(tmp_path / "users.json")
        users.set_password("admin", "admin-password", role="admin")
        with serve(web, users, deps=replace(web.appliance.web_deps(), store=store)) as base:
            r = login(base, "admin", "admin-password").get(base + "/api/export.csv")
        assert r.status_code == 200, r.text[:200]
        assert '"\'=HYPERLINK(""http://evil/"",""x"")"' in r.text
        (row,) = csv.DictReader(io.StringIO(r.text))
        assert row["session_id"] == "evil-1" and row["artwork"] == "'" + formula
    finally:
        store.close()


def test_events_stream_sends_live_figures(web, viewer):
    with viewer.get(web.url + "/api/events", stream=True, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        events = []
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
                if len(events) == 2:
                    break
    assert {"visitors_today", "viewers_now", "avg_dwell_s", "emotions", "fps"} <= set(events[0])
    assert events[1]["time"] >= events[0]["time"]


def test_live_stream_follows_the_privacy_setting(web, admin, viewer):
    try:
        modes = {}
        for mode in ("full", "blurred", "boxes", "off"):
            assert admin.post(web.url + "/api/settings", json={"privacy": mode}).ok
            with viewer.get(web.url + "/stream.mjpg", stream=True, timeout=15) as r:
                assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
                modes[mode] = _frames(r, 1)[0]
        # boxes: a blank canvas (the bright gallery wall is not there); full/blurred: it is
        assert modes["boxes"].mean() < 80 < modes["full"].mean()
        assert modes["blurred"].mean() > 80
        # off: a placeholder card, not even a blurred camera picture
        assert modes["off"].shape[:2] == (360, 640) and modes["off"].mean() < 80
    finally:
        admin.post(web.url + "/api/settings", json={"privacy": "blurred"})


def test_blurred_mode_hides_the_face():
    """The face region in ``blurred`` keeps almost none of the detail the raw frame has."""
    from affectra_edge.sources.demo import DemoScene
    from affectra_edge.types import Box, FrameResult, TrackedFace
    from affectra_edge.webui.render import annotate

    frame = DemoScene().render(8.0)
    # the first visitor stands at x≈0.27·640, y≈0.42·480 at t = 8 s
    box = Box(120, 120, 110, 130)
    res = FrameResult(0, 0.0, (TrackedFace(1, box, None),))
    blurred = annotate(frame, res, "blurred")
    crop = (slice(135, 235), slice(130, 220))
    detail = lambda img: cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert detail(blurred[crop]) < 0.1 * detail(frame[crop])


def test_camera_switch_validates_the_esp32_url(web, admin):
    for url, why in [
        ("ftp://cam.local/stream", "http"),
        ("http://", "host"),
        ("http://cam.local:99999/stream", "port"),
        ("http://user:pw@cam.local/stream", "user name"),
        ("http://bad_host!/stream", "host"),
        ("javascript:alert(1)", "http"),
    ]:
        r = admin.post(web.url + "/api/cameras", json={"type": "esp32", "url": url})
        assert r.status_code == 400, url
        assert r.json()["error"].startswith("url") and why in r.json()["error"], r.json()
    r = admin.post(web.url + "/api/cameras", json={"type": "webcam"})
    assert r.status_code == 400 and r.json()["error"].startswith("type")
    r = admin.post(web.url + "/api/cameras", json={"type": "file", "path": "/no/such/clip.mp4"})
    assert r.status_code == 400 and "does not exist" in r.json()["error"]
    assert web.appliance.capture.camera.type == "demo"  # nothing switched


def test_camera_switch_to_esp32_and_back(web, admin):
    try:
        r = admin.post(
            web.url + "/api/cameras", json={"type": "esp32", "url": "http://127.0.0.1:9/stream"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["current"]["type"] == "esp32"
        assert web.appliance.capture.camera.url == "http://127.0.0.1:9/stream"
        page = admin.get(web.url + "/cameras").text
        assert "http://127.0.0.1:9/stream" in page
    finally:
        r = admin.post(web.url + "/api/cameras", json={"type": "demo"})
        assert r.status_code == 200
    wait_for(lambda: web.appliance.capture.status()["state"] == "streaming", timeout=20)


def test_openapi_document_is_valid_and_complete(web, viewer):
    from openapi_spec_validator import validate

    doc = viewer.get(web.url + "/api/openapi.json").json()
    validate(doc)
    assert set(API_PATHS) <= set(doc["paths"])
    api_rules = {r.rule for r in web.app.routes if r.rule.startswith("/api/")}
    assert api_rules <= set(doc["paths"]), api_rules - set(doc["paths"])


def test_user_store_hashes_and_file_mode(tmp_path):
    users = UserStore(tmp_path / "sub" / "users.json")
    users.set_password("curator", "correct horse", role="viewer")
    assert (users.path.stat().st_mode & 0o777) == 0o600
    text = users.path.read_text()
    assert "correct horse" not in text and "scrypt$16384$8$1$" in text
    assert users.authenticate("curator", "correct horse").role == "viewer"
    assert users.authenticate("curator", "wrong horse!") is None
    assert users.authenticate("nobody", "correct horse") is None
    users.set_password("curator", "another pass")  # role kept
    assert users.get("curator").role == "viewer"
    a, b = UserStore(users.path), users
    assert a.authenticate("curator", "another pass") is not None
    for name, pw in [("bad name", "longenough"), ("ok", "short"), ("", "longenough")]:
        with pytest.raises(UserStoreError):
            b.set_password(name, pw)
    pw = ensure_demo_admin(users)
    assert users.authenticate("admin", pw).role == "admin" and len(pw) >= 12
    users.path.write_text("{not json")
    with pytest.raises(UserStoreError, match="not a valid users file"):
        UserStore(users.path)


def test_set_password_command(tmp_path, cli_env):
    pwfile = tmp_path / "pw"
    pwfile.write_text("s3cret-passphrase\n")
    users_file = tmp_path / "users.json"
    args = ["set-password", "staff", "--role", "admin"]
    args += ["--users-file", str(users_file), "--password-file", str(pwfile)]
    r = run_cli(*args, env=cli_env, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "staff (admin)" in r.stdout
    assert UserStore(users_file).authenticate("staff", "s3cret-passphrase").role == "admin"
    # no terminal and no --password-file: a clear error, nothing written
    r = run_cli(
        "set-password",
        "other",
        "--users-file",
        str(users_file),
        env=cli_env,
        timeout=60,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode != 0 and "--password-file" in r.stderr
    assert UserStore(users_file).get("other") is None


def test_wheel_ships_templates_and_static_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "affectra_edge", src / "affectra_edge", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "web", src / "web", ignore=ignore)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    r = subprocess.run(
        [*pip, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("affectra_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in Path(REPO / "web").rglob("*"):
        if rel.is_file() and rel.suffix in (".tpl", ".css", ".js", ".svg", ".po"):
            want = "affectra_edge/web_assets/" + rel.relative_to(REPO / "web").as_posix()
            assert want in names, want
    assert "affectra_edge/webui/webapp.py" in names
    # the German catalogue (compiled in memory when first used)
    assert "affectra_edge/web_assets/locale/de/LC_MESSAGES/affectra.po" in names
    # our own emotion model travels inside the wheel too
    assert "affectra_edge/data/emotion_affectra_int8.tflite" in names
