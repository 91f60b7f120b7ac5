"""The daemon itself never starts with ``nan``/``inf`` or a missing referenced file in its
configuration (hostile-input review, defect 12): `run` refuses before it opens anything,
with one line per problem and exit 2, as check-config does. Real child processes."""

from __future__ import annotations

from pathlib import Path

from affectra_edge.errors import EXIT_CONFIG
from tests.support import free_port, run_cli


def _run(tmp_path: Path, body: str, cli_env) -> tuple[int, list[str], str]:
    state = tmp_path / "state"
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[camera]\ntype = "demo"\n[storage]\npath = "{state / "a.db"}"\n'
        f'key_file = "{state / "db.key"}"\n{body}'
    )
    run = run_cli("run", "--config", str(cfg), "--duration", "30", env=cli_env)
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("affectra-edge: error:")]
    assert "Traceback" not in run.stderr
    # refused before the store (or anything else) was opened
    assert not state.exists()
    return run.returncode, errors, str(cfg)


def test_run_refuses_nan_and_inf(tmp_path, cli_env):
    """`nan` made the daemon record nothing (min_dwell_s, min_score) or never reconnect
    (reconnect_min_s); `inf` upload sizes crashed it."""
    rc, errors, cfg = _run(
        tmp_path, "[sessions]\nmin_dwell_s = nan\n[web]\nenabled = false\n", cli_env
    )
    assert rc == EXIT_CONFIG
    assert errors == [
        f"affectra-edge: error: {cfg}: sessions.min_dwell_s: must be a finite number, not nan"
    ]
    rc, errors, cfg = _run(tmp_path, "[web]\nenabled = false\nmax_upload_mb = inf\n", cli_env)
    assert rc == EXIT_CONFIG and len(errors) == 1 and "web.max_upload_mb" in errors[0]
    assert "finite" in errors[0]


def test_run_refuses_missing_token_and_ca_files(tmp_path, cli_env):
    """Both used to pass check-config and fail at `run` with a FileNotFoundError traceback."""
    token, ca = tmp_path / "no" / "token", tmp_path / "no" / "ca.pem"
    rc, errors, cfg = _run(
        tmp_path,
        f'[web]\nport = {free_port()}\nmetrics_token_file = "{token}"\n'
        f'[mqtt]\nenabled = true\ntls = true\nca_file = "{ca}"\n',
        cli_env,
    )
    assert rc == EXIT_CONFIG
    assert errors == [
        f"affectra-edge: error: {cfg}: web.metrics_token_file: {token}: file not found",
        f"affectra-edge: error: {cfg}: mqtt.ca_file: {ca}: file not found",
    ]
