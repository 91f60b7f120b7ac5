"""A stop while a web request is still running (a picture being decoded) ends in bounded
time, with the store flushed and ``offline`` published first (hostile-input review, defect 3).

The real appliance (demo camera, encrypted store, web server, MQTT to a real mosquitto); the
request that never ends is an analysis that spins until the test lets it go, as a
``cv2.imdecode`` of a hostile JPEG did: deaf to the socket, holding its worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import cv2
import numpy as np
import pytest
import requests

from affectra_edge.analysis import Analyzer
from affectra_edge.config import Config
from tests.mqtt.conftest import PREFIX, Broker, Subscriber
from tests.support import wait_for
from tests.web.conftest import login


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def test_stop_during_a_running_upload_flushes_says_offline_and_returns(
    tmp_path, broker, monkeypatch
):
    entered, release = threading.Event(), threading.Event()

    def spinning_analysis(self, image):
        entered.set()
        while not release.is_set():
            sum(range(10_000))
        return []

    monkeypatch.setattr(Analyzer, "observe", spinning_analysis)
    from affectra_edge.app import Appliance

    cfg = Config()
    cfg = replace(
        cfg,
        device=replace(cfg.device, id="gallery-7"),
        camera=replace(cfg.camera, type="demo", fps=10.0),
        storage=replace(
            cfg.storage, path=str(tmp_path / "a.db"), key_file=str(tmp_path / "db.key")
        ),
        web=replace(cfg.web, host="127.0.0.1", port=0, users_file=str(tmp_path / "u.json")),
        mqtt=replace(cfg.mqtt, enabled=True, host=broker.host, port=broker.port),
    )
    app = Appliance.from_config(cfg)
    assert app.web is not None and app.store is not None
    app.web.users.set_password("viewer", "viewer-password-1", role="viewer")
    sub = Subscriber(broker, [f"{PREFIX}/status"])
    stopper = None
    try:
        app.start()
        wait_for(lambda: any(m.payload == b"online" for m in sub.on(f"{PREFIX}/status")), 30)
        s = login(app.web.url, "viewer", "viewer-password-1")
        _, jpg = cv2.imencode(".jpg", np.full((60, 80, 3), 100, np.uint8))
        upload = threading.Thread(
            target=lambda: _post_quietly(s, app.web.url, jpg.tobytes()), daemon=True
        )
        upload.start()
        assert entered.wait(30)

        stopper = threading.Thread(target=app.stop)
        stopper.start()
        stopper.join(60)
        # it used to wait for the request for ever (cheroot joins its workers without limit)
        assert not stopper.is_alive(), "Appliance.stop() is waiting for the running request"
        assert upload.is_alive()  # the request did not have to end first
        assert sub.last(f"{PREFIX}/status").payload == b"offline"
    finally:
        release.set()
        if stopper is not None and stopper.is_alive():
            stopper.join(30)
        sub.close()


def _post_quietly(s: requests.Session, base: str, data: bytes) -> None:
    try:
        s.post(
            base + "/api/analyze", data=data, headers={"Content-Type": "image/jpeg"}, timeout=120
        )
    except requests.RequestException:
        pass  # the server went away under it: expected
