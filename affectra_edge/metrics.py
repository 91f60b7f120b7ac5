"""A tiny thread-safe metrics registry rendered in the Prometheus text format.

Components register what they measure (``registry.counter(...)``, ``registry.gauge(...)``)
and update it from any thread; ``/metrics`` renders the registry, ``/api/status`` reads values.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.help = help_text
        self._lock = threading.Lock()
        self._values: dict[tuple[tuple[str, str], ...], float] = {}

    def _key(self, labels: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((labels or {}).items()))

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[tuple[dict[str, str], float]]:
        with self._lock:
            return [(dict(k), v) for k, v in self._values.items()]


class Counter(_Metric):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        with self._lock:
            k = self._key(labels)
            self._values[k] = self._values.get(k, 0.0) + amount


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, fn: Callable[[], float] | None = None):
        super().__init__(name, help_text)
        self._fn = fn

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[self._key(labels)] = float(value)

    def samples(self) -> list[tuple[dict[str, str], float]]:
        if self._fn is not None:
            return [({}, float(self._fn()))]
        return super().samples()

    def value(self, **labels: str) -> float:
        if self._fn is not None:
            return float(self._fn())
        return super().value(**labels)


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Registry:
    def __init__(self, prefix: str = "affectra_"):
        self.prefix = prefix
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}

    def _get(self, cls, name: str, help_text: str, **kw):
        full = self.prefix + name
        with self._lock:
            m = self._metrics.get(full)
            if m is None:
                m = cls(full, help_text, **kw)
                self._metrics[full] = m
            elif not isinstance(m, cls):
                raise ValueError(f"metric {full} already registered as {m.kind}")
            return m

    def counter(self, name: str, help_text: str) -> Counter:
        return self._get(Counter, name, help_text)

    def gauge(self, name: str, help_text: str, fn: Callable[[], float] | None = None) -> Gauge:
        return self._get(Gauge, name, help_text, fn=fn)

    def render(self) -> str:
        with self._lock:
            metrics = list(self._metrics.values())
        lines: list[str] = []
        for m in sorted(metrics, key=lambda m: m.name):
            lines.append(f"# HELP {m.name} {m.help}")
            lines.append(f"# TYPE {m.name} {m.kind}")
            samples = m.samples() or [({}, 0.0)]
            for labels, v in samples:
                lab = ",".join(f'{k}="{_escape(str(val))}"' for k, val in sorted(labels.items()))
                lines.append(f"{m.name}{{{lab}}} {_fmt(v)}" if lab else f"{m.name} {_fmt(v)}")
        return "\n".join(lines) + "\n"
