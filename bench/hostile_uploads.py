"""What hostile uploads cost the daemon: peak RSS and time for bursts of 16 concurrent
uploads by a viewer (the hostile-input review's attacks), and how long a SIGTERM takes while
a burst is in flight. The daemon is a child process (``affectra-edge run``, demo camera, web
UI); the pictures are made here, valid and small on the wire. Prints figures; asserts nothing.

    .venv/bin/python bench/hostile_uploads.py [--concurrency 16]
"""

from __future__ import annotations

import argparse
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak import CLI, REPO, add_viewer, login, proc_stat
from tests.support import free_port


def png(width: int, height: int, *, depth: int, color_type: int) -> bytes:
    """A valid all-zero PNG (a few hundred KB at most, whatever it decodes to)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"\0" * (1 + width * channels * depth // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg(img: np.ndarray, progressive: bool = False) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive), cv2.IMWRITE_JPEG_QUALITY, 50]
    )
    assert ok
    return buf.tobytes()


def scan_bomb(img: np.ndarray, extra: int) -> bytes:
    """A valid progressive JPEG whose last scan (with its Huffman table) is repeated."""
    data = jpeg(img, progressive=True)
    last = data.rindex(b"\xff\xda")
    # the table and the scan run up to the EOI marker at the very end
    unit = data[data.rindex(b"\xff\xc4", 0, last) : -2]
    return data[:-2] + unit * extra + b"\xff\xd9"


class Peak:
    """Samples the daemon's RSS every 50 ms while a burst runs."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            st = proc_stat(self.pid)
            if st:
                self.peak = max(self.peak, st[0])

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return self.peak


def burst(s: requests.Session, base: str, data: bytes, ctype: str, n: int) -> tuple[dict, float]:
    def one(_: int) -> int | str:
        try:
            r = s.post(
                base + "/api/analyze", data=data, headers={"Content-Type": ctype}, timeout=300
            )
            return r.status_code
        except requests.RequestException as exc:
            return type(exc).__name__

    t0 = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        codes = list(pool.map(one, range(n)))
    counts: dict = {}
    for c in codes:
        counts[c] = counts.get(c, 0) + 1
    return counts, time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    n = args.concurrency
    pictures = [
        ("16-bit RGBA PNG 6300×6300", png(6300, 6300, depth=16, color_type=6), "image/png"),
        ("8-bit RGB PNG 6300×6300", png(6300, 6300, depth=8, color_type=2), "image/png"),
        (
            "8-bit RGBA PNG 3400×3400 (accepted)",
            png(3400, 3400, depth=8, color_type=6),
            "image/png",
        ),
        (
            "progressive JPEG 6000×6000",
            jpeg(np.zeros((6000, 6000, 3), np.uint8), True),
            "image/jpeg",
        ),
        (
            "baseline JPEG 6000×6000 (accepted, 1/2)",
            jpeg(np.zeros((6000, 6000, 3), np.uint8)),
            "image/jpeg",
        ),
        (
            "progressive JPEG 3000×3000 (accepted)",
            jpeg(np.zeros((3000, 3000, 3), np.uint8), True),
            "image/jpeg",
        ),
        (
            "scan bomb 6000×6000 + 3000 scans",
            scan_bomb(np.zeros((6000, 6000, 3), np.uint8), 3000),
            "image/jpeg",
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="affectra-uploads-") as tmp:
        work = Path(tmp)
        port = free_port()
        cfg = work / "config.toml"
        cfg.write_text(
            f'[camera]\ntype = "demo"\nfps = 5\n[storage]\npath = "{work / "a.db"}"\n'
            f'key_file = "{work / "db.key"}"\n[web]\nhost = "127.0.0.1"\nport = {port}\n'
            f'users_file = "{work / "users.json"}"\n'
        )
        add_viewer(cfg, "v", "viewer-password-12345")
        base = f"http://127.0.0.1:{port}"
        log = (work / "daemon.log").open("wb")
        proc = subprocess.Popen([*CLI, "run", "--config", str(cfg)], cwd=REPO, stderr=log)
        try:
            for _ in range(240):
                try:
                    if requests.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.5)
            s = login(base, "v", "viewer-password-12345")
            st = proc_stat(proc.pid)
            print(f"daemon idle: RSS {st[0] if st else 0:.0f} MB; {n} concurrent uploads each:")
            for name, data, ctype in pictures:
                peak = Peak(proc.pid)
                codes, wall = burst(s, base, data, ctype, n)
                print(
                    f"  {name:42s} {len(data) / 1000:7.0f} KB  codes {codes}  "
                    f"wall {wall:5.1f} s  peak RSS {peak.stop():5.0f} MB",
                    flush=True,
                )
            # SIGTERM with a burst of accepted uploads in flight
            big = pictures[4]
            t = threading.Thread(target=burst, args=(s, base, big[1], big[2], n), daemon=True)
            t.start()
            time.sleep(1.0)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
                print(
                    f"SIGTERM during a burst of {n} uploads: exited in {time.monotonic() - t0:.1f} s"
                )
            except subprocess.TimeoutExpired:
                print("SIGTERM during a burst: still alive after 60 s")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
