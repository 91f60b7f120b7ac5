"""Soak: the real daemon for a long time under everything at once, and whether it stays flat.

The daemon (``affectra-edge run``, a child process) plays a looping clip as fast as it can,
with MQTT to a real mosquitto and its web UI busy: four logged-in pollers on eight endpoints,
one server-sent-events client and one MJPEG client. Every ``--broker-restart-min`` the broker
is restarted; every ``--kill-every-min`` the daemon is stopped, alternately with SIGKILL and
SIGTERM (the SIGTERM stop is timed), and started again.

Printed: RSS / threads / file descriptors of the daemon over time, the RSS slope in MB/h after
``--warmup-min`` of each run of the daemon, web requests and errors, and at the end sessions
recorded (in the database) vs published (received by a persistent QoS 1 subscriber, after
de-duplication by id) vs expected (the pipeline's own count of ended sessions, read from
``/metrics`` shortly before each stop: a lower bound). Asserts nothing.

    .venv/bin/python bench/soak.py [--minutes 20] [--clip FILE] [--kill-every-min 7]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import DATA_DIR
from tests.mqtt.conftest import Broker, Subscriber
from tests.support import free_port

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
CLI = (PY, "-m", "affectra_edge")
DEVICE = "soak-1"
PREFIX = f"affectra/{DEVICE}"
POLL_PATHS = (
    "/",
    "/api/status",
    "/api/sessions?limit=50",
    "/chart.svg",
    "/api/stats",
    "/metrics",
    "/live",
    "/api/settings",
)


@dataclass
class Sample:
    t_s: float  # since the soak started
    run: int  # which start of the daemon
    up_s: float  # since this start
    rss_mb: float
    threads: int
    fds: int
    cpu_s: float


@dataclass
class Run:
    index: int
    pid: int
    started: float
    ended_sessions: int = 0  # the pipeline's count, last read from /metrics
    stop: str = ""
    stop_s: float | None = None


@dataclass
class Web:
    requests: int = 0
    errors: int = 0
    #: errors while the daemon was up and had been for more than a few seconds
    errors_up: int = 0
    latencies: list[float] = field(default_factory=list)


class Daemon:
    """The daemon under test: started, killed or stopped, and restarted."""

    def __init__(self, config: Path, log: Path, url: str, env: dict[str, str]):
        self.config, self.log, self.url, self.env = config, log, url, env
        self.proc: subprocess.Popen | None = None
        self.up = threading.Event()
        self.up_since = 0.0
        self.runs: list[Run] = []

    def start(self) -> Run:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*CLI, "run", "--config", str(self.config)],
                cwd=REPO,
                stdout=log,
                stderr=log,
                env=self.env,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}; see {self.log}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"daemon not answering /healthz after 120 s; see {self.log}")
        run = Run(len(self.runs), self.proc.pid, time.monotonic())
        self.runs.append(run)
        self.up_since = time.monotonic()
        self.up.set()
        return run

    def stop(self, how: str) -> None:
        assert self.proc is not None
        self.up.clear()
        run = self.runs[-1]
        run.stop = how
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            run.stop = f"{how} (still alive after 60 s: SIGKILLed)"
        if how != "SIGKILL":
            run.stop_s = time.monotonic() - t0
        self.proc = None


def proc_stat(pid: int) -> tuple[float, int, int, float] | None:
    """(RSS MB, threads, fds, CPU s) of ``pid`` from /proc, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    vals = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = int(vals["VmRSS"].split()[0]) / 1024
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, int(vals["Threads"]), fds, cpu


def login(base: str, user: str, password: str) -> requests.Session:
    s = requests.Session()
    page = s.get(base + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no login form"
    r = s.post(
        base + "/login",
        data={"username": user, "password": password, "csrf_token": token[1], "next": "/"},
        allow_redirects=False,
        timeout=30,
    )
    if r.status_code != 303:
        raise RuntimeError(f"login failed: {r.status_code}")
    # the session's CSRF token, for POSTs (the uploads bench)
    meta = re.search(r'name="csrf-token" content="([^"]+)"', s.get(base + "/", timeout=10).text)
    if meta:
        s.headers["X-CSRF-Token"] = meta[1]
    return s


def add_viewer(cfg: Path, name: str, password: str) -> None:
    """``set-password NAME --role viewer`` for the daemon of ``cfg``, as an operator does."""
    pw_file = cfg.parent / f"{name}.pw"
    pw_file.write_text(password + "\n")
    set_pw = ["set-password", name, "--role", "viewer", "--password-file", str(pw_file)]
    subprocess.run([*CLI, *set_pw, "--config", str(cfg)], cwd=REPO, check=True, capture_output=True)


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            return float(line.rsplit(" ", 1)[1])
    return None


def slope_mb_per_h(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB), in MB per hour."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx * 3600


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the soak")
    ap.add_argument("--clip", default=str(DATA_DIR / "video" / "orlando_bloom.avi"))
    ap.add_argument("--kill-every-min", type=float, default=7.0, help="stop+restart period")
    ap.add_argument("--broker-restart-min", type=float, default=3.0)
    ap.add_argument("--warmup-min", type=float, default=3.0, help="left out of the RSS slope")
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (logs, database)")
    ap.add_argument(
        "--malloc-arena-max",
        type=int,
        metavar="N",
        help="run the daemon with MALLOC_ARENA_MAX=N (glibc: at most N malloc arenas)",
    )
    args = ap.parse_args()
    if not Path(args.clip).is_file():
        print(f"soak: no clip at {args.clip} (pass --clip)", file=sys.stderr)
        return 2

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="affectra-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    broker = Broker(work / "broker").start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = work / "config.toml"
    cfg.write_text(
        f"""
[device]
id = "{DEVICE}"
artwork = "soak"
[camera]
type = "file"
path = "{args.clip}"
loop = true
realtime = false
[storage]
path = "{work / "state" / "affectra.db"}"
key_file = "{work / "state" / "db.key"}"
[web]
host = "127.0.0.1"
port = {port}
users_file = "{work / "users.json"}"
[mqtt]
enabled = true
host = "{broker.host}"
port = {broker.port}
"""
    )
    password = "soak-viewer-password-1"
    add_viewer(cfg, "viewer", password)
    sub = Subscriber(broker, [f"{PREFIX}/session"], persistent=True, client_id="soak-sub")
    env = dict(os.environ)
    if args.malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
    daemon = Daemon(cfg, work / "daemon.log", base, env)
    stop = threading.Event()
    web = Web()
    samples: list[Sample] = []
    t_start = time.monotonic()

    def count(ok: bool, dt: float | None = None) -> None:
        web.requests += 1
        if dt is not None:
            web.latencies.append(dt)
        if not ok:
            web.errors += 1
            if daemon.up.is_set() and time.monotonic() - daemon.up_since > 5:
                web.errors_up += 1

    def poller() -> None:
        s = None
        while not stop.is_set():
            if not daemon.up.wait(1):
                s = None
                continue
            try:
                s = s or login(base, "viewer", password)
                t0 = time.monotonic()
                r = s.get(base + random.choice(POLL_PATHS), timeout=10, allow_redirects=False)
                count(r.status_code == 200, time.monotonic() - t0)
                if r.status_code in (303, 401):
                    s = None  # a restarted daemon forgot the login
            except (requests.RequestException, RuntimeError, AssertionError):
                count(False)
                s = None
                time.sleep(1)
            stop.wait(0.5)

    def streamer(path: str) -> None:
        while not stop.is_set():
            if not daemon.up.wait(1):
                continue
            try:
                s = login(base, "viewer", password)
                with s.get(base + path, stream=True, timeout=10) as r:
                    count(r.status_code == 200)
                    t0 = time.monotonic()
                    for _ in r.iter_content(8192):
                        if stop.is_set() or time.monotonic() - t0 > 30:
                            break
            except (requests.RequestException, RuntimeError, AssertionError):
                count(False)
                time.sleep(1)

    def monitor() -> None:
        metrics_session = None
        while not stop.wait(args.sample_s):
            if not daemon.up.is_set() or not daemon.runs:
                continue
            run = daemon.runs[-1]
            st = proc_stat(run.pid)
            if st is None:
                continue
            now = time.monotonic()
            samples.append(Sample(now - t_start, run.index, now - run.started, *st))
            try:
                metrics_session = metrics_session or login(base, "viewer", password)
                text = metrics_session.get(base + "/metrics", timeout=10).text
                ended = metric(text, "affectra_sessions_total")
                if ended is None:
                    metrics_session = None  # a restarted daemon forgot the login
                elif daemon.runs[-1] is run:
                    run.ended_sessions = int(ended)
            except (requests.RequestException, RuntimeError, AssertionError):
                metrics_session = None

    def broker_restarts() -> None:
        while not stop.wait(args.broker_restart_min * 60):
            broker.stop()
            stop.wait(5)
            broker.start()
            print(f"[{time.monotonic() - t_start:6.0f} s] broker restarted", flush=True)

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(4)]
    threads += [
        threading.Thread(target=streamer, args=(p,), daemon=True)
        for p in ("/api/events", "/stream.mjpg")
    ]
    threads += [threading.Thread(target=f, daemon=True) for f in (monitor, broker_restarts)]
    end = t_start + args.minutes * 60
    print(
        f"soak: {args.minutes:g} min, clip {Path(args.clip).name}, work dir {work}"
        + (f", MALLOC_ARENA_MAX={args.malloc_arena_max}" if args.malloc_arena_max else ""),
        flush=True,
    )
    print("  t_s  run   up_s  rss_mb threads fds  cpu_s", flush=True)
    daemon.start()
    for t in threads:
        t.start()
    n_stops = 0
    shown = 0
    try:
        while time.monotonic() < end:
            next_stop = min(end, daemon.runs[-1].started + args.kill_every_min * 60)
            while time.monotonic() < next_stop:
                time.sleep(1)
                for s in samples[shown:]:
                    print(
                        f"{s.t_s:5.0f} {s.run:4d} {s.up_s:6.0f} {s.rss_mb:7.1f} {s.threads:7d} "
                        f"{s.fds:4d} {s.cpu_s:6.0f}",
                        flush=True,
                    )
                shown = len(samples)
            if time.monotonic() >= end:
                break
            how = "SIGKILL" if n_stops % 2 == 0 else "SIGTERM"
            n_stops += 1
            daemon.stop(how)
            took = daemon.runs[-1].stop_s
            print(
                f"[{time.monotonic() - t_start:6.0f} s] daemon stopped with {how}"
                + (f" in {took:.1f} s" if took is not None else ""),
                flush=True,
            )
            daemon.start()
    finally:
        stop.set()
        if daemon.proc is not None:
            daemon.stop("SIGTERM")
        # let the outbox drain: a last clean run with the broker up and nobody polling
        if not broker.running:
            broker.start()
        daemon.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                s = login(base, "viewer", password)
                st = s.get(base + "/api/status", timeout=10).json()
                ended = metric(s.get(base + "/metrics", timeout=10).text, "affectra_sessions_total")
                daemon.runs[-1].ended_sessions = int(ended or 0)
                if st.get("mqtt", {}).get("outbox_depth", 1) == 0:
                    break
            except (requests.RequestException, RuntimeError, ValueError):
                pass
            time.sleep(2)
        time.sleep(3)
        daemon.stop("SIGTERM")
        sub.close()
        broker.stop()

    export = subprocess.run(
        [*CLI, "export", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    recorded = {row["session_id"] for row in csv.DictReader(io.StringIO(export.stdout))}
    check = subprocess.run(
        [*CLI, "db", "check", "--json", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    doc = json.loads(check.stdout) if check.stdout.strip() else {}
    got = [json.loads(m.payload).get("session_id") for m in sub.on(f"{PREFIX}/session")]
    published = set(got)
    expected = sum(r.ended_sessions for r in daemon.runs)

    print("\nper run of the daemon (RSS slope after the warm-up):")
    for r in daemon.runs[:-1]:
        pts = [(s.up_s, s.rss_mb) for s in samples if s.run == r.index]
        late = [p for p in pts if p[0] >= args.warmup_min * 60]
        slope = slope_mb_per_h(late)
        first = pts[0][1] if pts else float("nan")
        last = pts[-1][1] if pts else float("nan")
        thr = sorted({s.threads for s in samples if s.run == r.index})
        fds = sorted({s.fds for s in samples if s.run == r.index})
        print(
            f"  run {r.index}: {pts[-1][0] if pts else 0:5.0f} s, RSS {first:.0f} → {last:.0f} MB, "
            f"slope after {args.warmup_min:g} min "
            + (f"{slope:+.1f} MB/h" if slope is not None else "n/a (too short)")
            + f", threads {thr[0] if thr else '-'}–{thr[-1] if thr else '-'}, "
            f"fds {fds[0] if fds else '-'}–{fds[-1] if fds else '-'}, "
            f"stopped by {r.stop}" + (f" in {r.stop_s:.1f} s" if r.stop_s is not None else "")
        )
    lat = sorted(web.latencies)
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else 0.0
    stops = [r.stop_s for r in daemon.runs if r.stop_s is not None]
    print(
        f"\nweb: {web.requests} requests, {web.errors} errors ({web.errors_up} while up for "
        f"> 5 s), p99 {p99:.0f} ms"
    )
    print(f"SIGTERM stops: {len(stops)}, longest {max(stops):.1f} s" if stops else "no SIGTERM")
    print(
        f"sessions: recorded {len(recorded)}, published {len(published)} "
        f"({len(got) - len(published)} duplicate deliveries removed), "
        f"expected ≥ {expected} (pipeline counts before each stop)"
    )
    print(
        f"  recorded but not published: {len(recorded - published)} (still in the outbox for "
        f"the next start: {doc.get('outbox_depth')}); published but not recorded: "
        f"{len(published - recorded)}; db check: integrity {doc.get('integrity')}, "
        f"rc {check.returncode}"
    )
    print(f"work dir: {work}" + ("" if args.keep else " (temporary)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
