"""The staff UI in the staff's language: gettext catalogues, and numbers, durations and dates
formatted for the locale.

Catalogues ship as ``.po`` text under ``web/locale/<lang>/LC_MESSAGES/affectra.po`` (inside the
wheel as ``affectra_edge.web_assets``) and are compiled to the ``.mo`` format in memory when
first used, then read by the standard library's :class:`gettext.GNUTranslations`: no build step
can forget them, and no compiled binary sits in the repository next to its source.
English is the source language (no catalogue needed).

The language is ``[web] language`` when set, otherwise the best match of the browser's
``Accept-Language`` header. Babel would know every locale; two hand-written ones are enough
for English and German and keep the Pi's install small.
"""

from __future__ import annotations

import ast
import gettext
import io
import logging
import re
import struct
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from affectra_edge.types import EMOTIONS

logger = logging.getLogger(__name__)

DOMAIN = "affectra"
#: what the UI is translated into; the first is the source language and the fallback
LANGUAGES: tuple[str, ...] = ("en", "de")

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "de": (
        "Jan.",
        "Feb.",
        "März",
        "Apr.",
        "Mai",
        "Juni",
        "Juli",
        "Aug.",
        "Sept.",
        "Okt.",
        "Nov.",
        "Dez.",
    ),
}
_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
}


def N_(message: str) -> str:
    """Marks a string for the catalogue; it is translated where it is shown."""
    return message


#: the camera's state in staff words (the dashboard; fps and counters stay on Cameras)
CAMERA_STATES: dict[str, str] = {
    "streaming": N_("Camera OK"),
    "connecting": N_("Camera connecting"),
    "lost": N_("Camera lost"),
    "ended": N_("Camera: the video ended"),
    "error": N_("Camera error"),
    "stopped": N_("Camera stopped"),
}


#: the camera states as the Cameras and Live pages name them (marked for the catalogue)
STATE_NAMES: tuple[str, ...] = (
    N_("connecting"),
    N_("streaming"),
    N_("lost"),
    N_("ended"),
    N_("error"),
    N_("stopped"),
)


@dataclass(frozen=True)
class NumberStyle:
    """Separators and unit spacing of one locale."""

    thousands: str
    decimal: str
    #: between a number and "%" (German writes "45 %")
    percent_space: str
    minutes: str
    hours: str


_STYLES = {
    "en": NumberStyle(",", ".", "", "min", "h"),
    "de": NumberStyle(".", ",", "\u00a0", "Min.", "Std."),
}


@dataclass(frozen=True)
class Locale:
    """Translation and formatting for one language; templates and charts get one per request."""

    lang: str
    translations: gettext.NullTranslations = field(repr=False, compare=False)

    # ---- text ------------------------------------------------------------------------------
    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def emotion(self, key: str | None) -> str:
        """An emotion's display name (the keys stay English in data and the API)."""
        if not key:
            return "—"
        return self.translations.pgettext("emotion", key)

    def camera(self, state: str | None) -> str:
        return self.gettext(CAMERA_STATES.get(state or "", N_("Camera error")))

    def js_strings(self) -> dict[str, Any]:
        """What app.js needs to format live updates like the server (``data-i18n``)."""
        return {
            "emotions": {e: self.emotion(e) for e in EMOTIONS},
            "camera": {k: self.gettext(v) for k, v in CAMERA_STATES.items()},
            "min": self.style.minutes,
            "h": self.style.hours,
        }

    # ---- numbers ---------------------------------------------------------------------------
    @property
    def style(self) -> NumberStyle:
        return _STYLES[self.lang]

    def number(self, value: float, digits: int = 0) -> str:
        """``1234567.8`` → ``1,234,567.8`` (en) or ``1.234.567,8`` (de)."""
        text = f"{float(value):,.{digits}f}" if digits else f"{round(float(value)):,d}"
        st = self.style
        return text.replace(",", "\0").replace(".", st.decimal).replace("\0", st.thousands)

    def percent(self, fraction: float) -> str:
        return f"{self.number(100 * float(fraction))}{self.style.percent_space}%"

    def duration(self, seconds: float) -> str:
        """A dwell or an age in words staff read at a glance: 4.2 s, 45 s, 2 min, 1 h 5 min."""
        s = max(0.0, float(seconds))
        st = self.style
        if s < 10 and round(s, 1) != round(s):
            return f"{self.number(s, 1)} s"
        if s < 60:
            return f"{self.number(s)} s"
        minutes = round(s / 60)
        if minutes < 60:
            return f"{minutes} {st.minutes}"
        h, m = divmod(minutes, 60)
        return f"{h} {st.hours} {m} {st.minutes}" if m else f"{h} {st.hours}"

    # ---- dates -----------------------------------------------------------------------------
    def day(self, ts: float) -> str:
        """A calendar day, short: ``17 Nov`` / ``17. Nov.`` (``ts`` already in local time)."""
        t = time.gmtime(ts)
        month = _MONTHS[self.lang][t.tm_mon - 1]
        return f"{t.tm_mday}. {month}" if self.lang == "de" else f"{t.tm_mday} {month}"

    def weekday(self, ts: float) -> str:
        return _WEEKDAYS[self.lang][time.gmtime(ts).tm_wday]

    def hour(self, ts: float) -> str:
        return time.strftime("%H:00", time.gmtime(ts))


def locale_dir() -> Path:
    from affectra_edge.webui.view import assets_dir

    return assets_dir() / "locale"


@cache
def get_locale(lang: str) -> Locale:
    """The :class:`Locale` for a supported language (English for anything else)."""
    if lang not in LANGUAGES:
        lang = LANGUAGES[0]
    translations: gettext.NullTranslations = gettext.NullTranslations()
    po = locale_dir() / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang != LANGUAGES[0]:
        try:
            translations = gettext.GNUTranslations(io.BytesIO(compile_po(po.read_text("utf-8"))))
        except (OSError, ValueError) as exc:
            # a broken catalogue must not take the UI down: English it is, loudly
            logger.error(
                "web: the %s catalogue %s cannot be used (%s); showing English", lang, po, exc
            )
    return Locale(lang, translations)


def negotiate(accept_language: str | None, configured: str = "auto") -> str:
    """The UI language: ``configured`` unless it is ``auto``, then the browser's first
    supported choice by quality (``de-AT,de;q=0.9,en;q=0.8`` → ``de``), else English."""
    if configured != "auto":
        return configured if configured in LANGUAGES else LANGUAGES[0]
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q\s*=\s*([^;,\s]*)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:  # a malformed weight: that entry is ignored
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else LANGUAGES[0]


# ---- .po → .mo -----------------------------------------------------------------------------
def parse_po(text: str) -> dict[str, str]:
    """A ``.po`` file's translated entries as the ``.mo`` keys and values: ``ctxt\\x04id`` for
    a context, ``id\\0plural`` and ``form0\\0form1`` for plurals; the header under ``""``.
    Untranslated and fuzzy entries are left out, as ``msgfmt`` does."""
    entries: dict[str, str] = {}
    cur: dict[str, list[str]] = {}
    key: str | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal cur, fuzzy
        if "msgid" in cur:
            msgid = "".join(cur["msgid"])
            strs = [("".join(v), k) for k, v in sorted(cur.items()) if k.startswith("msgstr")]
            if "msgid_plural" in cur:
                msgid += "\0" + "".join(cur["msgid_plural"])
                value = "\0".join(s for s, _ in strs)
            else:
                value = strs[0][0] if strs else ""
            if "msgctxt" in cur:
                msgid = "".join(cur["msgctxt"]) + "\x04" + msgid
            if value.strip("\0") and (not fuzzy or msgid == ""):
                entries[msgid] = value
        cur, fuzzy = {}, False

    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#,") and "fuzzy" in line:
            flush()
            fuzzy = True
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$", line)
        if m:
            key = m.group(1)
            if key in ("msgctxt", "msgid") and ("msgstr" in cur or "msgstr[0]" in cur):
                flush()
            cur[key] = [_po_string(m.group(2), n)]
        elif line.startswith('"') and key is not None:
            cur[key].append(_po_string(line, n))
        else:
            raise ValueError(f"line {n}: cannot parse {line[:60]!r}")
    flush()
    return entries


def _po_string(quoted: str, line: int) -> str:
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"line {line}: bad string {quoted[:60]!r}") from exc
    if not isinstance(value, str):
        raise ValueError(f"line {line}: bad string {quoted[:60]!r}")
    return value


def compile_po(text: str) -> bytes:
    """The GNU ``.mo`` bytes of a ``.po`` file (the layout ``msgfmt`` writes, no hash table)."""
    entries = parse_po(text)
    keys = sorted(entries)
    ids = [k.encode("utf-8") for k in keys]
    strs = [entries[k].encode("utf-8") for k in keys]
    n = len(keys)
    header = 7 * 4
    ids_start = header + 16 * n
    offsets: list[int] = []
    data = b""
    for s in ids + strs:
        offsets += [len(s), ids_start + len(data)]
        data += s + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, header, header + 8 * n, 0, 0)
    out += struct.pack(f"<{4 * n}I", *offsets)
    return out + data
