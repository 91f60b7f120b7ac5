"""Encryption at rest, keys and rekey — on real SQLCipher files."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from affectra_edge.errors import StoreError
from affectra_edge.store.keys import staged_key_path, write_key_file
from affectra_edge.types import EMOTIONS
from tests.store.conftest import DEVICE, config_file, lifecycle, session, store_cli

NOW = time.time()


def _fill(store, n: int = 20, open_one: bool = True) -> None:
    for i in range(n):
        for ev in lifecycle(session(f"s{i:03d}", NOW - 3600 + i * 30, 12.5)):
            store.on_event(ev)
    if open_one:  # a viewer still in view: its row is open, the WAL holds checkpoints
        store.on_event(lifecycle(session("still-here", NOW - 5, 4.0, state="open"))[0])
    assert store.flush(10)


def _db_with_credential(tmp_path, monkeypatch, open_, key_hex: str, sessions: int) -> Path:
    """A database of ``sessions`` closed sessions whose key is the systemd credential ``db-key``
    (``$CREDENTIALS_DIRECTORY`` stays set); returns the credentials directory."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "db-key").write_text(key_hex)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    store = open_()
    _fill(store, sessions, open_one=False)
    store.close()
    return creds


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name)}


def test_no_plaintext_in_database_or_wal(open_, storage):
    store = open_()
    _fill(store)
    store.set_setting("artwork_note", "a very findable settings value")
    files = _files(store.path)
    assert store.path.name + "-wal" in files and len(files[store.path.name + "-wal"]) > 0
    needles = [*EMOTIONS, DEVICE, "Mona Lisa", "findable", "s001", "SQLite format 3", "CREATE"]
    for name, blob in files.items():
        if name.endswith(".lock"):
            continue
        for needle in needles:
            assert needle.encode() not in blob, f"{needle!r} readable in {name}"
    store.close()
    blob = store.path.read_bytes()  # after the final checkpoint everything is in the main file
    assert len(blob) > 8192
    for needle in needles:
        assert needle.encode() not in blob


def test_stdlib_sqlite_cannot_read_it(open_, storage):
    store = open_()
    _fill(store, open_one=False)
    store.close()
    conn = sqlite3.connect(storage.path)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        conn.execute("SELECT * FROM sqlite_master").fetchall()
    conn.close()


def test_key_file_created_0600_and_never_overwritten(open_, storage):
    key_file = Path(storage.key_file)
    assert not key_file.exists()
    store = open_()
    mode = stat.S_IMODE(key_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(Path(storage.path).stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) == 64 and int(key, 16) > 0
    _fill(store, 2, open_one=False)
    store.close()
    open_().close()
    assert key_file.read_text().strip() == key


def test_wrong_key_fails_clearly_and_leaves_files_identical(open_, storage):
    store = open_()
    _fill(store)
    # a crash snapshot: main file plus a WAL full of committed transactions
    snap = Path(storage.path).parent.parent / "snap"
    snap.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(storage.path + suffix, snap / ("affectra.db" + suffix))
    store.close()
    from affectra_edge.config import StorageConfig

    other = StorageConfig(path=str(snap / "affectra.db"), key_file=str(snap / "other.key"))
    write_key_file(other.key_file, "ab" * 32)
    before = _files(Path(other.path))
    with pytest.raises(StoreError) as err:
        open_(other)
    assert str(err.value) == f"cannot decrypt {other.path}: wrong key or not an Affectra database"
    after = _files(Path(other.path))
    for name in ("affectra.db", "affectra.db-wal"):
        assert after[name] == before[name], name
    # and the read-only path (export) says the same
    with pytest.raises(StoreError, match="wrong key or not an Affectra database"):
        open_(other, readonly=True)
    assert _files(Path(other.path))["affectra.db"] == before["affectra.db"]


def test_wrong_key_message_on_stderr_only_ours(tmp_path, storage, open_):
    open_().close()
    Path(storage.key_file).write_text("cd" * 32 + "\n")
    cfg = config_file(tmp_path, storage)
    out = store_cli("db", "check", "--config", str(cfg), timeout=60)
    assert out.returncode == 4
    assert out.stderr.strip() == (
        f"affectra-edge: error: cannot decrypt {storage.path}: wrong key or not an Affectra "
        "database"
    )


def test_existing_file_without_key_is_never_replaced(tmp_path, storage, open_):
    # someone else's plain SQLite file where our database should be
    Path(storage.path).parent.mkdir(parents=True)
    c = sqlite3.connect(storage.path)
    c.execute("CREATE TABLE precious(x)")
    c.execute("INSERT INTO precious VALUES ('keep me')")
    c.commit()
    c.close()
    before = Path(storage.path).read_bytes()
    with pytest.raises(StoreError, match="key file not found"):
        open_()
    assert not Path(storage.key_file).exists(), "a key was created for a database it cannot open"
    write_key_file(storage.key_file, "12" * 32)
    with pytest.raises(StoreError, match="wrong key or not an Affectra database"):
        open_()
    assert Path(storage.path).read_bytes() == before


def test_bad_key_file_content_named(storage, open_):
    Path(storage.key_file).parent.mkdir(parents=True)
    Path(storage.key_file).write_text("not-a-key\n")
    with pytest.raises(StoreError, match=f"{storage.key_file}: expected 64 hex digits"):
        open_()


def test_credential_directory_wins_and_is_never_written(tmp_path, storage, open_, monkeypatch):
    creds = _db_with_credential(tmp_path, monkeypatch, open_, "5a" * 32, sessions=3)
    assert not Path(storage.key_file).exists()
    assert sorted(p.name for p in creds.iterdir()) == ["db-key"]
    # the same database with the credential's key through a key file works; another key not
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(StoreError, match="key file not found"):
        open_()
    write_key_file(storage.key_file, "5a" * 32)
    assert open_().count_sessions() == 3


def test_second_writer_is_refused(open_):
    open_()
    with pytest.raises(StoreError, match="in use by another affectra-edge process"):
        open_()


def test_rekey_cli(tmp_path, storage, open_):
    store = open_()
    _fill(store, 5)
    store.close()
    old = Path(storage.key_file).read_text()
    cfg = config_file(tmp_path, storage)
    out = store_cli("rekey", "--config", str(cfg), timeout=60)
    assert out.returncode == 0, out.stderr
    new = Path(storage.key_file).read_text()
    assert new != old and len(new.strip()) == 64
    assert stat.S_IMODE(Path(storage.key_file).stat().st_mode) == 0o600
    assert not staged_key_path(storage.key_file).exists()
    # the old key no longer opens it, the new one does, with all data
    old_cfg = tmp_path / "old.key"
    old_cfg.write_text(old)
    from dataclasses import replace

    with pytest.raises(StoreError, match="wrong key"):
        open_(replace(storage, key_file=str(old_cfg)), readonly=True)
    store = open_()
    assert store.count_sessions() == 6  # five, plus the open one closed on restart
    assert store.integrity_check() == ["ok"]
    # with an operator-supplied key
    given = tmp_path / "given.key"
    given.write_text("0f" * 32 + "\n")
    busy = store_cli("rekey", "--config", str(cfg), "--new-key-file", str(given), timeout=60)
    assert busy.returncode == 4 and "in use by another affectra-edge process" in busy.stderr
    store.close()
    out = store_cli("rekey", "--config", str(cfg), "--new-key-file", str(given), timeout=60)
    assert out.returncode == 0, out.stderr
    assert Path(storage.key_file).read_text().strip() == "0f" * 32
    assert open_().count_sessions() == 6


def test_rekey_with_credential_requires_new_key_file(tmp_path, storage, open_, monkeypatch):
    creds = _db_with_credential(tmp_path, monkeypatch, open_, "77" * 32, sessions=2)
    from affectra_edge.store.rekey import rekey_database

    with pytest.raises(StoreError, match="cannot be changed from here"):
        rekey_database(storage)
    new = tmp_path / "new.key"
    new.write_text("88" * 32)
    result = rekey_database(storage, new_key_file=str(new))
    assert result.credential == creds / "db-key"
    assert (creds / "db-key").read_text() == "77" * 32  # untouched: the operator installs it
    (creds / "db-key").write_text("88" * 32)
    assert open_().count_sessions() == 2


def test_interrupted_rekey_is_finished_on_next_start(storage, open_):
    """Power cut after the database took the new key, before the key file was replaced."""
    store = open_()
    _fill(store, 4, open_one=False)
    store.close()
    from affectra_edge.store.db import connect

    old = Path(storage.key_file).read_text().strip()
    write_key_file(staged_key_path(storage.key_file), "9e" * 32, replace=True)
    conn = connect(storage.path, old)
    conn.execute("PRAGMA rekey = \"x'" + "9e" * 32 + "'\"")
    conn.close()
    store = open_()
    assert store.count_sessions() == 4
    assert Path(storage.key_file).read_text().strip() == "9e" * 32
    assert not staged_key_path(storage.key_file).exists()
