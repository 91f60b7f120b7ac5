"""Uploads a viewer can send cannot exhaust memory or CPU (hostile-input review, defects 1–2).

Real HTTP against the shared appliance's server (or a second server on it); the pictures are
made here, valid, and small on the wire.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import cv2
import numpy as np
import requests

from affectra_edge.webui import UserStore
from affectra_edge.webui.images import MAX_SCANS
from bench.hostile_uploads import png, scan_bomb
from tests.web.conftest import serve


def _jpeg(img: np.ndarray, *, progressive: bool = False) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    assert ok
    return buf.tobytes()


def _post(session: requests.Session, url: str, data: bytes, ctype: str, **kw):
    return session.post(url + "/api/analyze", data=data, headers={"Content-Type": ctype}, **kw)


def test_16bit_png_that_decodes_to_100_mb_is_refused_from_its_header(web, viewer):
    """3500×3500 16-bit RGBA: 98 MB decoded from a ~100 KB file; it used to be decoded
    (16 at once took the daemon to 3.3 GB). 8-bit RGB of the same size is within budget."""
    bomb = png(3500, 3500, depth=16, color_type=6)
    assert len(bomb) < 200_000
    r = _post(viewer, web.url, bomb, "image/png")
    assert r.status_code == 400, r.text
    assert "16-bit PNG of 3500×3500" in r.json()["error"]
    small = png(1200, 900, depth=8, color_type=2)
    r = _post(viewer, web.url, small, "image/png")
    assert r.status_code == 200, r.text
    assert (r.json()["width"], r.json()["height"]) == (1200, 900)


def test_progressive_jpeg_with_repeated_scans_is_refused_before_decoding(web, viewer):
    """One scan repeated: each copy is another full pass (a 458 KB file held a core for a
    minute). A normal progressive JPEG (about 10 scans) still works."""
    img = np.full((240, 320, 3), 128, np.uint8)
    normal = _jpeg(img, progressive=True)
    r = _post(viewer, web.url, normal, "image/jpeg")
    assert r.status_code == 200, r.text
    bomb = scan_bomb(img, 3 * MAX_SCANS)
    assert cv2.imdecode(np.frombuffer(bomb, np.uint8), cv2.IMREAD_COLOR) is not None
    r = _post(viewer, web.url, bomb, "image/jpeg")
    assert r.status_code == 400, r.text
    assert f"scans (at most {MAX_SCANS})" in r.json()["error"]


def test_large_progressive_jpeg_is_refused_and_large_baseline_is_decoded_reduced(
    web, viewer, astronaut
):
    """A progressive JPEG holds its full-size coefficients whatever the output size, so
    above 12 MP it is refused; a baseline one is decoded at 1/2 (libjpeg never holds the full
    picture) and its boxes are given in the uploaded picture's pixels."""
    big = cv2.resize(astronaut, (4096, 4096), interpolation=cv2.INTER_NEAREST)
    r = _post(viewer, web.url, _jpeg(big, progressive=True), "image/jpeg")
    assert r.status_code == 400 and "progressive JPEG of 4096×4096" in r.json()["error"]

    small = _post(viewer, web.url, _jpeg(astronaut), "image/jpeg").json()
    r = _post(viewer, web.url, _jpeg(big), "image/jpeg")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["width"], doc["height"]) == (4096, 4096)
    assert len(doc["faces"]) == len(small["faces"]) == 1
    got, want = doc["faces"][0]["box"], [v * 8 for v in small["faces"][0]["box"]]
    # same face, in full-size pixels: within a few percent of the picture
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 0.03 * 4096, (got, want)


def test_concurrent_analyses_are_bounded_and_the_rest_get_503(web, tmp_path):
    """Two uploads are decoded and analyzed at once; a third waits briefly and gets 503 with
    Retry-After instead of a third decode (16 at once used to run 16 decodes)."""
    release = threading.Event()
    started = threading.Semaphore(0)
    real = web.appliance.web_deps()

    def slow_analyze(img):
        started.release()
        release.wait(30)
        return real.analyze(img)

    users = UserStore(tmp_path / "users.json")
    users.set_password("viewer", "viewer-password-1", role="viewer")
    picture = _jpeg(np.full((120, 160, 3), 90, np.uint8))
    with serve(web, users, deps=replace(real, analyze=slow_analyze)) as base:
        from tests.web.conftest import login

        s = login(base, "viewer", "viewer-password-1")
        with ThreadPoolExecutor(2) as pool:
            held = [pool.submit(_post, s, base, picture, "image/jpeg", timeout=60) for _ in "ab"]
            for _ in held:
                assert started.acquire(timeout=20)
            try:
                r = _post(s, base, picture, "image/jpeg", timeout=20)
                assert r.status_code == 503, r.text
                assert r.headers["Retry-After"] == "2"
                assert "try again" in r.json()["error"]
            finally:
                release.set()
            assert [f.result().status_code for f in held] == [200, 200]
        # the slots are free again
        assert _post(s, base, picture, "image/jpeg", timeout=20).status_code == 200
