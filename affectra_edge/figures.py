"""The read model: live figures, "today", and the one health rule, computed in one place.

The pipeline thread records what it did (:meth:`LiveFigures.frame_done`, ``session_ended``,
``frame_failed``); everybody else reads the same figures from here: the dashboard, its
server-sent events and ``/api/status`` (:meth:`LiveFigures.now`, cached for half a second so
a room full of dashboards costs one store query), the retained MQTT summary
(:meth:`LiveFigures.summary`), and systemd's ``STATUS=``/watchdog and ``/healthz``
(:meth:`LiveFigures.progress` judged by :func:`pipeline_health`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from affectra_edge.config import DeviceConfig
from affectra_edge.measures import holding_power
from affectra_edge.metrics import Registry
from affectra_edge.types import EMOTIONS, FrameResult, iso_utc

if TYPE_CHECKING:
    from affectra_edge.sources.runner import CaptureRunner

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: /healthz: frames arrive but none got through the pipeline for this long → 503
HEALTHZ_STALL_S = 30.0
#: /healthz: how long after start "no frame processed yet" is still a slow start, not a hang
STARTUP_GRACE_S = 60.0
#: how long the dashboard figures and cached API documents may be old
CACHE_TTL_S = 0.5

Health = Literal["ok", "stalled", "idle"]


def local_day_start(now: float) -> float:
    """Epoch seconds of the last local midnight: "today" as gallery staff mean it."""
    lt = time.localtime(now)
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))


def tz_offset(now: float) -> int:
    """Seconds east of UTC of the device's local time at ``now``."""
    return int(time.localtime(now).tm_gmtoff or 0)


def pipeline_health(
    progress: Mapping[str, Any], now: float, stall_s: float, *, grace_until: float | None = None
) -> Health:
    """The stall rule, for ``progress`` as :meth:`LiveFigures.progress` reports it.

    ``idle``: no frame was captured within ``stall_s``, so the camera's state says what is
    wrong (not the pipeline). ``stalled``: frames arrive but the pipeline is more than
    ``stall_s`` behind them, or has processed none at all (once ``grace_until`` has passed,
    when given). ``ok`` otherwise. Times are monotonic seconds."""
    captured, processed = progress.get("captured_at"), progress.get("processed_at")
    if captured is None or now - captured > stall_s:
        return "idle"
    if processed is None:
        return "ok" if grace_until is not None and now <= grace_until else "stalled"
    return "stalled" if captured - processed > stall_s else "ok"


@dataclass(frozen=True)
class Today:
    """Closed sessions (and passers-by) since local midnight; the measures are defined in
    :mod:`affectra_edge.measures` (None where there is nothing to measure yet)."""

    visitors: int
    avg_dwell_s: float
    dominant: str | None
    emotions: Mapping[str, float] = field(default_factory=dict)
    median_dwell_s: float = 0.0
    passers_by: int = 0
    attraction_power: float | None = None
    holding_power: float | None = None
    valence: float | None = None
    arousal: float | None = None

    def measures(self) -> dict[str, Any]:
        """The visitor-studies figures, as the dashboard and the MQTT summary name them."""
        return {
            "median_dwell_s": self.median_dwell_s,
            "passers_by": self.passers_by,
            "attraction_power": self.attraction_power,
            "holding_power": self.holding_power,
            "valence": self.valence,
            "arousal": self.arousal,
        }


class FigureStore(Protocol):
    def summary(self, start: float, end: float) -> dict[str, Any]: ...
    def count_sessions(self) -> int: ...


class MqttState(Protocol):
    @property
    def state(self) -> str: ...
    def status(self) -> dict[str, Any]: ...


class ReadCache:
    """``fn()`` at most once per ``ttl_s`` per key. When an entry expires under load one thread
    recomputes it and the others wait for its result (single flight) instead of all querying
    the store at once. Re-entrant: a cached computation may read other cached entries."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._compute = threading.RLock()
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    def _fresh(self, key: Hashable) -> tuple[float, Any] | None:
        with self._lock:
            hit = self._entries.get(key)
        return hit if hit is not None and self._clock() - hit[0] < self.ttl_s else None

    def get(self, key: Hashable, fn: Callable[[], T]) -> T:
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]
        with self._compute:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]
            value = fn()
            at = self._clock()
        with self._lock:
            if len(self._entries) > 256:
                self._entries.clear()
            self._entries[key] = (at, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _Rate:
    """Frames per second over a sliding window of wall time."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            while self._times and now - self._times[0] > self.window_s:
                self._times.popleft()

    def rate(self, now: float) -> float:
        with self._lock:
            while self._times and now - self._times[0] > self.window_s:
                self._times.popleft()
            if len(self._times) < 2:
                return 0.0
            # Over less than a second, two frames that happen to arrive close together
            # (the first inference is slow, the next frame is already waiting) would read as
            # a wild rate; count at least one second instead.
            span = max(now - self._times[0], 1.0)
            return (len(self._times) - 1) / span


class LiveFigures:
    def __init__(
        self,
        capture: CaptureRunner,
        store: FigureStore | None,
        registry: Registry,
        *,
        clock: Callable[[], float] = time.monotonic,
        expected_dwell_s: Callable[[], float] = lambda: DeviceConfig.expected_dwell_s,
    ):
        self.capture = capture
        self.store = store
        #: ``[device] expected_dwell_s``, read at each use (holding power's denominator)
        self.expected_dwell_s = expected_dwell_s
        self._cache = ReadCache(clock=clock)
        self._clock = clock
        self._mqtt: MqttState | None = None
        self._rate = _Rate()
        self.started = time.time()
        self.started_mono = clock()
        self.processed_at: float | None = None
        self._faces_now = 0
        self._viewers_now = 0
        self._inference_ms = 0.0
        r = registry
        self._m_frames = r.counter("frames_processed_total", "frames through the pipeline")
        self._m_faces = r.counter("faces_detected_total", "face detections")
        self._m_sessions = r.counter("sessions_total", "viewer sessions ended")
        self._m_errors = r.counter("pipeline_errors_total", "frames the pipeline failed on")
        self._m_stage = r.histogram(
            "stage_seconds", "seconds per pipeline stage and frame", labels=("stage",)
        )
        self._m_inference = r.histogram("inference_seconds", "detect + classify seconds per frame")
        r.gauge("fps", "frames processed per second", fn=lambda: self._rate.rate(clock()))
        r.gauge("faces", "faces in the last frame", fn=lambda: self._faces_now)
        r.gauge("viewers_now", "viewers in front of the artwork now", fn=lambda: self._viewers_now)
        # The runner replaces its counters on a camera switch: read them through it each time.
        for metric, counter, help_text in (
            ("source_frames", "frames", "frames captured by the source"),
            ("dropped_frames", "dropped", "frames dropped because the pipeline was busy"),
            ("corrupt_frames", "corrupt", "corrupt frames skipped"),
            ("source_reconnects", "reconnects", "camera reconnects"),
        ):
            r.counter_fn(metric, help_text, partial(self._source_count, counter))

    def _source_count(self, name: str) -> int:
        return self.capture.counters.as_dict()[name]

    def attach_mqtt(self, publisher: MqttState) -> None:
        self._mqtt = publisher

    # ---- written by the pipeline thread ----------------------------------------------------
    def frame_done(self, result: FrameResult, viewers_now: int) -> None:
        self.processed_at = self._clock()
        self._rate.tick(self.processed_at)
        visible = sum(1 for f in result.faces if f.visible)
        self._faces_now = visible
        self._viewers_now = viewers_now
        stage = result.stage_ms
        self._inference_ms = stage.get("detect", 0.0) + stage.get("classify", 0.0)
        for name, ms in stage.items():
            self._m_stage.observe(ms / 1000.0, stage=name)
        self._m_inference.observe(self._inference_ms / 1000.0)
        self._m_frames.inc()
        self._m_faces.inc(visible)

    def frame_failed(self) -> None:
        self._m_errors.inc()

    def session_ended(self) -> None:
        self._m_sessions.inc()

    # ---- read by everybody else ------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {
            "fps": round(self._rate.rate(self._clock()), 2),
            "inference_ms": round(self._inference_ms, 2),
            "faces": self._faces_now,
            "viewers_now": self._viewers_now,
            "frames": int(self._m_frames.value()),
            "sessions": int(self._m_sessions.value()),
        }

    def today(self, now: float | None = None) -> Today | None:
        """Today's closed sessions from the store (None without one)."""
        if self.store is None:
            return None
        now = time.time() if now is None else now
        s = self.store.summary(local_day_start(now), now)
        return Today(
            s["visitors"],
            s["avg_dwell_s"],
            s["dominant"],
            s["emotions"],
            median_dwell_s=s.get("median_dwell_s", 0.0),
            passers_by=s.get("passers_by", 0),
            attraction_power=s.get("attraction_power"),
            holding_power=holding_power(s["avg_dwell_s"], self.expected_dwell_s()),
            valence=s.get("valence"),
            arousal=s.get("arousal"),
        )

    def summary(self) -> dict[str, Any]:
        """Today's figures and the live state for the retained MQTT summary (never cached: a
        session that just ended must show up in the summary its end triggers)."""
        today = self.today() or Today(0, 0.0, None, {})
        stats = self.stats()
        return {
            "visitors_today": today.visitors,
            "avg_dwell_s": today.avg_dwell_s,
            "dominant": today.dominant,
            "emotions": today.emotions,
            "viewers_now": stats["viewers_now"],
            "fps": stats["fps"],
            **today.measures(),
            "expected_dwell_s": self.expected_dwell_s(),
        }

    def now(self) -> dict[str, Any]:
        """The dashboard's figures (also its server-sent events and ``/api/status``)."""
        return self._cache.get(("figures",), self._now)

    def _now(self) -> dict[str, Any]:
        stats = self.stats()
        today = self.today()
        total = None
        if self.store is not None:
            try:
                total = int(self.store.count_sessions())
            except Exception:
                logger.exception("counting sessions failed")
        if total is None:
            total = int(stats["sessions"] or 0)
        if today is None:  # no store: what this run has counted
            today = Today(int(stats["sessions"] or 0), 0.0, None, {})
        return {
            "time": iso_utc(time.time()),
            "visitors_today": int(today.visitors or 0),
            "visitors_total": total,
            "viewers_now": int(stats["viewers_now"] or 0),
            "avg_dwell_s": round(float(today.avg_dwell_s or 0.0), 1),
            "dominant": today.dominant,
            "emotions": {e: float((today.emotions or {}).get(e) or 0.0) for e in EMOTIONS},
            **today.measures(),
            "expected_dwell_s": self.expected_dwell_s(),
            "fps": stats["fps"],
            "inference_ms": stats["inference_ms"],
            "faces": stats["faces"],
            "camera": self.capture.status().get("state"),
        }

    def progress(self) -> dict[str, Any]:
        """Is anything moving? For systemd's watchdog and ``STATUS=`` and for ``/healthz``."""
        cap = self.capture
        return {
            "captured_at": cap.last_frame_at,
            "processed_at": self.processed_at,
            "state": cap.state,
            "state_age_s": self._clock() - cap.state_since,
            "error": cap.error,
            "fps": self.stats()["fps"],
            "viewers": self._viewers_now,
            "mqtt": self._mqtt.state if self._mqtt is not None else "disabled",
        }

    def stalled(self) -> bool:
        """``/healthz``'s verdict: frames arrive but none got through for 30 s."""
        grace = self.started_mono + STARTUP_GRACE_S
        health = pipeline_health(self.progress(), self._clock(), HEALTHZ_STALL_S, grace_until=grace)
        return health == "stalled"

    def mqtt_status(self) -> dict[str, Any]:
        return self._mqtt.status() if self._mqtt is not None else {"state": "disabled"}

    def uptime_s(self) -> float:
        return round(time.time() - self.started, 1)

    def cached(self, key: Hashable, fn: Callable[[], T]) -> T:
        """A read for display, shared by every client for :data:`CACHE_TTL_S`."""
        return self._cache.get(key, fn)

    def invalidate(self, *_: object) -> None:
        """Forget cached figures (after a settings change, a camera switch, deleting data)."""
        self._cache.clear()
