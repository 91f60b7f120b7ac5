"""Session-store figures: bulk insert rate, live write rate, and the latency of every dashboard
query over N sessions — on SQLCipher and on plain SQLite side by side (the cost of encryption).
Prints figures; asserts nothing. Goal: every dashboard query ≤ 50 ms at 1 M sessions.

    .venv/bin/python bench/store.py [--sessions 1000000] [--days 365] [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info

from affectra_edge.config import StorageConfig
from affectra_edge.figures import local_day_start
from affectra_edge.store import Store, open_database, open_store
from affectra_edge.store.db import connect
from affectra_edge.types import Emotions, SessionEvent, ViewerSession

DEVICE = "bench-device"


def synthetic(n: int, days: float, now: float, seed: int = 42) -> Iterator[ViewerSession]:
    """``n`` closed sessions ending over the last ``days`` days (opening hours 10–18 local,
    so "today" holds about one day's share), dwell log-normal around 8 s, in the order they
    would have ended (the order a real device writes them)."""
    rng = np.random.default_rng(seed)
    day0 = local_day_start(now) - (int(days) - 1) * 86400
    day = rng.integers(0, int(days), n)
    tod = rng.uniform(10 * 3600, 18 * 3600, n)
    ended = day0 + day * 86400 + tod
    ended = np.sort(np.where(ended < now, ended, ended - 86400))  # today: only what has been
    dwell = np.clip(rng.lognormal(np.log(8.0), 0.9, n), 1.0, 1800.0)
    probs = rng.dirichlet([0.6, 0.2, 0.3, 1.5, 0.7, 0.5, 2.0], n)
    for i in range(n):
        yield ViewerSession(
            session_id=f"{seed:02d}{i:012d}",
            track_id=int(i % 97),
            started_at=float(ended[i] - dwell[i]),
            ended_at=float(ended[i]),
            frames=int(dwell[i] * 10),
            emotions=Emotions(tuple(float(v) for v in probs[i])),
            device_id=DEVICE,
            artwork="bench",
        )


def timed(fn: Callable[[], object], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return {"first": times[0], "p50": statistics.median(times), "max": max(times)}


def queries(store: Store, now: float) -> dict[str, Callable[[], object]]:
    today = local_day_start(now)
    tz = int(time.localtime(now).tm_gmtoff)
    return {
        "summary today": lambda: store.summary(today, now),
        "summary all-time": lambda: store.summary(0, now + 1),
        "hourly buckets 24 h": lambda: store.buckets(now - 86400, now, "hour", tz),
        "daily buckets 30 d": lambda: store.buckets(today - 29 * 86400, now, "day", tz),
        # /api/stats and its CSV, not the dashboard: the same buckets with each one's exact
        # median dwell (reads the range's rows, up to queries.BUCKET_MEDIAN_MAX)
        "api hourly 24h+median": lambda: store.buckets(now - 86400, now, "hour", tz, medians=True),
        "api daily 30d+median": lambda: store.buckets(
            today - 29 * 86400, now, "day", tz, medians=True
        ),
        "dwell bands today": lambda: store.dwell_histogram(today, now),
        "dwell bands all-time": lambda: store.dwell_histogram(0, now + 1),
        "recent sessions page": lambda: store.recent_sessions(50, 0),
        "count": store.count_sessions,
        "viewers now": store.viewers_now,
    }


def fill(label: str, store: Store, args, now: float) -> dict:
    """Write the data set and measure the write paths."""
    t = time.perf_counter()
    n = store.import_sessions(synthetic(args.sessions, args.days, now), batch=args.batch)
    insert_s = time.perf_counter() - t
    # a few viewers in view right now, through the normal event path
    for i in range(3):
        s = ViewerSession(f"open-{i}", i, now - 30, now - 1, 300, Emotions((1 / 7,) * 7), "open")
        store.on_event(SessionEvent("start", s))
    # live write path: end events through the writer, group-committed, synchronous=FULL
    live = args.live
    t = time.perf_counter()
    for i in range(live):
        s = ViewerSession(f"live-{i}", 0, now - 20, now - 2, 180, Emotions((1 / 7,) * 7))
        store.on_event(SessionEvent("end", s))
    store.flush()
    live_s = time.perf_counter() - t
    # one event at a time: the latency a single session end sees (one fsync'd commit each)
    single = []
    for i in range(args.single):
        s = ViewerSession(f"single-{i}", 0, now - 20, now - 2, 180, Emotions((1 / 7,) * 7))
        t = time.perf_counter()
        store.on_event(SessionEvent("end", s))
        store.flush()
        single.append((time.perf_counter() - t) * 1000.0)
    return {
        "store": label,
        "sessions": n,
        "insert_s": round(insert_s, 2),
        "insert_per_s": round(n / insert_s),
        "live_events_per_s": round(live / live_s),
        "end_commit_ms_p50": round(statistics.median(single), 2) if single else None,
        "queries": {},
    }


def measure(stores: dict[str, Store], results: dict[str, dict], args, now: float) -> None:
    """Each query ``runs`` times per store, alternating between the stores run by run, so
    that load from elsewhere on the machine hits both sides alike."""
    plans = {label: queries(store, now) for label, store in stores.items()}
    for name in next(iter(plans.values())):
        times: dict[str, list[float]] = {label: [] for label in stores}
        for _ in range(args.runs):
            for label in stores:
                times[label].append(timed(plans[label][name], 1)["first"])
        for label, ts in times.items():
            results[label]["queries"][name] = {
                "first": round(ts[0], 2),
                "p50": round(statistics.median(ts), 2),
                "max": round(max(ts), 2),
            }
    # Not dashboard queries: every page read once on a fresh connection (empty page cache,
    # so every page is decrypted and its HMAC checked) — where encryption shows most.
    for _ in range(3):
        for label, store in stores.items():
            conn = connect(store.path, store._key)
            t = time.perf_counter()
            conn.execute("SELECT TOTAL(dwell_s), TOTAL(happy), count(*) FROM sessions").fetchone()
            results[label].setdefault("scan_ms", []).append((time.perf_counter() - t) * 1000)
            conn.close()
    for label, store in stores.items():
        results[label]["scan_ms"] = round(statistics.median(results[label]["scan_ms"]), 1)
        t = time.perf_counter()
        with open(os.devnull, "w", encoding="utf-8") as sink:
            rows = store.export_csv(sink)
        results[label]["export_all_s"] = round(time.perf_counter() - t, 2)
        results[label]["export_rows"] = rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=365.0, help="spread sessions over this many days")
    ap.add_argument("--runs", type=int, default=15, help="repetitions of each query")
    ap.add_argument("--batch", type=int, default=10_000, help="sessions per insert transaction")
    ap.add_argument("--live", type=int, default=2000, help="end events for the live write rate")
    ap.add_argument("--single", type=int, default=50, help="single end events timed one by one")
    ap.add_argument("--dir", help="where to put the databases (default: a temporary directory)")
    ap.add_argument(
        "--plain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run on plain SQLite (default: yes)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    now = time.time()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        cfg = StorageConfig(
            path=str(d / "enc.db"),
            key_file=str(d / "db.key"),
            retention_days=0,
            max_sessions=0,
            retention_interval_s=86400,
        )
        stores: dict[str, Store] = {"sqlcipher": open_store(cfg, device_id=DEVICE)}
        if args.plain:
            plain = replace(cfg, path=str(d / "plain.db"))
            stores["plain sqlite"] = open_database(plain, None, device_id=DEVICE)
        try:
            by_label = {label: fill(label, st, args, now) for label, st in stores.items()}
            measure(stores, by_label, args, now)
        finally:
            for st in stores.values():
                st.close()
        for label, st in stores.items():
            by_label[label]["file_mb"] = round(st.path.stat().st_size / 2**20, 1)
        results = list(by_label.values())

    if args.json:
        print(json.dumps({"machine": machine_info(), "results": results}))
        return 0
    info = machine_info()
    print(
        f"# store bench: {args.sessions:,} sessions over {args.days:g} days, {args.runs} runs "
        f"per query\n# {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"{info['date_utc']}"
    )
    for r in results:
        print(
            f"{r['store']:>13}: bulk insert {r['insert_per_s']:,} sessions/s "
            f"({r['insert_s']} s), live end events {r['live_events_per_s']:,}/s, one end "
            f"event committed in {r['end_commit_ms_p50']} ms (p50), file {r['file_mb']} MB, "
            f"CSV export of all {r['export_rows']:,} rows {r['export_all_s']} s, full table scan "
            f"on a cold connection {r['scan_ms']} ms"
        )
    enc = results[0]["queries"]
    plain = results[1]["queries"] if len(results) > 1 else None
    head = f"{'query':<22} {'SQLCipher p50':>13} {'max':>8}"
    if plain:
        head += f" {'SQLite p50':>11} {'max':>8} {'ratio':>6}"
    print(head + "   (ms)")
    for name, q in enc.items():
        line = f"{name:<22} {q['p50']:>13.2f} {q['max']:>8.2f}"
        if plain:
            p = plain[name]
            ratio = q["p50"] / p["p50"] if p["p50"] > 0 else float("nan")
            line += f" {p['p50']:>11.2f} {p['max']:>8.2f} {ratio:>6.2f}"
        print(line)
    worst = max(q["max"] for name, q in enc.items() if not name.startswith("api "))
    print(f"slowest SQLCipher dashboard query (max over runs): {worst:.1f} ms (goal ≤ 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
