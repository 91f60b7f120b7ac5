"""What drawing a label costs per thread: OpenCV's text functions called on each of N live
threads (as the web workers did) against :func:`affectra_edge.webui.render.put_text` (one text
thread for all of them). Each case runs in a fresh child process with the daemon's allocator
setting; the threads are still alive when memory is read, as web workers are. Prints
figures; asserts nothing.

    .venv/bin/python bench/text_threads.py [--threads 16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import REPO_DIR, child_figures

CHILD = """
import ctypes, sys, threading
sys.path.insert(0, {repo!r})
import cv2, numpy as np
from affectra_edge.memory import limit_allocator_retention
from affectra_edge.webui import render
limit_allocator_retention()
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]
libc.mallinfo2.restype = MallInfo2
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
def in_use():
    return libc.mallinfo2().uordblks / 2**20
img = np.zeros((240, 320, 3), np.uint8)
def draw():
    if {direct}:
        cv2.putText(img, "#7 happy 90%", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (9, 9, 9), 1,
                    cv2.LINE_AA)
    else:
        render.put_text(img, "#7 happy 90%", (10, 40), 0.5, (9, 9, 9), 1)
before, before_rss = in_use(), rss()
drawn, release = threading.Semaphore(0), threading.Event()
def worker():
    draw()
    drawn.release()
    release.wait()
ts = [threading.Thread(target=worker) for _ in range({threads})]
for t in ts: t.start()
for t in ts: drawn.acquire()
print(f"{{before:.1f}} {{in_use():.1f}} {{before_rss:.0f}} {{rss():.0f}}")
release.set()
for t in ts: t.join()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=16)
    args = ap.parse_args()
    for direct in (True, False):
        code = CHILD.format(repo=str(REPO_DIR), direct=direct, threads=args.threads)
        out = child_figures(code)
        name = "cv2.putText on each thread" if direct else "render.put_text (one thread)"
        print(
            f"{name:30s} {args.threads} live threads, one label each: malloc in use "
            f"{out[0]} → {out[1]} MB, RSS {out[2]} → {out[3]} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
