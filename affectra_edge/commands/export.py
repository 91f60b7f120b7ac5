"""``affectra-edge export [--csv] [--bucket hour|day]``: sessions as CSV (stdout or a file),
streaming; with ``--bucket``, the measures per local hour or day instead (docs/measures.md).

Opens the database read-only: safe while the daemon runs, and it never creates a key or a
database when pointed at the wrong place."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from affectra_edge.commands import add_config_argument, load
from affectra_edge.errors import AffectraError, UsageError

if TYPE_CHECKING:
    from affectra_edge.store.store import Store

NAME = "export"
HELP = "export viewer sessions (CSV, ISO-8601 UTC times)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", action="store_true", help="CSV (the only format, and the default)")
    p.add_argument("--from", dest="start", metavar="ISO", help="sessions that ended at or after")
    p.add_argument("--to", dest="end", metavar="ISO", help="sessions that ended before")
    p.add_argument(
        "--bucket",
        choices=("hour", "day"),
        help="instead of sessions: visitors, passers-by, attraction and holding power, median "
        "dwell, valence and arousal per local hour or day (default range: the last 30 days)",
    )
    add_config_argument(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")


def _time(text: str | None, option: str) -> float | None:
    from affectra_edge.types import parse_iso_utc

    if text is None:
        return None
    try:
        return parse_iso_utc(text)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not an ISO-8601 time (e.g. 2025-06-01 or 2025-06-01T09:00:00Z)"
        ) from None


def run(args: argparse.Namespace) -> int:
    from affectra_edge.store import open_store

    start, end = _time(args.start, "--from"), _time(args.end, "--to")
    cfg = load(args)
    store = open_store(cfg.storage, readonly=True)
    write: Callable[[TextIO], int] = partial(store.export_csv, start=start, end=end)
    if args.bucket:
        write = _measures_writer(store, args.bucket, start, end, cfg.device.expected_dwell_s)
    try:
        if not args.output:
            n = write(sys.stdout)
            sys.stdout.flush()
        else:
            # write next to the target and rename: a half-written export never looks complete
            out = Path(args.output)
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "w", encoding="utf-8", newline="") as fp:
                    n = write(fp)
                os.replace(tmp, out)
            except OSError as exc:
                raise AffectraError(f"{out}: cannot write: {exc.strerror or exc}") from None
            finally:
                if tmp.exists():
                    tmp.unlink()
    finally:
        store.close()
    print(f"exported {n} {'bucket' if args.bucket else 'session'}(s)", file=sys.stderr)
    return 0


def _measures_writer(
    store: Store,
    bucket: Literal["hour", "day"],
    start: float | None,
    end: float | None,
    expected_dwell_s: float,
) -> Callable[[TextIO], int]:
    from affectra_edge.figures import tz_offset

    now = time.time()
    hi = now if end is None else end
    lo = hi - 30 * 86400 if start is None else start
    if lo >= hi:
        raise UsageError("--from: must be before --to")
    return partial(
        store.export_measures_csv,
        start=lo,
        end=hi,
        bucket=bucket,
        tz_offset_s=tz_offset(now),
        expected_dwell_s=expected_dwell_s,
    )
