"""Fixtures for the store tests: real SQLCipher files in ``tmp_path``, sessions made to order."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from affectra_edge.config import StorageConfig
from affectra_edge.types import EMOTIONS, Emotions, SessionEvent, ViewerSession
from tests.support import run_cli

DEVICE = "gallery-7-dev"


def session(
    sid: str,
    started: float,
    dwell: float,
    probs: tuple[float, ...] | None = None,
    *,
    state: str = "closed",
    frames: int = 25,
    device: str = DEVICE,
    artwork: str = "Mona Lisa",
    track: int = 1,
) -> ViewerSession:
    if probs is None:
        probs = (0.05, 0.05, 0.05, 0.5, 0.1, 0.1, 0.15)
    return ViewerSession(
        session_id=sid,
        track_id=track,
        started_at=started,
        ended_at=started + dwell,
        frames=frames,
        emotions=Emotions(tuple(probs)),
        state=state,  # type: ignore[arg-type]
        device_id=device,
        artwork=artwork,
    )


def lifecycle(s: ViewerSession) -> list[SessionEvent]:
    """start, update, end — what the session builder sends for one viewer."""
    from dataclasses import replace

    mid = replace(s, ended_at=(s.started_at + s.ended_at) / 2, state="open")
    first = replace(s, ended_at=s.started_at, state="open")
    return [SessionEvent("start", first), SessionEvent("update", mid), SessionEvent("end", s)]


def random_sessions(n: int, t0: float, span_s: float, seed: int = 1) -> list[ViewerSession]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        raw = [rng.random() ** 3 for _ in EMOTIONS]
        tot = sum(raw)
        dwell = rng.choice([rng.uniform(0.5, 8), rng.uniform(8, 60), rng.uniform(60, 600)])
        start = t0 + rng.uniform(0, span_s)
        out.append(session(f"r{seed}-{i:06d}", start, dwell, tuple(v / tot for v in raw)))
    return out


@pytest.fixture
def storage(tmp_path: Path) -> StorageConfig:
    return StorageConfig(
        path=str(tmp_path / "state" / "affectra.db"), key_file=str(tmp_path / "state" / "db.key")
    )


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch):
    # a developer shell under systemd-run could carry one; the tests choose explicitly
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def open_(storage):
    """``open_(**kw)`` opens a store on ``storage`` and closes every one at teardown."""
    from affectra_edge.store import open_store

    opened = []

    def _open(cfg: StorageConfig | None = None, **kw):
        kw.setdefault("device_id", DEVICE)
        s = open_store(cfg or storage, **kw)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


def config_file(tmp_path: Path, storage: StorageConfig, extra: str = "") -> Path:
    p = tmp_path / "config.toml"
    p.write_text(
        f'[device]\nid = "{DEVICE}"\n\n[storage]\npath = "{storage.path}"\n'
        f'key_file = "{storage.key_file}"\n{extra}',
        encoding="utf-8",
    )
    return p


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def store_cli(*args: str, timeout: float = 120):
    """``python -m affectra_edge ARGS`` as a child process with :func:`child_env`."""
    return run_cli(*args, env=child_env(), timeout=timeout)
