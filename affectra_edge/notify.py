"""sd_notify for systemd's ``Type=notify`` and its watchdog.

:class:`Notifier` speaks the notification protocol: through ``systemd.daemon.notify`` when
systemd-python is installed, otherwise by sending the datagram to ``$NOTIFY_SOCKET`` itself
(the protocol is one ``KEY=VALUE`` per line in a single AF_UNIX datagram; a leading ``@``
names a socket in the abstract namespace). Without ``$NOTIFY_SOCKET`` (not started by
systemd) every call is a no-op.

:class:`Watchdog` decides *when* to say ``READY=1`` and ``WATCHDOG=1``. The point of the
watchdog is that a hung capture or inference thread gets the daemon restarted, so it pets only
while frames are captured *and* processed; a camera the capture thread itself has declared lost
and is busy reconnecting to is not a hang (a restart would not bring a switched-off ESP32-CAM
back, and a restart loop would only trip the unit's start limit and leave the box dead).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from affectra_edge.config import CameraConfig
from affectra_edge.figures import pipeline_health

logger = logging.getLogger(__name__)

#: capture states that mean "the runner noticed the camera is gone and is reconnecting"
RECONNECTING_STATES = ("lost", "connecting")
#: states in which the daemon is as ready as it will get without a camera
CLEAR_ERROR_STATES = ("error", "lost")


def _systemd_notify() -> Callable[[str], bool] | None:
    try:
        from systemd import daemon
    except ImportError:
        return None
    return daemon.notify


class Notifier:
    """Sends sd_notify messages; never raises (a notification failure must not stop the box)."""

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        backend: str = "socket",
        sender: Callable[[str], bool] | None = None,
    ):
        self.address = address or None
        self.enabled = self.address is not None
        self.backend = backend if self.enabled else "none"
        self.watchdog_interval_s: float | None = (
            watchdog_usec / 2e6 if self.enabled and watchdog_usec else None
        )
        self._sender = sender
        self._sock: socket.socket | None = None
        self._lock = threading.RLock()
        self._warned = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, prefer_systemd: bool = True
    ) -> Notifier:
        """From ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC", "")
        if raw:
            try:
                usec = int(raw)
            except ValueError:
                logger.warning("ignoring WATCHDOG_USEC=%r: not an integer", raw)
            # The watchdog is meant for WATCHDOG_PID only (sd_watchdog_enabled does the same).
            pid = env.get("WATCHDOG_PID", "")
            if pid and pid != str(os.getpid()):
                usec = None
            if usec is not None and usec <= 0:
                usec = None
        # systemd-python reads the process environment, so use it only when that is ours.
        sender = _systemd_notify() if prefer_systemd and environ is None else None
        if address is not None and address.startswith("vsock:") and sender is None:
            logger.warning("NOTIFY_SOCKET=%s: vsock needs systemd-python; not notifying", address)
            address = None
        return cls(
            address,
            watchdog_usec=usec,
            backend="systemd" if sender is not None else "socket",
            sender=sender,
        )

    # ---- the messages ----------------------------------------------------------------------
    def ready(self) -> None:
        self.send(READY=1)

    def status(self, text: str) -> None:
        self.send(STATUS=text)

    def watchdog(self) -> None:
        self.send(WATCHDOG=1)

    def stopping(self) -> None:
        self.send(STOPPING=1)

    def send(self, **fields: Any) -> bool:
        """One datagram with every field; True when it was handed to the socket."""
        if not self.enabled or not fields:
            return False
        # A value may not span lines: the protocol is one assignment per line.
        text = "\n".join(f"{k}={' '.join(str(v).splitlines())}" for k, v in fields.items())
        try:
            if self._sender is not None:
                ok = bool(self._sender(text))
            else:
                ok = self._send_datagram(text.encode("utf-8"))
        except Exception as exc:
            ok = False
            self._warn(f"{type(exc).__name__}: {exc}")
        else:
            if not ok:
                self._warn("sd_notify returned false")
        return ok

    def _send_datagram(self, data: bytes) -> bool:
        assert self.address is not None
        addr = self.address
        if addr.startswith("@"):  # abstract namespace: a leading NUL instead of '@'
            addr = "\0" + addr[1:]
        with self._lock:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(data, addr)
        return True

    def _warn(self, why: str) -> None:
        # Once: systemd going away during shutdown would otherwise log every few seconds.
        if not self._warned:
            self._warned = True
            logger.warning("cannot notify systemd at %s: %s", self.address, why)

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def describe(progress: Mapping[str, Any]) -> str:
    """The STATUS= line: what ``systemctl status`` shows under the unit."""
    state = progress.get("state") or "?"
    viewers = int(progress.get("viewers") or 0)
    parts = [
        f"camera {state}",
        f"{float(progress.get('fps') or 0.0):.1f} fps",
        f"{viewers} viewer{'' if viewers == 1 else 's'}",
        f"MQTT {progress.get('mqtt') or 'disabled'}",
    ]
    if state in ("error", "lost") and progress.get("error"):
        # lost: unplugged or down, tried again with backoff; error: cannot work as configured
        retrying = ", retrying" if state == "lost" else ""
        parts[0] = f"camera {state}{retrying}: {progress['error']}"
    return ", ".join(parts)


class Watchdog:
    """A thread that says READY=1 once, then WATCHDOG=1 + STATUS= while the pipeline moves.

    ``progress_fn()`` returns ``captured_at`` / ``processed_at`` (monotonic, or None before the
    first frame), the capture ``state`` and optionally ``state_age_s`` (seconds in that state),
    ``error``, ``fps``, ``viewers``, ``mqtt``. Healthy means a frame was captured within
    ``stall_s`` and the pipeline is not lagging behind capture by more than ``stall_s`` (the
    stall rule of :func:`affectra_edge.figures.pipeline_health`, shared with ``/healthz``); or the
    capture thread reports a lost camera and is visibly cycling through its reconnect attempts
    (its state changed within ``reconnect_grace_s``).
    """

    def __init__(
        self,
        notifier: Notifier,
        progress_fn: Callable[[], Mapping[str, Any]],
        *,
        stall_s: float,
        clock: Callable[[], float] = time.monotonic,
        reconnect_grace_s: float | None = None,
        status_interval_s: float = 5.0,
        ready_poll_s: float = 0.1,
    ):
        self.notifier = notifier
        self.progress_fn = progress_fn
        self.stall_s = float(stall_s)
        self.clock = clock
        self.reconnect_grace_s = reconnect_grace_s
        self.interval_s = notifier.watchdog_interval_s or status_interval_s
        self.ready_poll_s = ready_poll_s
        self.ready_sent = False
        self.pets = 0
        self.last_status = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the decision (pure, so it can be tested without a thread) ------------------------
    def healthy(self, p: Mapping[str, Any]) -> bool:
        health = pipeline_health(p, self.clock(), self.stall_s)
        if health != "idle":
            # Frames arrive; inference must keep up with them.
            return health == "ok"
        state = p.get("state")
        age = p.get("state_age_s")
        if self.reconnect_grace_s is not None and state in RECONNECTING_STATES and age is not None:
            return float(age) <= self.reconnect_grace_s
        return False

    def is_ready(self, p: Mapping[str, Any]) -> bool:
        return p.get("processed_at") is not None or p.get("state") in CLEAR_ERROR_STATES

    def tick(self) -> None:
        """One round: READY once, then WATCHDOG=1 when healthy, STATUS= always."""
        try:
            p = self.progress_fn()
        except Exception:
            logger.exception("watchdog: reading progress failed")
            return
        status = describe(p)
        if not self.ready_sent:
            if not self.is_ready(p):
                return
            self.ready_sent = True
            self.notifier.send(READY=1, STATUS=status)
            self.last_status = status
            logger.info("ready: %s", status)
            return
        if self.healthy(p):
            self.pets += 1
            self.notifier.send(WATCHDOG=1, STATUS=status)
        else:
            logger.warning(
                "watchdog: no progress for %.1f s (%s); not petting", self.stall_s, status
            )
            self.notifier.send(STATUS=f"stalled: {status}")
        self.last_status = status

    # ---- the thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval_s if self.ready_sent else self.ready_poll_s)


def stall_seconds(notifier: Notifier, fps: float) -> float:
    """How long without progress counts as a hang: half of WatchdogSec (the petting interval),
    but never less than three frame intervals of a slow camera or two seconds."""
    base = notifier.watchdog_interval_s or 15.0
    return max(base, 3.0 / max(fps, 0.1), 2.0)


class Supervision:
    """What ``serve()`` wires up: a Notifier and a Watchdog over the appliance's progress
    (:meth:`affectra_edge.figures.LiveFigures.progress`)."""

    def __init__(
        self,
        progress_fn: Callable[[], Mapping[str, Any]],
        camera: CameraConfig,
        notifier: Notifier | None = None,
    ):
        self.notifier = notifier or Notifier.from_env()
        self.watchdog = Watchdog(
            self.notifier,
            progress_fn,
            stall_s=stall_seconds(self.notifier, camera.fps),
            # a lost camera: one read timeout plus the longest backoff between attempts
            reconnect_grace_s=camera.timeout_s + camera.reconnect_max_s + 5.0,
        )
        self._stopping = False

    def starting(self, text: str = "starting") -> None:
        self.notifier.status(text)

    def start(self) -> None:
        if self.notifier.enabled:
            logger.info(
                "systemd notification via %s (watchdog %s)",
                self.notifier.backend,
                "off"
                if self.notifier.watchdog_interval_s is None
                else f"every {self.notifier.watchdog_interval_s:.1f} s",
            )
        self.watchdog.start()

    def stopping(self) -> None:
        """STOPPING=1 as soon as shutdown begins (safe to call from a signal handler)."""
        if not self._stopping:
            self._stopping = True
            self.notifier.send(STOPPING=1, STATUS="stopping: flushing sessions")

    def close(self) -> None:
        self.watchdog.stop()
        self.notifier.close()
