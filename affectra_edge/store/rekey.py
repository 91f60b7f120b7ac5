"""Re-encrypting the database with a new key; see :mod:`affectra_edge.commands.rekey`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from affectra_edge.config import StorageConfig
from affectra_edge.errors import StoreError
from affectra_edge.fsutil import fsync_dir
from affectra_edge.store.db import WriterLock, connect, db_exists, verify_key
from affectra_edge.store.keys import (
    load_key,
    new_key_hex,
    read_key_file,
    staged_key_path,
    write_key_file,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RekeyResult:
    #: the credential the old key came from (the operator must replace it), else None
    credential: Path | None


def rekey_database(storage: StorageConfig, *, new_key_file: str | None = None) -> RekeyResult:
    path = Path(storage.path)
    if not db_exists(path):
        raise StoreError(f"{path}: no database to rekey")
    lock = WriterLock(path)
    lock.acquire()  # refuses while the daemon (or anything else writing) has it open
    try:
        key = load_key(storage.key_file, may_create=False)
        staged = staged_key_path(storage.key_file)
        try:
            verify_key(path, key.hex)  # read-only first: a wrong key must change nothing
            conn = connect(path, key.hex)
        except StoreError:
            if key.from_credential or not staged.exists():
                raise
            # an earlier rekey stopped between re-encrypting and renaming: finish it first
            verify_key(path, read_key_file(staged))
            conn = connect(path, read_key_file(staged))
            os.replace(staged, storage.key_file)
            fsync_dir(staged.parent)
            key = load_key(storage.key_file, may_create=False)
            logger.warning("rekey: finished an interrupted rekey before starting this one")
        try:
            if new_key_file:
                new_hex = read_key_file(new_key_file)
            elif key.from_credential:
                raise StoreError(
                    f"the key comes from the systemd credential {key.source}, which cannot be "
                    "changed from here: write a new key (e.g. `openssl rand -hex 32 > new.key`), "
                    "run `affectra-edge rekey --new-key-file new.key`, then install new.key as "
                    "the db-key credential"
                )
            else:
                new_hex = new_key_hex()
            if new_hex == key.hex:
                raise StoreError(f"{new_key_file}: the new key is the current key")
            if not key.from_credential:
                # staged before the database changes: at no moment is the working key unsaved
                try:
                    write_key_file(staged, new_hex, replace=True, like=storage.key_file)
                except PermissionError:
                    # the service user on an installed box: the key is root's to replace
                    raise StoreError(
                        f"{storage.key_file}: no permission to replace the key in "
                        f"{staged.parent} (on an installed box: sudo affectra-edge rekey); "
                        "nothing was changed"
                    ) from None
            # SQLCipher rewrites every page inside one write transaction of its own (a
            # surrounding BEGIN would not make it undoable), so it is all or nothing.
            conn.execute(f"PRAGMA rekey = \"x'{new_hex}'\"")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        check = connect(path, new_hex)
        try:
            result = [r[0] for r in check.execute("PRAGMA quick_check")]
        finally:
            check.close()
        if result != ["ok"]:
            raise StoreError(
                f"{path}: check after rekey failed ({'; '.join(result[:3])}); the new key is "
                f"kept in {staged if not key.from_credential else new_key_file}"
            )
        if key.from_credential:
            return RekeyResult(credential=key.source)
        os.replace(staged, storage.key_file)
        fsync_dir(staged.parent)
        logger.info("rekey: %s re-encrypted; new key in %s", path, storage.key_file)
        return RekeyResult(credential=None)
    finally:
        lock.release()
