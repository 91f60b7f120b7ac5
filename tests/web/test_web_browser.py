"""Headless Chromium (Debian's, never a downloaded one) driving the real UI on the demo scene.

Every page is loaded at phone (390×844) and desktop size, in light and dark mode, and checked
for what staff hit on a phone (issue 17): nothing scrolls sideways, no text is smaller than
9 px, chart labels do not run into each other, the colour legend and the dwell distribution are
there. One browser serves the module; one logged-in context per size and scheme.

Screenshots go to ``test-artifacts/web/`` (git-ignored) for a human to look at.
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


def _watch(pg) -> None:
    errors: list[str] = []
    # any CSP violation or script error shows up here
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors


@pytest.fixture(scope="module")
def page(browser, web):
    ctx = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    _watch(pg)
    pg.goto("/")
    assert "/login" in pg.url
    pg.fill("input[name=username]", "admin")
    pg.fill("input[name=password]", web.passwords["admin"])
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(r"/$"))
    yield pg
    ctx.close()


def _count(pg, key: str) -> int:
    return int(re.sub(r"[^\d]", "", pg.inner_text(f'[data-k="{key}"]')))


# ---- every page, phone and desktop, light and dark -----------------------------------------
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
PAGES = ("/", "/live", "/analyze", "/cameras", "/settings", "/data", "/fleet", "/no-such-page")
MIN_TEXT_PX = 9
#: the smallest visible text: its size on screen (an SVG's scale included) and what it says
SMALLEST_TEXT = """() => {
  let best = [999, ""];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden" || cs.display === "none") continue;
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    if (el.closest(".visually-hidden")) continue;
    let px = parseFloat(cs.fontSize);
    if (el instanceof SVGGraphicsElement) px *= el.getScreenCTM().a;
    if (px < best[0]) best = [px, el.tagName + ": " + el.textContent.trim().slice(0, 30)];
  }
  return best;
}"""
#: pairs of visible chart axis labels that overlap (the 14-day axis used to run together)
OVERLAPPING_LABELS = """() => {
  const boxes = [...document.querySelectorAll("#chart svg text.xl")]
    .filter(t => getComputedStyle(t).display !== "none")
    .map(t => [t.textContent, t.getBoundingClientRect()]);
  const hits = [];
  for (let i = 1; i < boxes.length; i++) {
    const [a, ra] = boxes[i - 1], [b, rb] = boxes[i];
    if (rb.left < ra.right + 2) hits.push(a + "|" + b);
  }
  return [boxes.length, hits];
}"""
BACKGROUND = {"light": "rgb(244, 245, 247)", "dark": "rgb(18, 21, 27)"}


@pytest.fixture(scope="module")
def login_state(browser, web):
    """An admin's cookies, logged in once for every sized context."""
    ctx = browser.new_context(base_url=web.url)
    pg = ctx.new_page()
    pg.goto("/login")
    pg.fill("input[name=username]", "admin")
    pg.fill("input[name=password]", web.passwords["admin"])
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(r"/$"))
    state = ctx.storage_state()
    ctx.close()
    return state


@pytest.fixture(
    scope="module",
    params=[(size, scheme) for size in SIZES for scheme in ("light", "dark")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def sized(request, browser, web, login_state):
    size, scheme = request.param
    w, h = SIZES[size]
    ctx = browser.new_context(
        base_url=web.url,
        viewport={"width": w, "height": h},
        color_scheme=scheme,
        storage_state=login_state,
        locale="en-GB",
    )
    pg = ctx.new_page()
    _watch(pg)
    pg.size, pg.scheme = size, scheme
    yield pg
    ctx.close()


def _fits(pg, where: str) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= pg.viewport_size["width"], f"{where}: {width} px wide, scrolls sideways"
    px, what = pg.evaluate(SMALLEST_TEXT)
    assert px >= MIN_TEXT_PX, f"{where}: {px:.1f} px text ({what})"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_fits_and_reads(sized, path, artifacts):
    pg = sized
    where = f"{path} {pg.size} {pg.scheme}"
    pg.goto(path, wait_until="domcontentloaded")
    pg.wait_for_load_state("domcontentloaded")
    assert pg.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[pg.scheme]
    assert pg.is_visible("nav[aria-label=Main]"), where  # a 404 keeps the navigation too
    _fits(pg, where)
    name = (path.strip("/") or "dashboard").replace("/", "-")
    if path == "/":
        assert pg.locator("ul.legend li").count() == 7 and pg.is_visible("ul.legend"), where
        assert pg.locator("ul.dwell-bands li").count() == 4, where
        assert pg.is_visible("ul.dwell-bands"), where
        if pg.locator("#recent .mix").count():  # the emotion mix stays on phones
            assert pg.is_visible("#recent .mix"), where
        for bucket in ("hour", "day"):
            pg.click(f".seg-btn[data-bucket={bucket}]")
            pg.wait_for_function(
                "b => document.querySelector('#chart svg').classList.contains('tc-' + b)",
                arg=bucket,
            )
            shown, overlapping = pg.evaluate(OVERLAPPING_LABELS)
            assert shown >= 4 and not overlapping, (where, bucket, shown, overlapping)
            _fits(pg, f"{where} {bucket}")
        pg.click(".seg-btn[data-bucket=hour]")
    if path == "/cameras":
        # an ESP32's long stream URL wraps instead of widening the page
        pg.evaluate(
            """() => {
              const code = document.createElement("code");
              code.textContent = "http://esp32-cam-gallery-3-north-wall.local:81/stream?q=12";
              document.querySelector("dl.facts dd").replaceChildren("ESP32-CAM (Wi-Fi) ", code);
            }"""
        )
        _fits(pg, where + " with an ESP32 URL")
    pg.screenshot(path=str(artifacts / f"{name}-{pg.size}-{pg.scheme}.png"), full_page=True)
    assert not [e for e in pg.errors if "Content Security Policy" in e], pg.errors


def test_german_pages_fit_on_a_phone(browser, web, login_state, artifacts):
    """German words are longer: the phone layout still holds, in German."""
    ctx = browser.new_context(
        base_url=web.url,
        viewport={"width": SIZES["phone"][0], "height": SIZES["phone"][1]},
        storage_state=login_state,
        locale="de-DE",
    )
    pg = ctx.new_page()
    try:
        for path in ("/", "/cameras", "/settings", "/data"):
            pg.goto(path, wait_until="domcontentloaded")
            assert pg.evaluate("document.documentElement.lang") == "de"
            _fits(pg, f"{path} de")
            pg.screenshot(
                path=str(artifacts / f"{path.strip('/') or 'dashboard'}-phone-de.png"),
                full_page=True,
            )
        pg.goto("/")
        assert "Emotionen heute" in pg.inner_text("main")
        assert "fröhlich" in pg.inner_text("ul.legend")
    finally:
        ctx.close()


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
        _fits(pg, "/login phone")
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
