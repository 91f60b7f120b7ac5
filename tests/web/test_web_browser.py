"""Headless Chromium (Debian's, never a downloaded one) driving the real UI on the demo scene.

Screenshots go to ``test-artifacts/web/`` (light, dark and phone width) for a human to look at.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.support import wait_for

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("AFFECTRA_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, web):
    ctx = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    # any CSP violation or script error shows up here
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    pg.goto("/")
    assert "/login" in pg.url
    pg.fill("input[name=username]", "admin")
    pg.fill("input[name=password]", web.passwords["admin"])
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(r"/$"))
    yield pg
    ctx.close()


def _count(pg, key: str) -> int:
    return int(pg.inner_text(f'[data-k="{key}"]').strip())


def test_dashboard_counts_visitors_live(page, web, artifacts):
    page.goto("/")
    start = _count(page, "visitors_today")
    # The count rises through server-sent events, without reloading the page.
    wait_for(lambda: _count(page, "visitors_today") > start, timeout=60, interval=0.25)
    assert _count(page, "visitors_today") > start
    wait_for(lambda: page.evaluate("document.querySelectorAll('#recent tr:not(.empty)').length"))
    page.wait_for_selector("#live-dot.on")
    page.screenshot(path=str(artifacts / "dashboard-light.png"), full_page=True)
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(18, 21, 27)", bg
    page.screenshot(path=str(artifacts / "dashboard-dark.png"), full_page=True)
    page.reload()  # the server renders the chosen theme (cookie), no flash of light
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.click("#theme-toggle")
    page.click(".seg-btn[data-bucket=day]")
    wait_for(
        lambda: (
            "day"
            in page.evaluate("document.querySelector('#chart svg').getAttribute('aria-label')")
        )
    )
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors


def test_phone_width_layout(browser, web, artifacts):
    ctx = browser.new_context(
        base_url=web.url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        color_scheme="dark",
    )
    pg = ctx.new_page()
    try:
        pg.goto("/login")
        pg.screenshot(path=str(artifacts / "login-phone-dark.png"))
        pg.fill("input[name=username]", "viewer")
        pg.fill("input[name=password]", web.passwords["viewer"])
        pg.click("button[type=submit]")
        pg.wait_for_url(re.compile(r"/$"))
        # nothing overflows sideways on a phone
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(18, 21, 27)", bg  # prefers-color-scheme: dark
        pg.screenshot(path=str(artifacts / "dashboard-phone-dark.png"), full_page=True)
        pg.emulate_media(color_scheme="light")
        pg.screenshot(path=str(artifacts / "dashboard-phone-light.png"), full_page=True)
        pg.goto("/settings")
        assert pg.is_disabled("input[name=artwork]")  # viewers see, cannot change
        pg.screenshot(path=str(artifacts / "settings-phone-viewer.png"), full_page=True)
    finally:
        ctx.close()


def test_live_view_shows_frames(page, web, artifacts):
    page.goto("/live")
    wait_for(lambda: page.evaluate("document.getElementById('live').naturalWidth"), timeout=20)
    assert page.evaluate("document.getElementById('live').naturalWidth") == 640
    # a visitor in view, so the screenshot shows a blurred face with its box and label
    wait_for(lambda: web.appliance.figures.stats()["faces"] > 0, timeout=40, interval=0.1)
    page.wait_for_timeout(600)
    page.screenshot(path=str(artifacts / "live-blurred.png"), full_page=True)


def test_analyze_an_uploaded_image(page, astronaut_path, artifacts):
    page.goto("/analyze")
    page.set_input_files("input[name=image]", str(astronaut_path))
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("#result")
    assert page.inner_text("#result h2").startswith("1 face found")
    assert page.get_attribute("[data-dominant]", "data-dominant") == "happy"
    assert page.evaluate("document.querySelector('img.analyzed').naturalWidth") > 0
    page.screenshot(path=str(artifacts / "analyze.png"), full_page=True)


def test_settings_and_cameras_pages(page, artifacts):
    page.goto("/settings")
    page.fill("input[name=artwork]", "The Water Lily Pond")
    page.click(".settings-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert page.input_value("input[name=artwork]") == "The Water Lily Pond"
    page.screenshot(path=str(artifacts / "settings.png"), full_page=True)
    page.goto("/cameras")
    page.select_option("#cam-type", "esp32")
    assert page.is_visible("input[name=url]") and not page.is_visible("input[name=path]")
    page.fill("input[name=url]", "ftp://camera.local/stream")
    page.click(".cam-form button[type=submit]")
    page.wait_for_selector(".flash.err")
    assert "http" in page.inner_text(".flash.err")
    page.screenshot(path=str(artifacts / "cameras-error.png"), full_page=True)


def test_clear_all_data_through_the_confirmation(page, web, artifacts):
    wait_for(lambda: web.appliance.store.count_sessions() >= 1, timeout=60, interval=0.5)
    page.goto("/data")
    before = int(page.inner_text('[data-k="visitors_total"]'))
    assert before >= 1
    assert page.is_disabled("#clear-btn")  # nothing happens until the word is typed
    page.fill("#confirm", "delete")
    assert page.is_disabled("#clear-btn")
    page.fill("#confirm", "DELETE")
    page.screenshot(path=str(artifacts / "data-confirm.png"), full_page=True)
    page.click("#clear-btn")
    page.wait_for_selector(".flash.ok")
    assert "deleted" in page.inner_text(".flash.ok")
    # at most a visitor who left in the last instant
    assert int(page.inner_text('[data-k="visitors_total"]')) <= 1
    assert web.appliance.store.count_sessions() <= 1
