"""``affectra-edge db check|clear|retention``: maintenance of the session database."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from affectra_edge.commands import add_config_argument, load
from affectra_edge.errors import StoreError, UsageError

if TYPE_CHECKING:
    from affectra_edge.store.store import Store

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
        doc = _check(open_store(cfg.storage, readonly=True))
        integrity = doc["integrity"]
        if args.json:
            print(json.dumps(doc))
        else:
            for k, v in doc.items():
                print(f"{k}: {'; '.join(v) if isinstance(v, list) else v}")
        if integrity != ["ok"]:
            raise StoreError(f"{doc['path']}: integrity check failed: the database is damaged")
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


def _check(store: Store) -> dict[str, Any]:
    """The check's figures. A damaged page makes SQLite raise instead of answering: that is
    reported as the integrity result (exit 4 with the reason), and the counts it kept from
    being read are null."""
    from affectra_edge.store.db import DatabaseError

    doc: dict[str, Any] = {"path": str(store.path)}
    try:
        for key, read in (
            ("schema_version", store.schema_version),
            ("integrity", store.integrity_check),
            ("sessions", store.count_sessions),
            ("open_sessions", store.viewers_now),
            ("outbox_depth", store.outbox_depth),
        ):
            try:
                doc[key] = read()
            except DatabaseError as exc:
                doc[key] = [f"{exc}"] if key == "integrity" else None
    finally:
        store.close()
    return doc
