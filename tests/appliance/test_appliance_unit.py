"""The systemd unit: `systemd-analyze verify` passes and the offline security score is low."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INSTALLED_BIN = "/opt/affectra-edge/venv/bin/affectra-edge"
#: the exposure bound asserted here; the unit currently scores 1.5 (see docs/appliance.md)
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _unit_text(repo) -> str:
    return (repo / "systemd" / "affectra-edge.service").read_text(encoding="utf-8")


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key, []).append(value)
    return out


def test_unit_declares_the_contract(repo):
    d = _directives(_unit_text(repo))
    assert d["Type"] == ["notify"] and d["NotifyAccess"] == ["main"]
    assert d["Restart"] == ["on-failure"] and d["WatchdogSec"] and d["TimeoutStopSec"]
    assert d["ExecStartPre"] == [f"{INSTALLED_BIN} check-config /etc/affectra-edge/config.toml"]
    assert d["ExecStart"] == [f"{INSTALLED_BIN} run --config /etc/affectra-edge/config.toml"]
    assert d["User"] == ["affectra"] and d["SupplementaryGroups"] == ["video"]
    assert d["StateDirectory"] == ["affectra-edge"] and d["StateDirectoryMode"] == ["0700"]
    assert d["CapabilityBoundingSet"] == [""] and d["DevicePolicy"] == ["closed"]
    assert set(d["DeviceAllow"]) == {
        "char-video4linux rw",
        "char-media rw",
        "char-dma_heap rw",
        "char-vchiq rw",
    }
    assert "db-key:/etc/affectra-edge/db.key" in d["LoadCredential"]
    assert "mqtt-password:/etc/affectra-edge/mqtt.password" in d["LoadCredential"]
    # the optional credential has a default, so a missing password file is not fatal
    assert any(v.startswith("mqtt-password:") for v in d["SetCredential"])
    for key in (
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "NoNewPrivileges",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "RestrictNamespaces",
        "LockPersonality",
    ):
        assert d[key] in (["yes"], ["strict"]), key
    assert d["SystemCallFilter"][0] == "@system-service"


def test_systemd_analyze_verify(repo, tmp_path):
    """Verify the unit as shipped, with only the venv path pointed at this checkout's venv
    (verify insists the ExecStart binary exists; nothing else is changed)."""
    exe = Path(sys.executable).with_name("affectra-edge")
    assert exe.exists(), f"{exe}: the project's console script is not installed"
    text = _unit_text(repo)
    assert text.count(INSTALLED_BIN) == 2
    unit = tmp_path / "affectra-edge.service"
    unit.write_text(text.replace(INSTALLED_BIN, str(exe)), encoding="utf-8")
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    # verify also reports bad lines (and ignores them) without failing: none allowed
    assert "ignoring" not in proc.stderr.lower() and "unknown" not in proc.stderr.lower()


def test_security_exposure(repo, capsys):
    proc = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            "--no-pager",
            str(repo / "systemd" / "affectra-edge.service"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    m = re.search(r"Overall exposure level for affectra-edge\.service: (\d+\.\d+)", out)
    assert m, out
    score = float(m.group(1))
    with capsys.disabled():
        print(f"\nsystemd-analyze security --offline=true: exposure {score} (bound {MAX_EXPOSURE})")
    assert score <= MAX_EXPOSURE, out
