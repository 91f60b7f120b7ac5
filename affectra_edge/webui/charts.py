"""Server-side SVG charts: no chart library is shipped to the browser.

The SVG carries classes only (colours come from the page's stylesheet, so dark mode works and
the strict CSP — no inline styles — holds). Text is escaped.
"""

from __future__ import annotations

import time
from html import escape

from affectra_edge.types import EMOTIONS


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


def time_course_svg(
    buckets: list[dict], bucket: str, *, width: int = 720, height: int = 240, tz_offset_s: int = 0
) -> str:
    """Visitors per hour/day as bars, with the dominant emotion as the bar's colour class."""
    pad_l, pad_r, pad_t, pad_b = 36, 8, 12, 28
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max(1, len(buckets))
    top = _nice_max(max((int(b.get("visitors") or 0) for b in buckets), default=0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Visitors per {escape(bucket)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Visitors per {escape(bucket)}</title>",
    ]
    for i in range(5):  # grid lines and y labels
        v = top * i / 4
        y = pad_t + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{pad_l}" y1="{y:.1f}" x2="{width - pad_r}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>'
        )
    slot = plot_w / n
    bw = max(1.0, slot * 0.72)
    label_every = max(1, n // 12)
    for i, b in enumerate(buckets):
        v = int(b.get("visitors") or 0)
        bh = plot_h * v / top
        x = pad_l + i * slot + (slot - bw) / 2
        y = pad_t + plot_h - bh
        dom = b.get("dominant") if b.get("dominant") in EMOTIONS else "none"
        start = float(b.get("start") or 0) + tz_offset_s
        when = time.strftime("%H:00" if bucket == "hour" else "%d %b", time.gmtime(start))
        dwell = float(b.get("avg_dwell_s") or 0)
        tip = f"{when}: {v} visitor{'s' if v != 1 else ''}, avg dwell {dwell:.1f} s"
        if v:
            tip += f", mostly {dom}"
        parts.append(
            f'<rect class="bar e-{dom}" x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" '
            f'height="{max(bh, 0):.1f}"><title>{escape(tip)}</title></rect>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="axis" x="{x + bw / 2:.1f}" y="{height - 8}" '
                f'text-anchor="middle">{escape(when)}</text>'
            )
    if not any(int(b.get("visitors") or 0) for b in buckets):
        parts.append(
            f'<text class="empty" x="{width / 2}" y="{pad_t + plot_h / 2}" '
            f'text-anchor="middle">No visitors in this period yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def distribution_svg(emotions: dict[str, float], *, width: int = 360, row: int = 26) -> str:
    """Horizontal bars of the emotion distribution (fractions summing to ~1)."""
    height = row * len(EMOTIONS) + 4
    label_w, val_w = 78, 48
    bar_w = width - label_w - val_w
    parts = [
        f'<svg class="dist" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Emotion distribution" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, e in enumerate(EMOTIONS):
        v = max(0.0, min(1.0, float(emotions.get(e) or 0.0)))
        y = 2 + i * row
        parts.append(f'<text class="label" x="0" y="{y + row * 0.65:.1f}">{e}</text>')
        parts.append(
            f'<rect class="track" x="{label_w}" y="{y + 5}" width="{bar_w}" height="{row - 10}" rx="3"/>'
        )
        parts.append(
            f'<rect class="bar e-{e}" x="{label_w}" y="{y + 5}" width="{bar_w * v:.1f}" '
            f'height="{row - 10}" rx="3"><title>{e}: {v:.0%}</title></rect>'
        )
        parts.append(
            f'<text class="value" x="{width}" y="{y + row * 0.65:.1f}" '
            f'text-anchor="end" data-emotion="{e}">{v:.0%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
