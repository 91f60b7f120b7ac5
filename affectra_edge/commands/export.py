"""``affectra-edge export [--csv]``: sessions as CSV (stdout or a file), streaming.

Opens the database read-only: safe while the daemon runs, and it never creates a key or a
database when pointed at the wrong place."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from affectra_edge.commands import add_config_argument, load
from affectra_edge.errors import AffectraError, UsageError

NAME = "export"
HELP = "export viewer sessions (CSV, ISO-8601 UTC times)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", action="store_true", help="CSV (the only format, and the default)")
    p.add_argument("--from", dest="start", metavar="ISO", help="sessions that ended at or after")
    p.add_argument("--to", dest="end", metavar="ISO", help="sessions that ended before")
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
    try:
        if not args.output:
            n = store.export_csv(sys.stdout, start, end)
            sys.stdout.flush()
        else:
            # write next to the target and rename: a half-written export never looks complete
            out = Path(args.output)
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "w", encoding="utf-8", newline="") as fp:
                    n = store.export_csv(fp, start, end)
                os.replace(tmp, out)
            except OSError as exc:
                raise AffectraError(f"{out}: cannot write: {exc.strerror or exc}") from None
            finally:
                if tmp.exists():
                    tmp.unlink()
    finally:
        store.close()
    print(f"exported {n} session(s)", file=sys.stderr)
    return 0
