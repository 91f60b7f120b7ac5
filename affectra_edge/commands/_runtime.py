"""What ``run`` and ``demo`` share: start the appliance, wait for a signal, stop cleanly."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from affectra_edge.app import Appliance

logger = logging.getLogger(__name__)


def serve(
    app: Appliance,
    *,
    duration: float | None = None,
    on_started: Callable[[Appliance], None] | None = None,
) -> int:
    """Run ``app`` until SIGTERM/SIGINT, ``duration`` seconds, or the end of a file source.

    A camera that can never work as configured (:class:`SourceUnavailable` before its first
    frame: a corrupt video, a path that is not a camera) stops the appliance cleanly — store
    flushed, MQTT ``offline`` — and raises, so the daemon exits 5 instead of waiting for a
    watchdog kill. A camera that is unplugged or down is retried and never ends the run."""
    from affectra_edge.ports import SourceUnavailable

    stop = threading.Event()
    unusable: SourceUnavailable | None = None

    def _signal(signum, _frame):
        logger.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    from affectra_edge.notify import Supervision

    # sd_notify: READY=1 after the first frame, WATCHDOG=1 while frames flow (no-op outside
    # systemd).
    supervision = Supervision(app.figures.progress, app.config.camera)
    previous = {s: signal.signal(s, _signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        supervision.starting("starting: opening the camera")
        app.start()
        supervision.start()
        if on_started is not None:
            on_started(app)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if app.wait(0):  # the pipeline ended: a file without loop = true
                logger.info("source finished")
                break
            if app.capture.unusable:
                camera = app.capture.camera.type
                unusable = SourceUnavailable(f"camera {camera}: {app.capture.unusable}")
                logger.info("stopping: the camera cannot work as configured (nor after a restart)")
                break
            stop.wait(0.2)
    finally:
        supervision.stopping()
        supervision.close()
        app.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    if unusable is not None:
        raise unusable
    return 0
