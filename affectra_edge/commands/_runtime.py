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
    """Run ``app`` until SIGTERM/SIGINT, ``duration`` seconds, or the end of a file source."""
    stop = threading.Event()

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
            stop.wait(0.2)
    finally:
        supervision.stopping()
        supervision.close()
        app.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0
