"""The real appliance (demo scene, encrypted store in tmp) with its web UI on a free port.

One appliance serves the whole web test session (models load once); tests that need a
different web configuration (TLS, a fresh login throttle) build a second app and server on the
same appliance. Users: ``admin`` and ``viewer`` with random passwords.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests

from tests.support import wait_for

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "web"


@dataclass
class Web:
    appliance: object
    url: str
    passwords: dict[str, str]
    tmp: Path

    @property
    def app(self):
        return self.appliance.web.app

    def login(self, user: str = "admin", base: str | None = None, **kw) -> requests.Session:
        return login(base or self.url, user, self.passwords[user], **kw)


def csrf_of(session: requests.Session, base: str, **kw) -> str:
    r = session.get(base + "/settings", **kw)
    r.raise_for_status()
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', r.text).group(1)


def login(base: str, user: str, password: str, **kw) -> requests.Session:
    s = requests.Session()
    r = s.get(base + "/login", **kw)
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = s.post(
        base + "/login",
        data={"username": user, "password": password, "csrf_token": token, "next": "/"},
        allow_redirects=False,
        **kw,
    )
    assert r.status_code == 303, (r.status_code, r.text[:300])
    s.headers["X-CSRF-Token"] = csrf_of(s, base, **kw)
    return s


def login_form(base: str) -> tuple[requests.Session, str]:
    """A browser that opened the login form, and the form's token."""
    s = requests.Session()
    page = s.get(base + "/login", timeout=60).text
    return s, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@contextmanager
def serve(web: Web, users, deps=None) -> Iterator[str]:
    """A second app and server on the shared appliance, with its own users, sessions and
    login throttle (and ``deps``, when given); yields its base URL."""
    from affectra_edge.webui import WebServer, create_app

    cfg = replace(web.appliance.config.web, port=0, users_file=str(users.path))
    app = create_app(deps or web.appliance.web_deps(), users=users, cfg=cfg)
    server = WebServer(app, cfg, users=users)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def web(tmp_path_factory) -> Web:
    from affectra_edge.app import Appliance
    from affectra_edge.config import Config

    tmp = tmp_path_factory.mktemp("web")
    cfg = Config()
    cfg = replace(
        cfg,
        device=replace(cfg.device, id="web-test", name="Gallery 3 box", artwork="Water Lilies"),
        camera=replace(cfg.camera, type="demo", fps=10.0),
        # short gap: the demo's first visitor is counted ~13 s after start
        sessions=replace(cfg.sessions, gap_s=1.0),
        storage=replace(cfg.storage, path=str(tmp / "affectra.db"), key_file=str(tmp / "db.key")),
        web=replace(
            cfg.web, host="127.0.0.1", port=0, users_file=str(tmp / "users.json"), threads=24
        ),
    )
    app = Appliance.from_config(cfg, with_mqtt=False, with_web=True)
    users = app.web.users
    passwords = {"admin": secrets.token_urlsafe(12), "viewer": secrets.token_urlsafe(12)}
    users.set_password("admin", passwords["admin"], role="admin")
    users.set_password("viewer", passwords["viewer"], role="viewer")
    app.start()
    try:
        wait_for(app.first_frame.is_set, timeout=30)
        yield Web(app, app.web.url, passwords, tmp)
    finally:
        app.stop()


@pytest.fixture(scope="session")
def admin(web) -> requests.Session:
    return web.login("admin")


@pytest.fixture(scope="session")
def viewer(web) -> requests.Session:
    return web.login("viewer")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
