"""``affectra-edge rekey``: re-encrypt the database with a new key, safely.

Order of operations, so that no moment exists where the only copy of the working key is lost:
1. the new key is staged next to the key file (``<key_file>.new``, fsync'd, mode 0600);
2. ``PRAGMA rekey`` rewrites every page in one SQLCipher write transaction (all or nothing),
   then the WAL is checkpointed;
3. the database is opened afresh with the new key and ``PRAGMA quick_check`` must pass;
4. only then the staged key replaces the key file (an atomic rename).
A power cut between 2 and 4 is repaired at the next start: the old key fails, the staged key
opens the database, and the rename is completed.

With the key in ``$CREDENTIALS_DIRECTORY/db-key`` (systemd ``LoadCredential=``) this command
cannot update the credential itself; it needs ``--new-key-file`` and tells the operator what to
install before the service starts again.
"""

from __future__ import annotations

import argparse
import logging

from affectra_edge.commands import add_config_argument, load

logger = logging.getLogger(__name__)

NAME = "rekey"
HELP = "re-encrypt the database with a new key (stop the service first)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_argument(p)
    p.add_argument(
        "--new-key-file",
        metavar="FILE",
        help="take the new key (64 hex digits) from FILE instead of generating one",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from affectra_edge.errors import StoreError
    from affectra_edge.store.rekey import rekey_database

    cfg = load(args)
    result = rekey_database(cfg.storage, new_key_file=args.new_key_file)
    if result.credential is not None:
        print(
            f"database re-encrypted with the key in {args.new_key_file}.\n"
            f"The old key came from the systemd credential {result.credential}, which this "
            "command cannot change: install the new key as the db-key credential (e.g. copy it "
            "to the file named in LoadCredential=db-key:… or re-create it with systemd-creds "
            "encrypt) BEFORE starting the service again, or the database will not open."
        )
    else:
        print(f"database re-encrypted; the new key is in {Path(cfg.storage.key_file)}")
    if result.credential is None and not Path(cfg.storage.key_file).exists():
        raise StoreError(f"{cfg.storage.key_file}: key file missing after rekey")
    return 0
