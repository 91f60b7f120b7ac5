"""Durable, atomic writes of small private files (the database key, the web users list)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a rename in ``directory`` durable; best effort (some file systems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_private_file(
    path: str | os.PathLike,
    data: bytes,
    *,
    mode: int = 0o600,
    replace: bool = True,
    owner_from: str | os.PathLike | None = None,
) -> None:
    """Write ``data`` to ``path`` with ``mode``, durably and atomically.

    The data goes to a temporary file in the same directory first (created with ``mode``,
    fsync'd) and is then renamed into place, so a power cut leaves either the old file (or
    none) or the complete new one. ``replace=False`` never overwrites: the file is linked into
    place, and if it appeared meanwhile that one wins (``FileExistsError``). The parent
    directory must exist.

    ``owner_from``: when running as root, the new file takes that path's owner and group
    before it appears. ``sudo affectra-edge set-password`` or ``rekey`` would otherwise leave
    a root-only file that the service user can no longer read."""
    p = Path(path)
    owner = _owner(owner_from) if owner_from is not None and os.geteuid() == 0 else None
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, p)
        else:
            os.link(tmp, p)  # fails with FileExistsError instead of overwriting
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(p.parent)


def _owner(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_uid, st.st_gid
