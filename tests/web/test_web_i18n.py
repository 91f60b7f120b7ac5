"""The staff UI in English and German: catalogues, language choice, locale formatting."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from affectra_edge.webui.i18n import compile_po, get_locale, negotiate, parse_po

REPO = Path(__file__).resolve().parents[2]
PO = REPO / "web" / "locale" / "de" / "LC_MESSAGES" / "affectra.po"

_STR = r"""(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")"""
_SINGLE = re.compile(r"(?<![\w])(?:_|N_|gettext)\(\s*" + _STR + r"\s*[,)]")
_PLURAL = re.compile(r"ngettext\(\s*" + _STR + r"\s*,\s*" + _STR)


def marked_strings() -> dict[str, str]:
    """Every string the UI sources mark for translation → the file that marks it."""
    files = sorted((REPO / "web" / "templates").glob("*.tpl"))
    files += sorted((REPO / "affectra_edge" / "webui").glob("*.py"))
    found: dict[str, str] = {}
    for f in files:
        text = f.read_text(encoding="utf-8")
        for m in _SINGLE.finditer(text):
            found.setdefault(m.group(1) if m.group(1) is not None else m.group(2), f.name)
        for m in _PLURAL.finditer(text):
            found.setdefault(m.group(1) if m.group(1) is not None else m.group(2), f.name)
    return found


def test_every_marked_string_has_a_german_translation():
    catalogue = parse_po(PO.read_text(encoding="utf-8"))
    ids = {k.split("\0")[0] for k in catalogue}
    marked = marked_strings()
    assert len(marked) > 100  # the extraction itself works
    missing = {s: f for s, f in marked.items() if s not in ids}
    assert not missing, f"not in {PO.name}: {missing}"
    de = get_locale("de")
    # placeholders survive translation, or .format() would fail on the German page
    for s in marked:
        assert set(re.findall(r"{\w+}", de.gettext(s))) == set(re.findall(r"{\w+}", s)), s


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt not installed")
def test_in_memory_compiler_matches_msgfmt(tmp_path):
    """The catalogue is valid for GNU gettext, and compiling it in memory gives exactly what
    msgfmt gives (plurals, the emotion context, the header)."""
    mo = tmp_path / "de.mo"
    r = subprocess.run(
        ["msgfmt", "--check", "-o", str(mo), str(PO)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    import io

    ours = gettext.GNUTranslations(io.BytesIO(compile_po(PO.read_text(encoding="utf-8"))))
    theirs = gettext.GNUTranslations(mo.open("rb"))
    assert ours._catalog == theirs._catalog  # type: ignore[attr-defined]
    assert ours.ngettext("{n} face found", "{n} faces found", 2) == "{n} Gesichter gefunden"
    assert ours.pgettext("emotion", "happy") == "fröhlich"


def test_fuzzy_and_untranslated_entries_are_left_out():
    po = (
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, fuzzy\nmsgid "Save"\nmsgstr "Sichern"\n\n'
        'msgid "Data"\nmsgstr ""\n\n'
        'msgid "Log out"\nmsgstr "Abmelden"\n'
    )
    entries = parse_po(po)
    assert entries.get("Log out") == "Abmelden"
    assert "Save" not in entries and "Data" not in entries
    with pytest.raises(ValueError, match="line 2"):
        parse_po('msgid "x"\nthis is no po line\n')


@pytest.mark.parametrize(
    "header, configured, want",
    [
        ("de-AT,de;q=0.9,en;q=0.8", "auto", "de"),
        ("en-GB,en;q=0.9,de;q=0.5", "auto", "en"),
        ("fr-FR,fr;q=0.9,de;q=0.4", "auto", "de"),  # the best one we have
        ("fr-FR", "auto", "en"),
        ("de;q=0, en", "auto", "en"),  # q=0 means "not this one"
        ("", "auto", "en"),
        (None, "auto", "en"),
        ("de;q=bogus, xx", "auto", "en"),
        ("de", "en", "en"),  # [web] language wins over the browser
        ("en", "de", "de"),
    ],
)
def test_language_choice(header, configured, want):
    assert negotiate(header, configured) == want


def test_numbers_durations_and_dates_per_locale():
    en, de = get_locale("en"), get_locale("de")
    assert en.number(1_000_000) == "1,000,000" and de.number(1_000_000) == "1.000.000"
    assert en.number(14.56, 1) == "14.6" and de.number(14.56, 1) == "14,6"
    assert en.percent(0.45) == "45%" and de.percent(0.45) == "45\u00a0%"
    assert en.duration(4.23) == "4.2 s" and de.duration(4.23) == "4,2 s"
    assert en.duration(45) == "45 s"
    assert en.duration(160.5) == "3 min" and de.duration(160.5) == "3 Min."
    assert en.duration(3900) == "1 h 5 min" and de.duration(7200) == "2 Std."
    nov17 = 1763337600.0  # 2025-11-17 00:00 UTC
    assert en.day(nov17) == "17 Nov" and de.day(nov17) == "17. Nov."
    assert en.weekday(nov17) == "Monday" and de.weekday(nov17) == "Montag"
    assert en.emotion("surprise") == "surprise" and de.emotion("surprise") == "überrascht"


def test_language_key_is_validated():
    from affectra_edge.config import ConfigError, parse_config

    assert parse_config({"web": {"language": "de"}}, "t.toml").web.language == "de"
    with pytest.raises(ConfigError, match="language"):
        parse_config({"web": {"language": "klingon"}}, "t.toml")


def test_pages_follow_accept_language(web):
    de = requests.get(web.url + "/login", headers={"Accept-Language": "de-DE,de;q=0.9"}, timeout=30)
    assert '<html lang="de"' in de.text and ">Anmelden<" in de.text
    assert de.headers["Content-Language"] == "de" and "Accept-Language" in de.headers["Vary"]
    en = requests.get(web.url + "/login", headers={"Accept-Language": "en-GB"}, timeout=30)
    assert '<html lang="en"' in en.text and ">Log in<" in en.text
    s = web.login("viewer")
    page = s.get(web.url + "/", headers={"Accept-Language": "de"}, timeout=30).text
    assert "Übersicht" in page and "Emotionen heute" in page
    svg = s.get(web.url + "/chart.svg?bucket=day", headers={"Accept-Language": "de"}, timeout=30)
    assert "Besucher pro Tag" in svg.text


def test_configured_language_overrides_the_browser(web, tmp_path):
    from affectra_edge.webui import WebServer, create_app
    from affectra_edge.webui.users import UserStore

    users = UserStore(tmp_path / "users.json")
    cfg = replace(web.appliance.config.web, port=0, users_file=str(users.path), language="de")
    server = WebServer(create_app(web.appliance.web_deps(), users=users, cfg=cfg), cfg, users=users)
    server.start()
    try:
        r = requests.get(server.url + "/login", headers={"Accept-Language": "en"}, timeout=30)
        assert '<html lang="de"' in r.text and "Benutzername" in r.text
        assert "Accept-Language" not in r.headers.get("Vary", "")
    finally:
        server.stop()
