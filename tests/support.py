"""Plain helpers for tests of every area (import as ``from tests.support import ...``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable

PYTHON = sys.executable


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float | None = 120, **kwargs
) -> subprocess.CompletedProcess[str]:
    """``python -m affectra_edge ARGS`` as a real child process, its output captured as text."""
    return subprocess.run(
        [PYTHON, "-m", "affectra_edge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        **kwargs,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy; return its value or raise after ``timeout``.

    A bound on waiting, not a speed assertion: the timeout is generous on purpose.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
