"""Logging in and out: the login form, its throttle, and the session cookie."""

from __future__ import annotations

import logging
import secrets
import threading

import bottle

from affectra_edge.webui.auth import LoginThrottle, SessionsFull, SessionTable, tokens_match
from affectra_edge.webui.policy import SESSION_COOKIE, page_paths, safe_next
from affectra_edge.webui.users import MAX_PASSWORD, UserStore
from affectra_edge.webui.view import View

logger = logging.getLogger(__name__)

LOGIN_COOKIE = "affectra_login"


def register(
    app: bottle.Bottle, *, users: UserStore | None, sessions: SessionTable, view: View, tls: bool
) -> None:
    throttle = LoginThrottle()
    kdf = threading.BoundedSemaphore(2)  # scrypt needs 16 MiB each: cap parallel logins

    def set_cookie(name: str, value: str, max_age: int, path: str = "/") -> None:
        bottle.response.set_cookie(
            name, value, max_age=max_age, path=path, httponly=True, samesite="Strict", secure=tls
        )

    def next_page() -> str:
        req = bottle.request
        return safe_next(req.query.get("next") or req.forms.get("next"), page_paths(app))

    def login_page(error: str = "", status: int = 200, username: str = "") -> str:
        # Keep the browser's token across retries (a failed login re-renders this page).
        token = bottle.request.get_cookie(LOGIN_COOKIE) or ""
        if not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
            token = secrets.token_urlsafe(24)
        # Login CSRF: double-submit of a pre-session token bound to this browser.
        set_cookie(LOGIN_COOKIE, token, 3600, path="/login")
        bottle.response.status = status
        return view.render(
            "login.tpl",
            title="Log in",
            login_token=token,
            next=next_page(),
            error=error,
            username=username,
            no_users=users is None or len(users) == 0,
        )

    def throttled(wait: float) -> str:
        secs = max(1, int(wait + 0.999))
        bottle.response.set_header("Retry-After", str(secs))
        return login_page(f"Too many failed attempts. Try again in {secs} s.", 429)

    @app.get("/login", public=True)
    def login_form():
        if sessions.get(bottle.request.get_cookie(SESSION_COOKIE)) is not None:
            return bottle.redirect("/", 303)
        return login_page()

    @app.post("/login", public=True, csrf=False)
    def login():
        req = bottle.request
        client = req.environ.get("REMOTE_ADDR", "?")  # never X-Forwarded-For: spoofable
        # Reserved before the (slow) password check, so parallel attempts cannot all slip
        # in before the first failure is counted.
        wait = throttle.begin(client)
        if wait > 0:
            return throttled(wait)
        ok: bool | None = None  # None: no password was checked, the attempt is given back
        try:
            form = req.forms
            if not tokens_match(req.get_cookie(LOGIN_COOKIE), form.get("csrf_token")):
                return login_page("The login form expired; please try again.", 403)
            username = form.getunicode("username", default="") or ""
            password = form.getunicode("password", default="") or ""
            if not username or not password or len(username) > 64 or len(password) > MAX_PASSWORD:
                return login_page("Enter your user name and password.", 400, username[:64])
            user = None
            if users is not None:
                with kdf:
                    user = users.authenticate(username, password)
            ok = user is not None
        finally:
            wait = throttle.end(client, ok)
        if user is None:
            logger.warning("failed web login for %r from %s", username[:64], client)
            if wait > 0:
                return throttled(wait)
            return login_page("Wrong user name or password.", 401, username[:64])
        try:
            s = sessions.create(user.name, user.role, user.stamp)
        except SessionsFull:
            logger.warning("web login of %s refused: %d sessions open", user.name, len(sessions))
            return login_page("Too many people are logged in; try again later.", 503)
        set_cookie(SESSION_COOKIE, s.token, int(sessions.ttl_s))
        bottle.response.delete_cookie(LOGIN_COOKIE, path="/login")
        logger.info("web login: %s (%s) from %s", user.name, user.role, client)
        return bottle.redirect(safe_next(form.get("next"), page_paths(app)), 303)

    @app.post("/logout", role="viewer")
    def logout(session):
        sessions.drop(session.token)
        bottle.response.delete_cookie(SESSION_COOKIE, path="/")
        return bottle.redirect("/login?msg=loggedout", 303)
