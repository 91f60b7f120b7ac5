"""Child process for the crash tests: writes through a real Store until it is killed.

usage: python store_child.py loop DB KEYFILE
       python store_child.py diskfull DB KEYFILE
Prints one line per acknowledged write (after ``flush()`` returned)."""

from __future__ import annotations

import resource
import signal
import sys
import time
from pathlib import Path

from affectra_edge.config import StorageConfig
from affectra_edge.metrics import Registry
from affectra_edge.store import open_store
from affectra_edge.types import Emotions, SessionEvent, ViewerSession

T0 = 1_750_000_000.0
PROBS = Emotions((0.1, 0.0, 0.0, 0.6, 0.1, 0.1, 0.1))


def sess(sid: str, start: float, end: float, state: str) -> ViewerSession:
    return ViewerSession(sid, 1, start, end, 10, PROBS, state, "crash-dev", "")  # type: ignore[arg-type]


def loop(store) -> None:
    long_start = T0
    store.on_event(SessionEvent("start", sess("long", long_start, long_start + 1.0, "open")))
    i = 0
    while True:
        t = T0 + 10 + i
        s = sess(f"short-{i:06d}", t, t + 0.5, "closed")
        store.on_event(SessionEvent("start", sess(s.session_id, t, t, "open")))
        store.on_event(SessionEvent("end", s))
        # and a proper one that outlives the minimum dwell
        k = sess(f"kept-{i:06d}", t, t + 3.0, "closed")
        store.on_event(SessionEvent("start", sess(k.session_id, t, t + 1.0, "open")))
        store.on_event(SessionEvent("update", sess(k.session_id, t, t + 2.0, "open")))
        store.on_event(SessionEvent("end", k))
        store.on_event(SessionEvent("update", sess("long", long_start, t + 3.0, "open")))
        store.flush()
        print(f"ack {k.session_id} {s.session_id} long={t + 3.0!r}", flush=True)
        i += 1


def diskfull(store, reg: Registry, db: Path) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write(), not death
    for i in range(3):
        store.on_event(SessionEvent("end", sess(f"before-{i}", T0 + i, T0 + i + 5, "closed")))
    assert store.flush(10)
    print("before ok", flush=True)
    limit = max(p.stat().st_size for p in db.parent.iterdir() if p.name.startswith(db.name))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    errors = reg.counter("store_errors_total", "")
    for i in range(3):
        store.on_event(
            SessionEvent("end", sess(f"during-{i}", T0 + 100 + i, T0 + 105 + i, "closed"))
        )
    deadline = time.monotonic() + 30
    while errors.value() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"errors {int(errors.value())} flushed_while_full={store.flush(0.2)}", flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    print(f"after flushed={store.flush(60)}", flush=True)
    store.close()


def main() -> None:
    mode, db, key = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    reg = Registry()
    store = open_store(
        StorageConfig(path=str(db), key_file=key), device_id="crash-dev", registry=reg
    )
    print("open", flush=True)
    if mode == "loop":
        loop(store)
    else:
        diskfull(store, reg, db)


if __name__ == "__main__":
    main()
