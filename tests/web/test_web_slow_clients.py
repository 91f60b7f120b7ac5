"""Slow clients cannot silence the web UI, and a request that never ends cannot stop the
server from stopping (hostile-input review, defects 3–4). Real sockets, a real cheroot server.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import bottle
import requests

from affectra_edge.config import WebConfig
from affectra_edge.webui import WebServer
from tests.support import wait_for


def _slowloris(
    port: int, n: int, stop: threading.Event, closed: list[int], ready: threading.Event
) -> None:
    """``n`` connections from 127.0.0.2 that send a request line, then one header line
    every 0.5 s (each well inside the server's per-recv timeout), until ``stop``."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)
        )
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    ready.set()
    while not stop.wait(0.5):
        for s in list(socks):
            try:
                s.sendall(b"X-a: b\r\n")
            except OSError:
                socks.remove(s)
                closed[0] += 1
    for s in socks:
        s.close()


def _server(threads: int, **guard) -> tuple[WebServer, bottle.Bottle]:
    app = bottle.Bottle()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    cfg = replace(WebConfig(), host="127.0.0.1", port=0, threads=threads)
    server = WebServer(app, cfg)
    for k, v in guard.items():
        setattr(server.guard, k, v)
    server.start()
    return server, app


def test_forty_slow_clients_leave_healthz_answering():
    """40 connections trickling headers from one address used to hold every worker, and
    /healthz from anywhere timed out; now that address gets a quarter of the workers."""
    server, _ = _server(threads=8)
    stop, closed, ready = threading.Event(), [0], threading.Event()
    attack = threading.Thread(target=_slowloris, args=(server.port, 40, stop, closed, ready))
    attack.start()
    try:
        # all 40 are connected and trickling, and have been for a while, before we ask
        assert ready.wait(30)
        time.sleep(3)
        for _ in range(5):
            r = requests.get(server.url + "/healthz", timeout=5)
            assert r.status_code == 200 and r.json() == {"status": "ok"}
            time.sleep(0.3)
        # the ones over the share were closed by the server, not left waiting
        wait_for(lambda: closed[0] >= 40 - 8 // 4, timeout=30)
    finally:
        stop.set()
        attack.join(30)
        server.stop()


def test_headers_that_never_finish_are_cut_off_at_the_deadline():
    """One client, under its share, trickling headers for ever: closed at the header
    deadline (it used to be held as long as it kept trickling)."""
    server, _ = _server(threads=8, header_timeout_s=1.5)
    stop, closed, ready = threading.Event(), [0], threading.Event()
    attack = threading.Thread(target=_slowloris, args=(server.port, 1, stop, closed, ready))
    attack.start()
    try:
        wait_for(lambda: closed[0] == 1, timeout=30)
    finally:
        stop.set()
        attack.join(30)
        server.stop()


def test_a_body_that_trickles_is_cut_off_but_a_busy_app_is_not():
    """The body's budget counts only the time spent waiting for the client: a body sent a
    byte at a time is closed, while a request the app is slow to read (it waits its turn) is
    answered."""
    server, app = _server(threads=8, header_timeout_s=1.0, min_body_rate=1000.0)
    gate = threading.Event()

    @app.post("/slow-app")
    def slow_app():
        gate.wait(3)  # longer than the whole budget, before the body is read
        return bottle.request.body.read()

    try:
        # the app waits 3 s before reading; the client sent everything at once
        r = requests.post(server.url + "/slow-app", data=b"x" * 1000, timeout=30)
        assert r.status_code == 200 and r.content == b"x" * 1000
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"POST /slow-app HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        gate.set()
        s.settimeout(0.2)
        closed_by_server = False
        for _ in range(100):  # one byte every 0.2 s: 200 s for the body
            try:
                s.sendall(b"y")
                if s.recv(100) == b"":
                    closed_by_server = True
                    break
            except TimeoutError:
                continue  # nothing from the server yet: it is still waiting for the body
            except OSError:  # reset
                closed_by_server = True
                break
        s.close()
        assert closed_by_server
    finally:
        server.stop()


def test_stop_returns_while_a_request_is_still_running():
    """A request that never finishes (a picture being decoded) used to make stop() wait for
    ever (cheroot joins its workers without a limit after their grace time); and the worker
    is a daemon thread, so it cannot keep the process alive at exit either."""
    entered, release = threading.Event(), threading.Event()
    server, app = _server(threads=4)

    @app.get("/busy")
    def busy():
        entered.set()
        while not release.is_set():  # CPU-bound and deaf to the socket, like cv2.imdecode
            sum(range(10_000))
        return "done"

    client = threading.Thread(
        target=lambda: requests.get(server.url + "/busy", timeout=60), daemon=True
    )
    client.start()
    try:
        assert entered.wait(20)
        workers = [t for t in threading.enumerate() if t.name.startswith("CP Server")]
        assert workers and all(t.daemon for t in workers)
        stopper = threading.Thread(target=server.stop, kwargs={"timeout": 1.0})
        stopper.start()
        stopper.join(30)
        assert not stopper.is_alive(), "stop() is still waiting for the busy request"
    finally:
        release.set()
