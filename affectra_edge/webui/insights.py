"""What gallery staff ask of the dashboard beyond the live counts: how long people stayed
(the dwell bands), the busiest hour, and how today compares with yesterday and with the same
weekday last week — each up to the same time of day, so a morning is not held against a
whole day."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from affectra_edge.figures import local_day_start
from affectra_edge.webui.deps import SessionReads

logger = logging.getLogger(__name__)

DAY_S = 86400


@dataclass(frozen=True)
class Comparison:
    """Visitors from the start of an earlier day up to the same time of day as now."""

    #: start of that day (epoch seconds)
    day_start: float
    visitors: int
    #: today's visitors against these, in percent (None when that day had none)
    change_pct: float | None


@dataclass(frozen=True)
class Insights:
    today: int
    #: start of the busiest hour today and its visitors (None before the first visitor)
    busiest_hour: tuple[float, int] | None
    yesterday: Comparison | None
    last_week: Comparison | None
    #: ``[{"min_s", "max_s", "visitors"}, …]`` for today
    dwell_bands: tuple[dict[str, Any], ...]


def _change(now_n: int, then_n: int) -> float | None:
    return None if then_n <= 0 else round(100.0 * (now_n - then_n) / then_n)


def compute(store: SessionReads | None, hours: list[dict], now: float | None = None) -> Insights:
    """Today's insights; ``hours`` are today's hourly chart buckets (already read)."""
    now = time.time() if now is None else now
    day0 = local_day_start(now)
    busiest = max(hours, key=lambda b: int(b.get("visitors") or 0), default=None)
    busy = (
        (float(busiest["start"]), int(busiest["visitors"]))
        if busiest and int(busiest.get("visitors") or 0) > 0
        else None
    )
    empty = Insights(sum(int(b.get("visitors") or 0) for b in hours), busy, None, None, ())
    if store is None:
        return empty
    try:
        today = int(store.summary(day0, now)["visitors"])
        comps = []
        for back in (1, 7):
            # the same wall-clock span on that day (DST shifts it by an hour at most)
            start = local_day_start(day0 - back * DAY_S + DAY_S / 2)
            n = int(store.summary(start, start + (now - day0))["visitors"])
            comps.append(Comparison(start, n, _change(today, n)))
        bands = tuple(store.dwell_histogram(day0, now))
    except Exception:  # the dashboard shows what it can
        logger.exception("reading the dashboard insights failed")
        return empty
    return Insights(today, busy, comps[0], comps[1], bands)
