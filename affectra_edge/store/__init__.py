"""The encrypted session store (SQLCipher): sessions, the MQTT outbox and settings.

``open_store`` is the one way in: it finds or creates the key, opens or creates the database
(never over an existing file it cannot decrypt), applies migrations, closes sessions that a
crash left open and starts the single writer thread. See :mod:`affectra_edge.store.store`.
"""

from __future__ import annotations

from affectra_edge.errors import StoreError
from affectra_edge.store.opening import open_database, open_store
from affectra_edge.store.outbox import OutboxItem
from affectra_edge.store.queries import CSV_COLUMNS
from affectra_edge.store.store import Store

__all__ = ["CSV_COLUMNS", "OutboxItem", "Store", "StoreError", "open_database", "open_store"]
