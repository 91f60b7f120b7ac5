"""The CLI contract of issue 2, through real child processes."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest

from affectra_edge.errors import EXIT_USAGE
from affectra_edge.types import EMOTIONS
from tests.support import run_cli


def test_replay_json_lines(demo_clip, cli_env):
    out = run_cli("replay", str(demo_clip), "--json", env=cli_env)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    sessions = [d for d in lines if d["type"] == "session"]
    summary = lines[-1]
    assert summary["type"] == "summary"
    # four per 50 s cycle, and the two visitors still there when the file ends
    assert summary["frames"] == 600 and summary["sessions"] == len(sessions) == 6
    assert summary["faces"] > 300 and summary["seconds"] > 0 and summary["fps"] > 0
    assert summary["passers_by"] == 1  # the scene's passer-by at 31 s: counted, not a session
    for s in sessions:
        assert set(s) >= {
            "session_id",
            "started_at",
            "ended_at",
            "duration_s",
            "frames",
            "emotions",
            "dominant",
        }
        assert list(s["emotions"]) == list(EMOTIONS)
        assert sum(s["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
        assert s["started_at"].endswith("Z")
    # the demo's visitors differ: a mix, not one emotion (tests/core/test_pipeline_demo.py)
    assert {"happy", "surprise", "neutral"} <= {s["dominant"] for s in sessions}
    # the two first visitors overlap in time
    a, b = sessions[:2]
    assert a["started_at"] < b["ended_at"] and b["started_at"] < a["ended_at"]


def test_replay_image_folder_and_text_output(tmp_path, astronaut, cli_env):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(30):  # 2 s at the default 15 fps
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), astronaut)
    (folder / "031.jpg").write_bytes(b"not a jpeg")
    out = run_cli("replay", str(folder), env=cli_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("session ") == 1 and "happy" in out.stdout
    assert "30 frames" in out.stdout


def test_replay_missing_path_is_a_clear_error(tmp_path, cli_env):
    out = run_cli("replay", str(tmp_path / "nope.mp4"), env=cli_env)
    assert out.returncode == 5  # the README's "camera source unusable"
    assert "nope.mp4" in out.stderr and "Traceback" not in out.stderr


def test_analyze_images_and_bad_files(tmp_path, astronaut_path, cli_env):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    out = run_cli("analyze", str(astronaut_path), str(bad), env=cli_env)
    assert out.returncode == 0, out.stderr
    good, broken = (json.loads(line) for line in out.stdout.splitlines())
    assert good["file"] == str(astronaut_path)
    (face,) = good["faces"]
    assert face["dominant"] == "happy" and len(face["box"]) == 4 and face["score"] > 0.5
    assert broken["file"] == str(bad) and "error" in broken


def test_analyze_whole_image_for_cropped_faces(tmp_path, astronaut, cli_env):
    import cv2

    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), cv2.cvtColor(astronaut[80:180, 180:280], cv2.COLOR_BGR2GRAY))
    out = run_cli("analyze", "--whole-image", str(crop), env=cli_env)
    (doc,) = [json.loads(line) for line in out.stdout.splitlines()]
    (face,) = doc["faces"]
    assert face["box"] == [0, 0, 100, 100] and face["dominant"] == "happy"


def test_demo_without_web_prints_sessions(cli_env):
    out = run_cli("demo", "--no-web", "--duration", "16", "--json", env=cli_env, timeout=90)
    assert out.returncode == 0, out.stderr
    sessions = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    # the first visitor to leave is the smiling one
    assert len(sessions) >= 1 and sessions[0]["dominant"] == "happy"


def test_help_lists_the_commands(cli_env):
    out = run_cli("--help", env=cli_env)
    for name in ("run", "demo", "replay", "analyze", "check-config", "models"):
        assert name in out.stdout


def test_analyze_tells_missing_files_folders_and_non_images_apart(tmp_path, cli_env):
    xml = tmp_path / "faces.xml"
    xml.write_text("<?xml version='1.0'?><faces/>\n")
    missing, folder = tmp_path / "nope.jpg", tmp_path
    out = run_cli("analyze", str(missing), str(folder), str(xml), env=cli_env)
    assert out.returncode == 1  # nothing could be read
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["file"] for d in docs] == [str(missing), str(folder), str(xml)]
    assert docs[0]["error"] == "no such file"
    assert docs[1]["error"].startswith("is a directory")
    assert docs[2]["error"] == "not a readable image"


def test_session_lines_are_labelled_in_local_time_and_json_is_unchanged(
    tmp_path, astronaut, cli_env
):
    """The text line reads like the dashboard's table (ended, local time; dwell; emotion;
    mix); ``--json`` stays the public document, keys in their documented order."""
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(30):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), astronaut)
    env = dict(cli_env, TZ="XYZ-5:30")  # POSIX TZ: 5 h 30 min east of UTC, no tzdata needed
    as_json = run_cli("replay", str(folder), "--json", env=env)
    as_text = run_cli("replay", str(folder), env=env)
    assert as_json.returncode == as_text.returncode == 0, as_text.stderr
    (doc,) = [json.loads(line) for line in as_json.stdout.splitlines() if '"session"' in line]
    order = "type version session_id device_id artwork started_at ended_at duration_s frames"
    # the README's order; valence and arousal were added at the end (additive, version 1)
    assert list(doc) == [*order.split(), "emotions", "dominant", "valence", "arousal"]
    (line,) = [line for line in as_text.stdout.splitlines() if line.startswith("session ")]
    ended_utc = dt.datetime.fromisoformat(doc["ended_at"].replace("Z", "+00:00"))
    local = (ended_utc + dt.timedelta(hours=5, minutes=30)).strftime("%H:%M:%S")
    # session ids are random: the two runs agree on everything else
    assert re.fullmatch(
        rf"session [0-9a-f]{{8}}  ended {local}  dwell +{doc['duration_s']:.1f} s  "
        rf"frames +{doc['frames']}  emotion {doc['dominant']} +mix {doc['dominant']} "
        rf"{doc['emotions'][doc['dominant']] * 100:.0f}%, .+",
        line,
    ), line
    assert doc["started_at"] not in line and doc["ended_at"] not in line  # no UTC stamps


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["export", "--to", "yesterday"], "--to: 'yesterday' is not an ISO-8601 time"),
        (["db", "clear"], "add --yes to confirm"),
        (["esp32-sim", "--size", "12"], "--size '12': expected WIDTHxHEIGHT"),
        (["esp32-sim", "--quality", "0"], "--quality 0: must be 1..100"),
        (["set-password", "bad name", "--password-file", "-"], "invalid user name 'bad name'"),
        (["check-config", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_64(args, words, tmp_path, cli_env):
    out = run_cli(*args, env=cli_env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert out.returncode == EXIT_USAGE, out.stderr
    assert words in out.stderr and "Traceback" not in out.stderr
