"""The firmware's wire format agrees with the client; ``affectra-edge esp32-sim`` as a process.

The sketch cannot be compiled here (no ESP32 toolchain), so its format strings are read from
the source and rendered the way the C code does, then parsed by the real client parser.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from affectra_edge.esp32_sim import SimOptions
from affectra_edge.sources import SourceCounters, build_source
from affectra_edge.sources.mjpeg import ESP32_BOUNDARY, MultipartParser, boundary_from_content_type
from tests.sources.camera_support import esp32_camera
from tests.support import run_cli

REPO = Path(__file__).resolve().parents[2]
SKETCH = REPO / "esp32_cam" / "esp32_cam.ino"


def c_string(name: str, text: str, macros: dict[str, str]) -> str:
    """The value of ``static const char *name = "..." MACRO "...";`` with macros expanded."""
    m = re.search(rf"\b{name}\s*=\s*((?:\s*(?:\"(?:[^\"\\]|\\.)*\"|[A-Z_]+))+)\s*;", text)
    assert m, f"{name} not found in the sketch"
    out = ""
    for piece in re.findall(r"\"((?:[^\"\\]|\\.)*)\"|([A-Z_]+)", m.group(1)):
        out += (
            piece[0].encode().decode("unicode_escape")
            if piece[0] or not piece[1]
            else macros[piece[1]]
        )
    return out


def test_sketch_wire_format_matches_the_client():
    text = SKETCH.read_text()
    boundary = re.search(r'#define PART_BOUNDARY "([^"]+)"', text).group(1)
    assert boundary == ESP32_BOUNDARY
    macros = {"PART_BOUNDARY": boundary}
    ctype = c_string("_STREAM_CONTENT_TYPE", text, macros)
    delim = c_string("_STREAM_BOUNDARY", text, macros)
    part = c_string("_STREAM_PART", text, macros)
    assert ctype == f"multipart/x-mixed-replace;boundary={ESP32_BOUNDARY}"
    assert delim == f"\r\n--{ESP32_BOUNDARY}\r\n"
    # render frames exactly as stream_handler does: delimiter, snprintf(part), JPEG
    jpegs = [b"\xff\xd8" + bytes([i]) * 700 + b"\xff\xd9" for i in range(4)]
    stream = b"".join(
        delim.encode() + (part % (len(j), 1_700_000_000 + i, 250_000)).encode() + j
        for i, j in enumerate(jpegs)
    )
    parser = MultipartParser(boundary_from_content_type(ctype))
    parts = parser.feed(stream)
    assert [p.payload for p in parts] == jpegs
    assert [p.timestamp for p in parts] == [1_700_000_000.25 + i for i in range(4)]
    # the stream is on port 81 like the stock CameraWebServer
    assert re.search(r"server_port = 81;[\s\S]*\"/stream\"", text)


def test_credentials_stay_out_of_git():
    text = SKETCH.read_text()
    assert '#include "secrets.h"' in text
    example = (REPO / "esp32_cam" / "secrets.example.h").read_text()
    for key in ("WIFI_SSID", "WIFI_PASSWORD", "CAMERA_HOSTNAME"):
        assert f"#define {key}" in example
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "esp32_cam/secrets.h"], capture_output=True
    )
    assert ignored.returncode == 0


def test_esp32_sim_command_serves_until_sigterm(clip):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "affectra_edge",
            "esp32-sim",
            str(clip[0]),
            "--port",
            "0",
            "--plain",
            "--fps",
            "0",
            "--size",
            "320x240",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/stream)", line)
        assert m, line + proc.stderr.read()
        src = build_source(esp32_camera(m.group(1)), SourceCounters())
        src.open()
        frames = [src.read() for _ in range(3)]
        src.close()
        assert all(f.image.shape == (240, 320, 3) for f in frames)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    assert rc == 0


def test_esp32_sim_command_rejects_a_missing_video(tmp_path):
    out = run_cli("esp32-sim", str(tmp_path / "nope.mp4"), timeout=60)
    assert out.returncode != 0
    assert "nope.mp4: no such video file" in out.stderr


def test_sim_options_are_honoured_in_status(simulators):
    sim = simulators(None, options=SimOptions(chunked=False, timestamps="uptime", quality=50))
    status = sim.status()
    assert status["chunked"] is False and status["timestamps"] == "uptime"
    assert status["quality"] == 50
