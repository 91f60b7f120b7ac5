"""The encrypted session store (SQLCipher): sessions, the MQTT outbox and settings.

``open_store`` is the one way in: it finds or creates the key, opens or creates the database
(never over an existing file it cannot decrypt), applies migrations, closes sessions that a
crash left open and starts the single writer thread. See :mod:`affectra_edge.store.store`.

The names below are imported on first use, so that ``check-config`` can read
:mod:`affectra_edge.store.keys` without loading NumPy and the schema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from affectra_edge.errors import StoreError

if TYPE_CHECKING:
    from affectra_edge.store.opening import open_database, open_store
    from affectra_edge.store.outbox import OutboxItem
    from affectra_edge.store.queries import CSV_COLUMNS
    from affectra_edge.store.store import Store

_LAZY = {
    "CSV_COLUMNS": "affectra_edge.store.queries",
    "OutboxItem": "affectra_edge.store.outbox",
    "Store": "affectra_edge.store.store",
    "open_database": "affectra_edge.store.opening",
    "open_store": "affectra_edge.store.opening",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["CSV_COLUMNS", "OutboxItem", "Store", "StoreError", "open_database", "open_store"]
