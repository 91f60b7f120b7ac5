"""The platform check of setup.sh and install.sh: one clear message for a Python below 3.10.

A real older interpreter is used where the machine has one (pyenv or python3.9 and older on
PATH); the 32-bit refusal runs against Debian's armhf python3 under qemu in `make test-arm64`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _old_python() -> str | None:
    """A Python 3 below 3.10 that runs here, or None."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (9, 8, 7)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.[6-9].*/bin/python3")))
    for path in filter(None, candidates):
        proc = subprocess.run(
            [path, "-c", "import sys; print(sys.version_info < (3, 10))"],
            capture_output=True,
            text=True,
        )
        if proc.stdout.strip() == "True":
            return path
    return None


OLD_PYTHON = _old_python()
needs_old_python = pytest.mark.skipif(
    OLD_PYTHON is None, reason="no Python below 3.10 on this machine"
)


def _version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _check(python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", '. scripts/lib-platform.sh && check_platform test "$1"', "-", python],
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def test_this_machine_passes_silently():
    proc = _check(sys.executable)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_a_missing_interpreter_is_named():
    proc = _check("/nonexistent/python3")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "test: error: cannot run /nonexistent/python3: Affectra Edge needs Python 3.10 or newer "
        "(apt install python3 python3-venv)"
    ]


@needs_old_python
def test_setup_refuses_an_old_python_before_creating_the_venv(tmp_path):
    assert OLD_PYTHON is not None
    venv = tmp_path / "venv"
    proc = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=REPO,
        env={**os.environ, "PYTHON": OLD_PYTHON, "VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()  # one message, no pip log
    assert line.startswith(f"setup.sh: error: {OLD_PYTHON} is Python {_version(OLD_PYTHON)};")
    assert "needs Python 3.10 or newer" in line and "Raspberry Pi OS Bookworm (64-bit)" in line
    assert proc.stdout == ""
    assert not venv.exists()


@needs_old_python
def test_install_refuses_an_old_python3_before_apt(tmp_path):
    assert OLD_PYTHON is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(OLD_PYTHON)
    proc = subprocess.run(
        ["bash", "scripts/install.sh", "--dry-run", "--camera", "demo"],
        cwd=REPO,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"install.sh: error: python3 is Python {_version(OLD_PYTHON)};")
    assert "apt-get" not in proc.stdout and "pip" not in proc.stdout
