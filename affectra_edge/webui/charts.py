"""Server-side charts: no chart library is shipped to the browser.

The time chart is an SVG without a ``viewBox``: bars and labels are placed in percent of the
width and in pixels of the height, so on a phone the chart reflows to the screen instead of
shrinking a desktop drawing (its text stays the stylesheet's 12 px). The y labels sit in the
SVG's CSS padding; which x labels show is decided by the stylesheet from the chart's width
(``m2``/``m3``/``m4``/``m6`` mark every 2nd, 3rd, 4th, 6th label). Bars are stacked by the
emotion mix of their hour or day, so the chart also shows the emotions over the day.

Everything carries classes only (colours come from the page's stylesheet, so dark mode works
and the strict CSP — no inline styles — holds). Text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from affectra_edge.types import EMOTIONS
from affectra_edge.webui.i18n import Locale

#: the time chart's height in CSS pixels, and its plot area inside it
CHART_H = 240
_PAD_T, _PAD_B = 12, 26
#: label steps the stylesheet can pick from
_STEPS = (2, 3, 4, 6)


def _nice_max(v: float) -> float:
    """A round axis top that 4 whole-number grid steps divide evenly (counts are integers)."""
    if v <= 4:
        return 4.0
    for step in (8, 12, 20, 40, 60, 100, 200, 400, 600, 1000, 2000, 4000, 10000, 20000):
        if v <= step:
            return float(step)
    return float((int(v * 1.2) // 4 + 1) * 4)


def fill_buckets(buckets: list[dict], start: float, end: float, step: int) -> list[dict]:
    """One bucket per ``step`` from ``start`` to ``end``, empty ones added, so the axis always
    shows the whole period."""
    have = {int(float(b["start"])): b for b in buckets}
    full = []
    t = start
    while t < end:
        b = have.get(int(t))
        if b is None:
            b = next((x for x in buckets if t <= float(x["start"]) < t + step), None)
        full.append(b or {"start": t, "visitors": 0, "avg_dwell_s": 0.0, "dominant": None})
        t += step
    return full


def _step_classes(k: int) -> str:
    return "".join(f" m{s}" for s in _STEPS if k % s == 0)


def time_course_svg(buckets: list[dict], bucket: str, loc: Locale, *, tz_offset_s: int = 0) -> str:
    """Visitors per hour/day as bars stacked by their emotion mix."""
    _ = loc.gettext
    plot_h = CHART_H - _PAD_T - _PAD_B
    n = max(1, len(buckets))
    top = _nice_max(max((int(b.get("visitors") or 0) for b in buckets), default=0))
    title = _("Visitors per hour") if bucket == "hour" else _("Visitors per day")
    parts = [
        f'<svg class="chart tc tc-{escape(bucket)}" width="100%" height="{CHART_H}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):  # grid lines and y labels (in the left padding)
        y = _PAD_T + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="0" y1="{y:.1f}" x2="100%" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="-6" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(loc.number(top * i / 4))}</text>"
        )
    slot = 100.0 / n
    bw = slot * 0.74
    for i, b in enumerate(buckets):
        v = int(b.get("visitors") or 0)
        x = i * slot + (slot - bw) / 2
        start = float(b.get("start") or 0) + tz_offset_s
        when = loc.hour(start) if bucket == "hour" else loc.day(start)
        parts.append(_stack(b, v, x, bw, plot_h * v / top, when, loc))
        # hours count from midnight; days from today backwards, so today is always labelled
        k = i if bucket == "hour" else n - 1 - i
        # the last label ends at the chart's edge instead of spilling past it
        lx, anchor = (100.0, "end") if i == n - 1 else (x + bw / 2, "middle")
        parts.append(
            f'<text class="axis xl{_step_classes(k)}" x="{lx:.2f}%" y="{CHART_H - 8}" '
            f'text-anchor="{anchor}">{escape(when)}</text>'
        )
    if not any(int(b.get("visitors") or 0) for b in buckets):
        parts.append(
            f'<text class="empty" x="50%" y="{_PAD_T + plot_h / 2}" text-anchor="middle">'
            f"{escape(_('No visitors in this period yet'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _stack(b: dict, v: int, x: float, bw: float, bh: float, when: str, loc: Locale) -> str:
    """One bar: a segment per emotion (bottom up in the legend's order), one tooltip."""
    if v <= 0 or bh <= 0:
        return ""
    mix = b.get("emotions") or {}
    fr = [max(0.0, float(mix.get(e) or 0.0)) for e in EMOTIONS]
    total = sum(fr)
    if total <= 0:  # no mix known: one neutral-coloured bar
        fr, total = [0.0] * len(EMOTIONS), 0.0
    dwell = float(b.get("avg_dwell_s") or 0)
    tip = loc.ngettext("{when}: {n} visitor", "{when}: {n} visitors", v).format(
        when=when, n=loc.number(v)
    )
    tip += ", " + loc.gettext("average dwell {d}").format(d=loc.duration(dwell))
    shares = sorted(((f / total, e) for f, e in zip(fr, EMOTIONS, strict=True) if f), reverse=True)
    if shares:
        tip += " · " + ", ".join(f"{loc.emotion(e)} {loc.percent(f)}" for f, e in shares)
    base = _PAD_T + (CHART_H - _PAD_T - _PAD_B)
    out = [f'<g class="stack"><title>{escape(tip)}</title>']
    if total <= 0:
        out.append(
            f'<rect class="bar e-none" x="{x:.2f}%" y="{base - bh:.1f}" '
            f'width="{bw:.2f}%" height="{bh:.1f}"/>'
        )
    y = float(base)
    for f, e in zip(fr, EMOTIONS, strict=True):
        h = bh * f / total if total else 0.0
        if h < 0.05:
            continue
        y -= h
        out.append(
            f'<rect class="bar e-{e}" x="{x:.2f}%" y="{y:.2f}" width="{bw:.2f}%" height="{h:.2f}"/>'
        )
    out.append("</g>")
    return "".join(out)


def legend_html(loc: Locale, *, label: str | None = None) -> str:
    """The seven emotion colours with their names (for the stacked bars and the mix bars)."""
    _ = loc.gettext
    items = "".join(
        f'<li><span class="sw e-{e}"></span>{escape(loc.emotion(e))}</li>' for e in EMOTIONS
    )
    head = escape(label or _("Colours: the visitors' emotions"))
    return f'<ul class="legend" aria-label="{head}">{items}</ul>'


def distribution_html(emotions: dict[str, float], loc: Locale) -> str:
    """The emotion distribution (fractions summing to ~1) as labelled horizontal bars: HTML,
    so the labels are real text that wraps and keeps its size on any screen."""
    rows = []
    for e in EMOTIONS:
        v = max(0.0, min(1.0, float(emotions.get(e) or 0.0)))
        rows.append(
            f'<li data-emotion="{e}"><span class="bl">{escape(loc.emotion(e))}</span>'
            f'<span class="bt"><span class="bf e-{e} w{round(v * 20)}"></span></span>'
            f'<span class="bv" data-emotion="{e}">{escape(loc.percent(v))}</span></li>'
        )
    return f'<ul class="bars dist" aria-label="{escape(loc.gettext("Emotions today"))}">{"".join(rows)}</ul>'


def dwell_html(bands: Sequence[dict[str, Any]], loc: Locale) -> str:
    """How long visitors stayed: one labelled bar per dwell band, with count and share."""
    _ = loc.gettext
    total = sum(int(b.get("visitors") or 0) for b in bands)
    rows = []
    for b in bands:
        lo, hi = float(b["min_s"]), b.get("max_s")
        if not lo:
            name = _("under {s}").format(s=loc.duration(float(hi or 0)))
        elif hi is None:
            name = _("{s} or more").format(s=loc.duration(lo))
        else:
            name = _("{a} to {b}").format(a=loc.duration(lo), b=loc.duration(float(hi)))
        n = int(b.get("visitors") or 0)
        share = n / total if total else 0.0
        rows.append(
            f'<li><span class="bl">{escape(name)}</span>'
            f'<span class="bt"><span class="bf dwell w{round(share * 20)}"></span></span>'
            f'<span class="bv">{escape(loc.number(n))}</span></li>'
        )
    return (
        f'<ul class="bars dwell-bands" aria-label="{escape(_("Dwell time"))}">{"".join(rows)}</ul>'
    )
