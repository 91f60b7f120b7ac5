"""The metrics registry: Prometheus conventions through ``prometheus_client``.

Every metric the daemon exports is registered through one :class:`Registry` (the daemon builds
one in :meth:`affectra_edge.app.Appliance.from_config` and hands it to each component):
``registry.counter(...)``, ``registry.gauge(...)``, ``registry.histogram(...)`` or
``registry.counter_fn(...)``, each with the ``affectra_`` prefix added here. Components update
their metrics from any thread; ``/metrics`` renders the registry and ``/api/status`` reads
values back (:meth:`Counter.value`).

What Grafana users expect, and what this gives them: running totals are counters whose
exposed name ends in ``_total`` (so ``rate()``/``increase()`` work), timings are histograms in
seconds (so percentiles work), and every registry also carries ``process_*``, ``python_*`` and
``affectra_build_info``. Registering a name twice returns the first metric, because the store
and the publisher may each register the same gauge when built with a shared registry.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import prometheus_client as prom
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from affectra_edge import __version__

# ``*_created`` series double every counter and no dashboard reads them.
prom.disable_created_metrics()

#: bucket bounds (seconds) for every timing: a Pi 4 frame stage is ~5-50 ms, a web request
#: ~1-100 ms, and the tail (first inference, a slow SD card) reaches seconds
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class _Metric:
    """A thin handle over a ``prometheus_client`` metric: labels as keyword arguments."""

    kind = "untyped"

    def __init__(self, metric: Any, labels: Sequence[str]):
        self._metric = metric
        self.labels = tuple(labels)

    def _child(self, labels: dict[str, str]) -> Any:
        return self._metric.labels(**labels) if labels else self._metric

    def _sample(self, suffix: str, labels: dict[str, str]) -> float:
        for family in self._metric.collect():
            for s in family.samples:
                if s.name.endswith(suffix) and s.labels == labels:
                    return float(s.value)
        return 0.0


class Counter(_Metric):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._child(labels).inc(amount)

    def value(self, **labels: str) -> float:
        return self._sample("_total", labels)


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, metric: Any, labels: Sequence[str], fn: Callable[[], float] | None):
        super().__init__(metric, labels)
        self._fn = fn

    def set(self, value: float, **labels: str) -> None:
        self._child(labels).set(float(value))

    def value(self, **labels: str) -> float:
        if self._fn is not None:
            return float(self._fn())
        return self._sample("", labels)


class Histogram(_Metric):
    kind = "histogram"

    def observe(self, seconds: float, **labels: str) -> None:
        self._child(labels).observe(seconds)

    def count(self, **labels: str) -> float:
        return self._sample("_count", labels)


class _CounterFn(Collector):
    """A running total owned by someone else (the camera runner's counters), read on scrape."""

    def __init__(self, name: str, help_text: str, fn: Callable[[], float]):
        self.name = name
        self.help = help_text
        self.fn = fn

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.help, value=float(self.fn()))

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.help)


class Registry:
    def __init__(self, prefix: str = "affectra_"):
        self.prefix = prefix
        self.collectors = prom.CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric | _CounterFn] = {}
        prom.ProcessCollector(registry=self.collectors)
        prom.PlatformCollector(registry=self.collectors)
        prom.GCCollector(registry=self.collectors)
        build = prom.Info(
            f"{prefix}build", "the running affectra-edge release", registry=self.collectors
        )
        build.info({"version": __version__, "python": platform.python_version()})

    def _get(self, name: str, kind: type, make: Callable[[str], Any]) -> Any:
        # Counters are named without "_total" inside prometheus_client, which appends it.
        base = self.prefix + (
            name.removesuffix("_total") if kind in (Counter, _CounterFn) else name
        )
        with self._lock:
            m = self._metrics.get(base)
            if m is None:
                m = self._metrics[base] = make(base)
            elif not isinstance(m, kind):
                raise ValueError(f"metric {base} already registered as another kind")
            return m

    def counter(self, name: str, help_text: str = "", labels: Sequence[str] = ()) -> Counter:
        """A running total; exposed as ``affectra_<name without _total>_total``."""
        return self._get(
            name,
            Counter,
            lambda full: Counter(
                prom.Counter(full, help_text or full, labels, registry=self.collectors), labels
            ),
        )

    def counter_fn(self, name: str, help_text: str, fn: Callable[[], float]) -> None:
        """A running total kept elsewhere, read by ``fn()`` at each scrape."""

        def make(full: str) -> _CounterFn:
            c = _CounterFn(full, help_text, fn)
            self.collectors.register(c)
            return c

        self._get(name, _CounterFn, make)

    def gauge(
        self,
        name: str,
        help_text: str = "",
        fn: Callable[[], float] | None = None,
        labels: Sequence[str] = (),
    ) -> Gauge:
        """A value that goes up and down; ``fn`` reads it at each scrape instead of ``set``."""

        def make(full: str) -> Gauge:
            g = prom.Gauge(full, help_text or full, labels, registry=self.collectors)
            if fn is not None:
                g.set_function(fn)
            return Gauge(g, labels, fn)

        return self._get(name, Gauge, make)

    def histogram(
        self,
        name: str,
        help_text: str = "",
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        """A timing in seconds (``name`` should end in ``_seconds``)."""
        return self._get(
            name,
            Histogram,
            lambda full: Histogram(
                prom.Histogram(
                    full, help_text or full, labels, registry=self.collectors, buckets=buckets
                ),
                labels,
            ),
        )

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        return prom.generate_latest(self.collectors).decode()

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """``(body, content type)`` for a scrape's ``Accept`` header (OpenMetrics when asked)."""
        from prometheus_client.exposition import choose_encoder

        encode, content_type = choose_encoder(accept)
        return encode(self.collectors), content_type
