"""The visitor-studies measures: attraction power, holding power, valence and arousal.

Definitions and sources are in ``docs/measures.md``. Pure functions of figures the store
already keeps, so every reader (dashboard, API, CSV, MQTT) computes them the same way.

- **Attraction power** (Melton 1935; Shettel 1973; Bitgood 2013): the share of the people who
  passed the work that stopped to look, ``viewers / (viewers + passers-by)``.
- **Holding power** (Shettel 1973; Bitgood & Patterson 1987): how long viewers stayed
  relative to the time the work needs, ``mean dwell / expected dwell``. The mean, not the
  median, because that is the literature's definition; the median dwell is reported beside it.
- **Valence and arousal**: the session's emotion distribution placed on Russell's (1980)
  circumplex with the fixed coordinates :data:`CIRCUMPLEX` (pleasure and arousal ratings of
  the basic emotions from Russell & Mehrabian 1977), as the probability-weighted mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from affectra_edge.types import EMOTIONS

#: (valence, arousal) of each class, both in [-1, 1]; Russell & Mehrabian (1977), Table 1
#: pleasure and arousal of "angry", "disgusted", "afraid", "happy", "sad", "surprised"; neutral
#: is the circumplex's centre. Fixed: stored sessions and published figures depend on it.
CIRCUMPLEX: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "angry": (-0.51, 0.59),
        "disgust": (-0.60, 0.35),
        "fear": (-0.64, 0.60),
        "happy": (0.81, 0.51),
        "sad": (-0.63, -0.27),
        "surprise": (0.40, 0.67),
        "neutral": (0.0, 0.0),
    }
)
VALENCE: tuple[float, ...] = tuple(CIRCUMPLEX[e][0] for e in EMOTIONS)
AROUSAL: tuple[float, ...] = tuple(CIRCUMPLEX[e][1] for e in EMOTIONS)

#: digits the measures are rounded to in documents (the store keeps full precision)
DIGITS = 4


def _dot(weights: Sequence[float], probs: Sequence[float]) -> float:
    return float(sum(w * p for w, p in zip(weights, probs, strict=True)))


def valence_arousal(probs: Sequence[float]) -> tuple[float, float]:
    """The probability-weighted mean (valence, arousal) of a distribution in EMOTIONS order
    (normalised first; 0, 0 for an all-zero row)."""
    total = float(sum(probs))
    if not total > 0 or not math.isfinite(total):
        return 0.0, 0.0
    p = [float(v) / total for v in probs]
    return _dot(VALENCE, p), _dot(AROUSAL, p)


def mean_valence_arousal(mean_fractions: Sequence[float]) -> tuple[float, float]:
    """The mean (valence, arousal) of sessions from their mean emotion fractions.

    Exact because the mapping is linear: each session's fractions sum to 1 (or are all 0, and
    its valence and arousal are 0), so the mean of their values is the value of their mean,
    without normalising it again. The roll-ups' emotion sums therefore give the aggregates."""
    return _dot(VALENCE, mean_fractions), _dot(AROUSAL, mean_fractions)


def sql_valence_arousal() -> tuple[str, str]:
    """SQL expressions of valence and arousal over the emotion columns (the back-fill), the
    same as :func:`valence_arousal`: normalised by the sum, 0 for an all-zero row."""
    total = " + ".join(EMOTIONS)

    def expr(weights: Sequence[float]) -> str:
        dot = " + ".join(f"({w!r}) * {e}" for w, e in zip(weights, EMOTIONS, strict=True))
        return f"COALESCE(({dot}) / NULLIF({total}, 0), 0)"

    return expr(VALENCE), expr(AROUSAL)


def attraction_power(viewers: int, passers_by: int) -> float | None:
    """Viewers / (viewers + passers-by); None when nobody was seen at all."""
    seen = int(viewers) + int(passers_by)
    return round(int(viewers) / seen, DIGITS) if seen > 0 else None


def holding_power(avg_dwell_s: float, expected_dwell_s: float) -> float | None:
    """Mean dwell / the time the work needs; None without viewers (no mean to compare)."""
    if not expected_dwell_s > 0 or not avg_dwell_s > 0:
        return None
    return round(float(avg_dwell_s) / float(expected_dwell_s), DIGITS)


def with_holding_power(doc: dict, expected_dwell_s: float) -> dict:
    """``doc`` (a summary or bucket with ``avg_dwell_s``) plus its ``holding_power``."""
    return {**doc, "holding_power": holding_power(doc.get("avg_dwell_s") or 0.0, expected_dwell_s)}
