"""Fixtures for the appliance tests: a real sd_notify datagram socket, as systemd binds it."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class NotifyListener:
    """An AF_UNIX SOCK_DGRAM socket that collects sd_notify messages (in a thread)."""

    def __init__(self, address: str | Path):
        self.address = str(address)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bind_to = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        self.sock.bind(bind_to)
        self.sock.settimeout(0.2)
        #: (monotonic arrival time, {key: value}) per datagram
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self._cond:
                self.messages.append((time.monotonic(), fields))
                self._cond.notify_all()

    def with_key(self, key: str, value: str | None = None, since: float = 0.0):
        with self._cond:
            return [
                (t, m)
                for t, m in self.messages
                if t >= since and key in m and (value is None or m[key] == value)
            ]

    def wait_for(
        self, key: str, value: str | None = None, *, timeout: float = 30.0, since: float = 0.0
    ):
        """The first message carrying ``key`` (= ``value``) after ``since``; fails on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [
                    (t, m)
                    for t, m in self.messages
                    if t >= since and key in m and (value is None or m[key] == value)
                ]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m for _, m in self.messages][-5:]
                    raise AssertionError(
                        f"no {key}={value or '*'} within {timeout} s; last: {seen}"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)


@pytest.fixture
def notify_socket():
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer.
    d = Path(tempfile.mkdtemp(prefix="sdn-"))
    listener = NotifyListener(d / "notify")
    yield listener
    listener.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def repo() -> Path:
    return REPO
