"""Run-time settings kept in the database: one JSON value per key."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from affectra_edge.store.db import Connection
from affectra_edge.store.writer import Tx

logger = logging.getLogger(__name__)


def put(tx: Tx, key: str, text: str) -> None:
    """Store ``text`` (already JSON, so a value that cannot be encoded fails its caller)."""
    tx.conn.execute(
        "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, text, time.time()),
    )


def get(conn: Connection, key: str, default: Any) -> Any:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    if row is None:
        return default
    try:
        return json.loads(row[0])
    except ValueError:
        logger.warning("store: setting %r holds invalid JSON; using the default", key)
        return default
