"""The web UI's protections against the real cheroot server on a free port."""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
import requests

from affectra_edge.fsutil import write_private_file
from affectra_edge.webui import UserStore, WebServer, auth, create_app, routes_login
from tests.web.conftest import login, login_form, serve

PUBLIC = {"/healthz", "/login", "/static/<path:path>"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _concrete(rule: str) -> str:
    return re.sub(r"<[^>]+>", "app.css", rule)


def assert_secure_headers(r: requests.Response) -> None:
    for k, v in SECURITY_HEADERS.items():
        assert r.headers.get(k) == v, (r.url, r.status_code, k, r.headers.get(k))
    assert "Cache-Control" in r.headers, r.url


def test_every_route_but_public_ones_refuses_anonymous(web):
    routes = [(r.method, r.rule) for r in web.app.routes]
    assert len(routes) >= 25  # the table really was enumerated
    assert {rule for _, rule in routes} >= PUBLIC | {"/api/clear", "/stream.mjpg", "/metrics"}
    checked = 0
    for method, rule in routes:
        if rule in PUBLIC:
            continue
        r = requests.request(
            method, web.url + _concrete(rule), allow_redirects=False, timeout=10, data={"x": "1"}
        )
        refused = r.status_code == 401 or (
            r.status_code == 303 and urlsplit(r.headers["Location"]).path == "/login"
        )
        assert refused, (method, rule, r.status_code)
        assert web.appliance.config.device.artwork not in r.text, rule  # no data leaks
        assert_secure_headers(r)
        checked += 1
    assert checked >= 20


def test_public_routes_and_healthz_carry_no_data(web):
    r = requests.get(web.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert_secure_headers(r)
    for path in ("/login", "/static/app.css", "/static/app.js"):
        r = requests.get(web.url + path, timeout=5)
        assert r.status_code == 200, path
        assert_secure_headers(r)
    # traversal out of the static folder is refused (an anonymous "not found" is sent to the
    # login form, like every unknown page)
    r = requests.get(web.url + "/static/../templates/base.tpl", timeout=5, allow_redirects=False)
    assert r.status_code in (403, 404) or r.headers["Location"].endswith("/login"), r.status_code
    assert "rebase" not in r.text


def test_healthz_reports_a_stalled_pipeline(web, monkeypatch):
    now = time.monotonic()
    # frames keep arriving, none processed for a minute: what a wedged interpreter looks like
    monkeypatch.setattr(
        web.appliance.figures, "progress", lambda: {"captured_at": now, "processed_at": now - 60}
    )
    r = requests.get(web.url + "/healthz", timeout=5)
    assert r.status_code == 503 and r.json() == {"status": "stalled"}


def test_security_headers_on_pages_api_errors_and_static(web, admin, monkeypatch):
    for path in ("/", "/live", "/analyze", "/cameras", "/settings", "/data", "/api/status"):
        r = admin.get(web.url + path, timeout=10)
        assert r.status_code == 200, path
        assert_secure_headers(r)
        assert r.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP
    assert_secure_headers(admin.get(web.url + "/static/app.css"))
    r = admin.get(web.url + "/no/such/page")
    assert r.status_code == 404
    assert_secure_headers(r)
    r = admin.get(web.url + "/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]
    assert_secure_headers(r)
    r = admin.put(web.url + "/api/settings", json={})
    assert r.status_code == 405
    assert_secure_headers(r)

    # an internal failure: clean 500, no stack trace, headers still there
    def boom():
        raise RuntimeError("secret internals /etc/affectra-edge")

    monkeypatch.setattr(web.appliance.figures, "stats", boom)
    web.appliance.figures.invalidate()
    for path in ("/api/status", "/"):
        r = admin.get(web.url + path)
        assert r.status_code == 500, path
        assert "Traceback" not in r.text and "secret internals" not in r.text
        assert_secure_headers(r)
    assert admin.get(web.url + "/api/status").json() == {
        "error": "Internal server error",
        "status": 500,
    }


def test_no_inline_script_or_style_in_pages(web, admin):
    for path in ("/", "/live", "/analyze", "/cameras", "/settings", "/data"):
        html = admin.get(web.url + path).text
        assert "style=" not in html, path
        assert "<style" not in html, path
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers


def test_post_without_or_with_wrong_csrf_is_refused_and_changes_nothing(web, admin):
    before = web.appliance.settings.current()
    count = web.appliance.store.count_sessions()
    cookies = admin.cookies
    attempts = [
        ("/api/settings", {"json": {"artwork": "Forged"}}, None),
        ("/api/settings", {"json": {"artwork": "Forged"}}, "wrong-token"),
        ("/api/clear", {"json": {"confirm": "DELETE"}}, None),
        ("/api/clear", {"json": {"confirm": "DELETE"}}, "x" * 43),
        ("/settings", {"data": {"artwork": "Forged"}}, None),
        ("/data/clear", {"data": {"confirm": "DELETE", "csrf_token": "nope"}}, None),
        ("/api/cameras", {"json": {"type": "usb"}}, None),
        ("/logout", {"data": {}}, None),
    ]
    for path, body, token in attempts:
        headers = {"X-CSRF-Token": token} if token else {}
        r = requests.post(web.url + path, cookies=cookies, headers=headers, timeout=10, **body)
        assert r.status_code == 403, (path, token, r.status_code)
        assert "CSRF" in r.text
        assert_secure_headers(r)
    # a valid token from a foreign page (Origin of another site) is refused as well
    r = admin.post(
        web.url + "/api/settings", json={"artwork": "Forged"}, headers={"Origin": "http://evil"}
    )
    assert r.status_code == 403
    assert web.appliance.settings.current() == before
    assert web.appliance.store.count_sessions() >= count
    assert admin.get(web.url + "/api/status").status_code == 200  # still logged in


def test_viewer_reads_but_cannot_change_or_delete(web, viewer):
    assert viewer.get(web.url + "/api/status").json()["user"]["role"] == "viewer"
    assert viewer.get(web.url + "/api/settings").status_code == 200
    before = web.appliance.settings.current()
    count = web.appliance.store.count_sessions()
    for method, path, kw in [
        ("post", "/api/clear", {"json": {"confirm": "DELETE"}}),
        ("post", "/data/clear", {"data": {"confirm": "DELETE"}}),
        ("post", "/api/settings", {"json": {"artwork": "Viewer was here"}}),
        ("post", "/settings", {"data": {"artwork": "Viewer was here"}}),
        ("post", "/api/cameras", {"json": {"type": "demo"}}),
        ("get", "/api/export.csv", {}),
    ]:
        r = getattr(viewer, method)(web.url + path, timeout=10, **kw)
        assert r.status_code == 403, (path, r.status_code)
        assert "Administrators only" in r.text
    assert web.appliance.settings.current() == before
    assert web.appliance.store.count_sessions() >= count
    page = viewer.get(web.url + "/data").text
    assert "Delete everything" not in page and "only administrators" in page.lower()


def test_admin_changes_settings_with_validation(web, admin):
    r = admin.post(web.url + "/api/settings", json={"artwork": "Nighthawks", "threshold": 0.25})
    assert r.status_code == 200, r.text
    assert r.json()["artwork"] == "Nighthawks"
    assert web.appliance.config.device.artwork == "Nighthawks"
    assert web.appliance.store.get_setting("artwork") == "Nighthawks"  # persisted
    for body, field in [
        ({"threshold": 2}, "threshold"),
        ({"threshold": "NaN"}, "threshold"),
        ({"retention_days": -1}, "retention_days"),
        ({"device_name": ""}, "device_name"),
        ({"artwork": "a\x00b"}, "artwork"),
        ({"privacy": "everything"}, "privacy"),
        ({"admin": True}, "admin"),
    ]:
        r = admin.post(web.url + "/api/settings", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"].startswith(field), r.json()
    r = admin.post(
        web.url + "/api/settings", data="[1,2]", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    # the form on the settings page does the same
    r = admin.post(
        web.url + "/settings",
        data={
            "artwork": "Water Lilies",
            "threshold": "0",
            "csrf_token": admin.headers["X-CSRF-Token"],
        },
        allow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("/settings?msg=saved")
    assert web.appliance.config.device.artwork == "Water Lilies"


def test_uploads_are_bounded_and_validated(web, admin, astronaut_path):
    url = web.url + "/api/analyze"
    big = b"\xff\xd8\xff" + b"\0" * (6 * 1024 * 1024)
    r = admin.post(url, files={"image": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    r = admin.post(url, files={"image": ("a.txt", b"hello, not an image", "text/plain")})
    assert r.status_code == 400 and "not a JPEG or PNG" in r.json()["error"]
    jpeg = astronaut_path.read_bytes()
    r = admin.post(url, files={"image": ("cut.png", jpeg[:300], "image/png")})
    assert r.status_code == 400 and r.json()["error"].startswith("image:")
    r = admin.post(url, files={"other": ("a.png", jpeg, "image/png")})
    assert r.status_code == 400 and "'image' field" in r.json()["error"]
    r = admin.post(url, data=b"--x\r\ngarbage", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400
    r = admin.post(url, data=iter([jpeg]), headers={"Content-Type": "image/png"})  # chunked
    assert r.status_code == 411
    # bodies on the small endpoints are bounded too
    r = admin.post(web.url + "/api/settings", json={"artwork": "x" * 100_000})
    assert r.status_code == 413
    # the HTML form shows the message on the page
    r = admin.post(
        web.url + "/analyze",
        files={"image": ("a.txt", b"plain text", "text/plain")},
        data={"csrf_token": admin.headers["X-CSRF-Token"]},
    )
    assert r.status_code == 400 and "not a JPEG or PNG" in r.text


def test_analyze_finds_the_astronauts_happy_face(web, admin, astronaut_path):
    r = admin.post(
        web.url + "/api/analyze",
        files={"image": ("astronaut.png", astronaut_path.read_bytes(), "image/png")},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["width"] == 512 and len(doc["faces"]) == 1
    assert doc["faces"][0]["dominant"] == "happy"
    assert abs(sum(doc["faces"][0]["emotions"].values()) - 1) < 0.01


def test_login_is_throttled_per_client(web):
    from affectra_edge.webui.users import UserStore as _US

    # a second app on the same appliance: a fresh throttle, so the shared server stays usable
    cfg = replace(web.appliance.config.web, port=0)
    server = WebServer(
        create_app(web.appliance.web_deps(), users=_US(cfg.users_file), cfg=cfg), cfg
    )
    server.start()
    try:
        base = server.url
        s = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login").text)[1]
        codes = []
        for _ in range(6):
            r = s.post(
                base + "/login",
                data={"username": "admin", "password": "guess-guess", "csrf_token": token},
                allow_redirects=False,
            )
            codes.append(r.status_code)
        assert codes[:4] == [401] * 4 and codes[4:] == [429, 429], codes
        assert int(r.headers["Retry-After"]) >= 1
        assert "Too many failed attempts" in r.text
        # even the right password waits out the lockout
        r = s.post(
            base + "/login",
            data={"username": "admin", "password": web.passwords["admin"], "csrf_token": token},
            allow_redirects=False,
        )
        assert r.status_code == 429 and SESSION_COOKIE not in r.cookies
        # a login without the form's token is refused
        r = requests.post(
            base + "/login", data={"username": "admin", "password": "x"}, allow_redirects=False
        )
        assert r.status_code in (403, 429)
    finally:
        server.stop()


SESSION_COOKIE = "affectra_session"


class _CountingUsers(UserStore):
    """The real user store, counting the passwords it checks."""

    def __init__(self, path):
        super().__init__(path)
        self.checked = 0
        self._count = threading.Lock()

    def authenticate(self, name, password):
        with self._count:
            self.checked += 1
        return super().authenticate(name, password)


def test_parallel_logins_cannot_outrun_the_throttle(web, tmp_path, monkeypatch):
    # a clock that stands still: a lockout never runs out during the test, however slowly
    # this machine runs it
    frozen = functools.partial(auth.LoginThrottle, clock=lambda: 1000.0)
    monkeypatch.setattr(routes_login, "LoginThrottle", frozen)
    users = _CountingUsers(tmp_path / "users.json")
    users.set_password("admin", "right-password-1", role="admin")
    n = 16

    def burst(base: str, password: str) -> list[int]:
        forms = [login_form(base) for _ in range(n)]
        barrier = threading.Barrier(n)

        def attempt(i: int) -> int:
            s, token = forms[i]
            barrier.wait(timeout=60)
            data = {"username": "admin", "password": password, "csrf_token": token}
            r = s.post(base + "/login", data=data, allow_redirects=False, timeout=300)
            return r.status_code

        with ThreadPoolExecutor(n) as pool:
            return sorted(pool.map(attempt, range(n)))

    with serve(web, users) as base:
        # many right passwords at once (a room of dashboards logging in): all get in
        assert burst(base, "right-password-1") == [303] * n
        assert users.checked == n
        # 16 wrong ones released together: only the 5 free attempts are checked, as if sent
        # one after the other (4 × 401, the 5th starts the lockout), the rest wait and are
        # refused
        users.checked = 0
        assert burst(base, "wrong-password") == [401] * 4 + [429] * 12
        assert users.checked == 5
        # the right password after the limit is refused without being checked
        s, token = login_form(base)
        data = {"username": "admin", "password": "right-password-1", "csrf_token": token}
        r = s.post(base + "/login", data=data, allow_redirects=False, timeout=60)
        assert r.status_code == 429 and SESSION_COOKIE not in r.cookies
        assert users.checked == 5


def _rewrite_users(path, change) -> None:
    """Change the users file the way another process would (atomic replace)."""
    doc = json.loads(path.read_text())
    change(doc["users"])
    write_private_file(path, json.dumps(doc).encode())


def test_deleted_demoted_or_new_password_users_lose_their_logins(web, tmp_path):
    users = UserStore(tmp_path / "users.json")
    users.set_password("tempadmin", "temp-password-1", role="admin")
    users.set_password("keeper", "keeper-password-1", role="admin")
    with serve(web, users) as base:
        temp = login(base, "tempadmin", "temp-password-1")
        keeper = login(base, "keeper", "keeper-password-1")
        assert temp.get(base + "/api/export.csv").status_code == 200
        # demoted by another process: the role changes, the password hash stays
        _rewrite_users(users.path, lambda u: u["tempadmin"].update(role="viewer"))
        assert temp.get(base + "/api/export.csv").status_code == 401
        assert temp.get(base + "/api/status").status_code == 401
        # logged in again, as what the file says now
        temp = login(base, "tempadmin", "temp-password-1")
        assert temp.get(base + "/api/status").json()["user"] == {
            "name": "tempadmin",
            "role": "viewer",
        }
        assert temp.get(base + "/api/export.csv").status_code == 403
        # deleted (``set-password --delete`` in another process): every page refuses at once
        UserStore(users.path).delete("tempadmin")
        assert temp.get(base + "/api/status").status_code == 401
        r = temp.get(base + "/", allow_redirects=False)
        assert r.status_code == 303 and urlsplit(r.headers["Location"]).path == "/login"
        # nobody else was touched
        assert keeper.get(base + "/api/export.csv").status_code == 200
        # a new password ends the logins made with the old one
        UserStore(users.path).set_password("keeper", "keeper-password-2")
        assert keeper.get(base + "/api/status").status_code == 401
        keeper = login(base, "keeper", "keeper-password-2")
        assert keeper.get(base + "/api/status").json()["user"]["role"] == "admin"


def test_session_table_caps_logins_per_user_and_never_evicts_others():
    table = auth.SessionTable(3600)
    admin = table.create("admin", "admin")
    viewer = [table.create("viewer1", "viewer") for _ in range(auth.MAX_SESSIONS + 1)]
    assert table.get(admin.token) == admin
    alive = [s for s in viewer if table.get(s.token) is not None]
    assert alive == viewer[-auth.MAX_SESSIONS_PER_USER :]  # only their own oldest went
    assert len(table) == 1 + auth.MAX_SESSIONS_PER_USER


def test_one_user_logging_in_again_and_again_logs_nobody_else_out(web, tmp_path, monkeypatch):
    # small numbers, so that a few logins (each one scrypt) fill the tables
    monkeypatch.setattr(auth, "MAX_SESSIONS_PER_USER", 3, raising=False)
    monkeypatch.setattr(auth, "MAX_SESSIONS", 5)
    users = UserStore(tmp_path / "users.json")
    for name, role in (("admin", "admin"), ("viewer1", "viewer"), ("curator", "viewer")):
        users.set_password(name, f"{name}-password", role=role)
    with serve(web, users) as base:
        admin = login(base, "admin", "admin-password")
        viewers = [login(base, "viewer1", "viewer1-password") for _ in range(4)]
        assert admin.get(base + "/api/status").status_code == 200
        codes = [v.get(base + "/api/status").status_code for v in viewers]
        assert codes == [401, 200, 200, 200]  # the cap ended viewer1's own oldest login
        login(base, "curator", "curator-password")  # the fifth session: the table is full
        s, token = login_form(base)
        data = {"username": "curator", "password": "curator-password", "csrf_token": token}
        r = s.post(base + "/login", data=data, allow_redirects=False, timeout=60)
        assert r.status_code == 503 and SESSION_COOKIE not in r.cookies
        assert admin.get(base + "/api/status").status_code == 200
        assert [v.get(base + "/api/status").status_code for v in viewers[1:]] == [200] * 3


def test_deeply_nested_json_is_a_clean_400(web, admin):
    before = web.appliance.settings.current()
    deep = "[" * 30000 + "]" * 30000
    for path, body in [
        ("/api/settings", deep),
        ("/api/settings", '{"artwork": ' + deep + "}"),
        ("/api/cameras", deep),
        ("/api/clear", '{"confirm": ' + deep + "}"),
    ]:
        r = admin.post(web.url + path, data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.json() == {"error": "Body is not valid JSON: nested too deeply", "status": 400}
        assert_secure_headers(r)
    # the HTML form behind the settings page says so too
    r = admin.post(web.url + "/settings", data=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.text
    assert web.appliance.settings.current() == before


def test_session_cookie_flags_and_logout(web):
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(web.url + "/login").text)[1]
    r = s.post(
        web.url + "/login",
        data={"username": "viewer", "password": web.passwords["viewer"], "csrf_token": token},
        allow_redirects=False,
    )
    cookie = next(
        v for k, v in r.headers.items() if k.lower() == "set-cookie" and SESSION_COOKIE in v
    )
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the TLS test
    page = s.get(web.url + "/").text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)[1]
    r = s.post(web.url + "/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert r.status_code == 303
    # the old cookie is dead server-side even if a client kept it
    r = requests.get(
        web.url + "/api/status", cookies={SESSION_COOKIE: cookie.split(";")[0].split("=", 1)[1]}
    )
    assert r.status_code == 401


def test_login_redirect_stays_on_this_site(web):
    s = requests.Session()
    for nxt, want in [("/live", "/live"), ("//evil.example/", "/"), ("http://evil/", "/")]:
        page = s.get(web.url + "/login", params={"next": nxt}).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        r = s.post(
            web.url + "/login",
            data={
                "username": "viewer",
                "password": web.passwords["viewer"],
                "csrf_token": token,
                "next": nxt,
            },
            allow_redirects=False,
        )
        assert r.status_code == 303, r.status_code
        assert urlsplit(r.headers["Location"]).path == want, (nxt, r.headers["Location"])
        assert urlsplit(r.headers["Location"]).netloc == urlsplit(web.url).netloc
        s.cookies.clear()


def test_tls_with_a_self_signed_pair(web, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cert", "scripts/make-cert.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cert, key = mod.make_pair(tmp_path, ["localhost"], ["127.0.0.1"])
    assert (key.stat().st_mode & 0o777) == 0o600
    cfg = replace(web.appliance.config.web, port=0, tls_cert=str(cert), tls_key=str(key))
    server = WebServer(
        create_app(web.appliance.web_deps(), users=UserStore(cfg.users_file), cfg=cfg), cfg
    )
    server.start()
    try:
        assert server.url.startswith("https://")
        r = requests.get(server.url + "/healthz", verify=str(cert), timeout=10)
        assert r.status_code == 200
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        assert_secure_headers(r)
        s = login(server.url, "admin", web.passwords["admin"], verify=str(cert))
        cookie = s.cookies.get(SESSION_COOKIE)
        assert cookie
        assert next(c for c in s.cookies if c.name == SESSION_COOKIE).secure
        assert s.get(server.url + "/api/status", verify=str(cert)).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "/healthz", timeout=10)  # untrusted without the cert
    finally:
        server.stop()


def test_metrics_bearer_token_for_scrapers(web, tmp_path, monkeypatch):
    """/metrics takes ``Authorization: Bearer`` with the configured token, and nothing else does."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    token_file = tmp_path / "metrics-token"
    token_file.write_text("s3cret-scrape-token\n")
    cfg = replace(web.appliance.config.web, port=0, metrics_token_file=str(token_file))
    server = WebServer(
        create_app(web.appliance.web_deps(), users=UserStore(cfg.users_file), cfg=cfg), cfg
    )
    server.start()
    try:
        ok = requests.get(
            server.url + "/metrics",
            headers={"Authorization": "Bearer s3cret-scrape-token"},
            timeout=10,
        )
        assert ok.status_code == 200 and "affectra_frames_processed_total" in ok.text
        assert_secure_headers(ok)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0"}):
            assert (
                requests.get(server.url + "/metrics", headers=headers, timeout=10).status_code
                == 401
            )
        # the token opens /metrics only
        other = requests.get(
            server.url + "/api/status",
            headers={"Authorization": "Bearer s3cret-scrape-token"},
            timeout=10,
        )
        assert other.status_code == 401
    finally:
        server.stop()
    # without a configured token a bearer header opens nothing
    r = requests.get(
        web.url + "/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"}, timeout=10
    )
    assert r.status_code == 401
