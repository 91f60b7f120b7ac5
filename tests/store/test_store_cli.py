"""The store through the real CLI: replay writes sessions, export/db read them back."""

from __future__ import annotations

import csv
import io
import json

from affectra_edge.errors import EXIT_STORE, EXIT_USAGE
from affectra_edge.store import CSV_COLUMNS
from affectra_edge.store.schema import LATEST
from tests.store.conftest import config_file, store_cli


def test_replay_writes_store_and_export_reads_it(demo_clip, tmp_path, storage):
    cfg = config_file(tmp_path, storage)
    out = store_cli("replay", str(demo_clip), "--json", "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    sessions = {d["session_id"]: d for d in printed if d["type"] == "session"}
    assert len(sessions) == 6

    exp = store_cli("export", "--csv", "--config", str(cfg))
    assert exp.returncode == 0, exp.stderr
    assert "exported 6 session(s)" in exp.stderr
    rows = list(csv.DictReader(io.StringIO(exp.stdout)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert {r["session_id"] for r in rows} == set(sessions)
    for r in rows:
        d = sessions[r["session_id"]]
        assert r["started_at"] == d["started_at"] and r["ended_at"] == d["ended_at"]
        assert r["dominant"] == d["dominant"] and int(r["frames"]) == d["frames"]
        assert float(r["duration_s"]) == d["duration_s"]

    # a window: only sessions that ended inside it, to a file
    ends = sorted(d["ended_at"] for d in sessions.values())
    target = tmp_path / "part.csv"
    part = store_cli(
        "export",
        "--csv",
        "--from",
        ends[1],
        "--to",
        ends[3],
        "-o",
        str(target),
        "--config",
        str(cfg),
    )
    assert part.returncode == 0, part.stderr
    got = list(csv.DictReader(target.open(encoding="utf-8")))
    assert sorted(r["ended_at"] for r in got) == ends[1:3]

    check = store_cli("db", "check", "--json", "--config", str(cfg))
    assert check.returncode == 0, check.stderr
    doc = json.loads(check.stdout)
    assert doc["integrity"] == ["ok"] and doc["sessions"] == 6 and doc["open_sessions"] == 0
    # MQTT is off in this configuration: nothing is queued for a broker (docs/mqtt.md)
    assert doc["outbox_depth"] == 0 and doc["schema_version"] == LATEST

    refused = store_cli("db", "clear", "--config", str(cfg))
    assert refused.returncode == EXIT_USAGE and "--yes" in refused.stderr
    cleared = store_cli("db", "clear", "--yes", "--config", str(cfg))
    assert cleared.returncode == 0 and "deleted 6 session(s)" in cleared.stderr
    again = store_cli("export", "--csv", "--config", str(cfg))
    assert again.stdout.strip() == ",".join(CSV_COLUMNS)


def test_export_errors_are_named(tmp_path, storage):
    cfg = config_file(tmp_path, storage)
    missing = store_cli("export", "--csv", "--config", str(cfg))
    assert missing.returncode == 4
    assert f"{storage.path}: no database here" in missing.stderr
    bad = store_cli("export", "--csv", "--from", "last tuesday", "--config", str(cfg))
    assert bad.returncode == EXIT_USAGE  # a usage error, like argparse's own
    assert "--from: 'last tuesday' is not an ISO-8601 time" in bad.stderr


def test_export_without_csv_flag(tmp_path, storage, open_):
    """CSV is the only format: ``--csv`` may be left out."""
    open_().close()
    cfg = config_file(tmp_path, storage)
    plain = store_cli("export", "--config", str(cfg))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == ",".join(CSV_COLUMNS)
    assert "exported 0 session(s)" in plain.stderr


def test_store_os_errors_at_open_are_one_line(tmp_path, storage):
    """The operating system refusing the state directory (here a file stands where it should
    be: refused even for root) is one line naming it, exit 4 ("database cannot be opened")."""
    from dataclasses import replace

    blocker = tmp_path / "blocker"
    blocker.write_text("")
    cfg = config_file(tmp_path, replace(storage, path=str(blocker / "affectra.db")))
    out = store_cli("db", "retention", "--config", str(cfg))
    assert out.returncode == EXIT_STORE, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        f"affectra-edge: error: cannot open {blocker / 'affectra.db'}: {blocker}: not a directory"
    )
