"""Fixtures shared by every area. Area-specific fixtures live in ``tests/<area>/conftest.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("AFFECTRA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real third-party media); tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared media not present at {SHARED_DATA} (only in the developers' workspace)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    from affectra_edge.models import model_path

    return model_path("astronaut")


@pytest.fixture(scope="session")
def astronaut(astronaut_path):
    import cv2

    return cv2.imread(str(astronaut_path), cv2.IMREAD_COLOR)


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory) -> Path:
    """60 s of the demo scene at 10 fps as a real MJPEG-in-AVI file (4 sessions in the first cycle, 2 cut by the end)."""
    import cv2

    from affectra_edge.sources.demo import scene_frames

    path = tmp_path_factory.mktemp("clips") / "demo.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    assert writer.isOpened()
    for frame in scene_frames(60, fps=10):
        writer.write(frame.image)
    writer.release()
    return path


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    """Environment for running ``python -m affectra_edge`` as a real child process."""
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    env.pop("NOTIFY_SOCKET", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
