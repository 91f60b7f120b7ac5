"""Notifier over a real datagram socket (plain protocol and systemd-python), Watchdog decisions."""

from __future__ import annotations

import importlib.util
import os
import time
import uuid

import pytest

from affectra_edge.notify import Notifier, Watchdog, describe, stall_seconds

HAVE_SYSTEMD_PYTHON = importlib.util.find_spec("systemd") is not None and (
    importlib.util.find_spec("systemd.daemon") is not None
)


def test_no_socket_means_disabled_and_silent():
    n = Notifier.from_env({})
    assert not n.enabled
    assert n.watchdog_interval_s is None
    assert n.send(READY=1) is False  # no-op, no exception


def test_plain_protocol_delivers_fields(notify_socket):
    n = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address}, prefer_systemd=False)
    assert n.enabled and n.backend == "socket"
    n.ready()
    n.status("streaming\n9.5 fps")  # a newline must not break the one-line-per-field format
    n.watchdog()
    n.stopping()
    assert n.send(RELOADING=1, STATUS="x")
    notify_socket.wait_for("RELOADING", "1")
    got = [m for _, m in notify_socket.messages]
    assert got[0] == {"READY": "1"}
    assert got[1] == {"STATUS": "streaming 9.5 fps"}
    assert got[2] == {"WATCHDOG": "1"}
    assert got[3] == {"STOPPING": "1"}
    assert got[4] == {"RELOADING": "1", "STATUS": "x"}
    n.close()


def test_abstract_namespace_socket():
    from tests.appliance.conftest import NotifyListener

    listener = NotifyListener(f"@affectra-test-{uuid.uuid4().hex}")
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": listener.address}, prefer_systemd=False)
        n.ready()
        _, msg = listener.wait_for("READY", timeout=5)
        assert msg == {"READY": "1"}
    finally:
        listener.close()


def test_watchdog_usec_and_pid():
    env = {"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "3000000"}
    assert Notifier.from_env(env).watchdog_interval_s == pytest.approx(1.5)
    # WATCHDOG_PID naming another process: the watchdog is not ours (sd_watchdog_enabled).
    other = dict(env, WATCHDOG_PID=str(os.getpid() + 1))
    assert Notifier.from_env(other).watchdog_interval_s is None
    mine = dict(env, WATCHDOG_PID=str(os.getpid()))
    assert Notifier.from_env(mine).watchdog_interval_s == pytest.approx(1.5)
    assert Notifier.from_env(dict(env, WATCHDOG_USEC="soon")).watchdog_interval_s is None
    # without a socket nothing is enabled, watchdog included
    assert Notifier.from_env({"WATCHDOG_USEC": "3000000"}).watchdog_interval_s is None


def test_unreachable_socket_does_not_raise(tmp_path, caplog):
    n = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")}, prefer_systemd=False)
    assert n.send(READY=1) is False
    assert n.send(WATCHDOG=1) is False
    warnings = [r for r in caplog.records if "cannot notify systemd" in r.getMessage()]
    assert len(warnings) == 1  # said once, not on every watchdog tick


@pytest.mark.skipif(not HAVE_SYSTEMD_PYTHON, reason="systemd-python is not installed")
def test_systemd_python_backend(notify_socket, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    n = Notifier.from_env()
    assert n.backend == "systemd"
    assert n.watchdog_interval_s == pytest.approx(2.0)
    assert n.send(READY=1, STATUS="first frame")
    _, msg = notify_socket.wait_for("READY", timeout=5)
    assert msg == {"READY": "1", "STATUS": "first frame"}
    n.watchdog()
    notify_socket.wait_for("WATCHDOG", "1", timeout=5)


# ---- Watchdog decisions (a fake clock: the decision is a pure function of progress) --------
class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _wd(notifier=None, **kw):
    clock = Clock()
    n = notifier or Notifier(None)
    return Watchdog(n, lambda: {}, stall_s=5.0, clock=clock, **kw), clock


def test_healthy_only_when_capture_and_inference_progress():
    wd, clock = _wd()
    now = clock.t
    assert wd.healthy({"captured_at": now - 1, "processed_at": now - 1, "state": "streaming"})
    # capture stalled: the last frame is older than stall_s
    assert not wd.healthy({"captured_at": now - 6, "processed_at": now - 6, "state": "streaming"})
    # inference stalled: frames arrive but the pipeline is stuck on an old one
    assert not wd.healthy({"captured_at": now - 0.1, "processed_at": now - 8, "state": "streaming"})
    assert not wd.healthy({"captured_at": now - 0.1, "processed_at": None, "state": "streaming"})
    # nothing ever captured
    assert not wd.healthy({"captured_at": None, "processed_at": None, "state": "connecting"})


def test_lost_camera_being_reconnected_is_not_a_hang():
    wd, clock = _wd(reconnect_grace_s=45.0)
    old = clock.t - 100
    p = {"captured_at": old, "processed_at": old, "state": "lost", "state_age_s": 3.0}
    assert wd.healthy(p)
    # the capture thread stopped cycling (stuck in one state far too long): a hang
    assert not wd.healthy(dict(p, state_age_s=60.0))
    # a read that never returns while "streaming" is a hang however young the state
    assert not wd.healthy(dict(p, state="streaming", state_age_s=1.0))
    # without a grace period (the default) only frames count
    wd2, _ = _wd()
    assert not wd2.healthy(p)


def test_ready_after_first_frame_or_clear_error(notify_socket):
    n = Notifier(notify_socket.address)
    state = {"captured_at": None, "processed_at": None, "state": "connecting", "fps": 0.0}
    wd = Watchdog(n, lambda: dict(state), stall_s=5.0)
    wd.tick()
    assert not wd.ready_sent  # connecting, nothing processed: not ready yet
    state.update(
        captured_at=wd.clock(),
        processed_at=wd.clock(),
        state="streaming",
        fps=9.96,
        viewers=2,
        mqtt="connected",
    )
    wd.tick()
    assert wd.ready_sent
    _, msg = notify_socket.wait_for("READY", timeout=5)
    assert msg["STATUS"] == "camera streaming, 10.0 fps, 2 viewers, MQTT connected"
    wd.tick()  # healthy → WATCHDOG=1 with a status
    _, msg = notify_socket.wait_for("WATCHDOG", timeout=5)
    assert "10.0 fps" in msg["STATUS"]
    assert wd.pets == 1

    n2 = Notifier(notify_socket.address)
    err = {
        "captured_at": None,
        "processed_at": None,
        "state": "error",
        "error": "/dev/video7: no such device",
    }
    wd2 = Watchdog(n2, lambda: err, stall_s=5.0)
    since = time.monotonic()
    wd2.tick()
    assert wd2.ready_sent
    # the datagram is read by the listener's thread: wait for it rather than race it
    _, msg = notify_socket.wait_for("READY", timeout=5, since=since)
    assert msg["STATUS"].startswith("camera error: /dev/video7: no such device")
    wd2.tick()  # an error state never pets
    assert wd2.pets == 0


def test_describe_and_stall_seconds():
    # lost (unplugged, switched off) is retried and says so; error is for good
    assert describe({"state": "lost", "error": "timed out", "fps": 0, "viewers": 1}) == (
        "camera lost, retrying: timed out, 0.0 fps, 1 viewer, MQTT disabled"
    )
    assert describe({"state": "error", "error": "/x.mp4: corrupt", "mqtt": "connected"}) == (
        "camera error: /x.mp4: corrupt, 0.0 fps, 0 viewers, MQTT connected"
    )
    assert stall_seconds(Notifier("/x", watchdog_usec=30_000_000), fps=15) == 15.0
    assert stall_seconds(Notifier("/x", watchdog_usec=1_000_000), fps=15) == 2.0
    assert stall_seconds(Notifier("/x", watchdog_usec=4_000_000), fps=0.5) == 6.0
