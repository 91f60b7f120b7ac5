"""What a login's scrypt leaves resident when it runs on many threads, with glibc's default
allocator settings and with :func:`affectra_edge.memory.limit_allocator_retention` (what
``run`` calls). Each case runs in a fresh child process. Prints figures; asserts nothing.

    .venv/bin/python bench/scrypt_arenas.py [--threads 16] [--logins 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import REPO_DIR, child_figures

CHILD = """
import hashlib, sys, threading
sys.path.insert(0, {repo!r})
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
if {fixed}:
    from affectra_edge.memory import limit_allocator_retention
    limit_allocator_retention()
from affectra_edge.webui.users import hash_password
before = rss()
def work():
    for _ in range({logins}):
        hash_password("correct horse battery staple")
ts = [threading.Thread(target=work) for _ in range({threads})]
for t in ts: t.start()
for t in ts: t.join()
print(f"{{before:.0f}} {{rss():.0f}}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--logins", type=int, default=3, help="password hashes per thread")
    args = ap.parse_args()
    for fixed in (False, True):
        code = CHILD.format(
            repo=str(REPO_DIR), fixed=fixed, threads=args.threads, logins=args.logins
        )
        out = child_figures(code)
        name = "limit_allocator_retention()" if fixed else "glibc defaults"
        print(
            f"{name:30s} {args.threads} threads × {args.logins} scrypt: RSS {out[0]} → {out[1]} MB "
            "after all threads finished"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
