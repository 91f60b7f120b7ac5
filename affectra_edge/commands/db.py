"""``affectra-edge db check|clear|retention``: maintenance of the session database."""

from __future__ import annotations

import argparse
import json
import sys

from affectra_edge.commands import add_config_argument, load
from affectra_edge.errors import StoreError, UsageError

NAME = "db"
HELP = "check the session database, clear it or apply retention now"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="integrity check and counts (safe while the daemon runs)")
    add_config_argument(c)
    c.add_argument("--json", action="store_true", help="print one JSON document")
    k = sub.add_parser("clear", help="delete every session and queued message (stop the service)")
    add_config_argument(k)
    k.add_argument("--yes", action="store_true", help="really delete everything")
    r = sub.add_parser("retention", help="apply retention_days / max_sessions now")
    add_config_argument(r)


def run(args: argparse.Namespace) -> int:
    from affectra_edge.store import open_store

    cfg = load(args)
    if args.action == "check":
        store = open_store(cfg.storage, readonly=True)
        try:
            integrity = store.integrity_check()
            doc = {
                "path": str(store.path),
                "schema_version": store.schema_version(),
                "integrity": integrity,
                "sessions": store.count_sessions(),
                "open_sessions": store.viewers_now(),
                "outbox_depth": store.outbox_depth(),
            }
        finally:
            store.close()
        if args.json:
            print(json.dumps(doc))
        else:
            for k, v in doc.items():
                print(f"{k}: {'; '.join(v) if isinstance(v, list) else v}")
        if integrity != ["ok"]:
            raise StoreError(f"{doc['path']}: integrity check failed")
        return 0
    if args.action == "clear" and not args.yes:
        raise UsageError("db clear deletes every session: add --yes to confirm")
    store = open_store(
        cfg.storage,
        device_id=cfg.device.id,
        artwork=cfg.device.artwork,
        min_dwell_s=cfg.sessions.min_dwell_s,
    )
    try:
        if args.action == "clear":
            n = store.clear_all()
            print(f"deleted {n} session(s)", file=sys.stderr)
        else:
            n = store.retention_run()
            print(f"retention deleted {n} session(s)", file=sys.stderr)
    finally:
        store.close()
    return 0
