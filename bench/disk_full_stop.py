"""How long the daemon's stop sequence takes on the store while the disk is full, and what it
reports: the store's writer gets SQLite's own SQLITE_FULL (``PRAGMA max_page_count``) while
session events arrive, then the store is flushed and closed exactly as ``Appliance.stop``
does. Prints figures; asserts nothing.

    .venv/bin/python bench/disk_full_stop.py [--events 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from affectra_edge.config import StorageConfig
from affectra_edge.store import open_store
from tests.store.conftest import lifecycle, session


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3000, help="session events sent while full")
    ap.add_argument("--timeout", type=float, default=5.0, help="Appliance.stop's timeout")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage = StorageConfig(path=f"{tmp}/a.db", key_file=f"{tmp}/db.key")
        store = open_store(storage, device_id="bench")
        writer = store._writable()
        pages = writer.call(lambda tx: tx.conn.execute("PRAGMA page_count").fetchone()[0], "n")
        writer.call(lambda tx: tx.conn.execute(f"PRAGMA max_page_count = {pages}"), "full")
        n = 0
        while n < args.events:
            for ev in lifecycle(session(f"full-{n:06d}", 1.7e9 + n, 20.0)):
                store.on_event(ev)
                n += 1
        time.sleep(1.0)  # the writer has failed and is retrying
        b = store.write_backlog()
        print(
            f"disk full: {n} session events sent, {b.queued} queued, waiting_for_disk="
            f"{b.waiting_for_disk}, last_error={b.last_error!r}"
        )
        t0 = time.monotonic()
        flushed = store.flush(args.timeout)
        store.close(args.timeout if flushed else 1.0)
        print(
            f"stop (flush {args.timeout:g} s, then close): {time.monotonic() - t0:.1f} s, "
            f"flushed={flushed}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
