"""``[classifier] backend = "deepface"`` through the whole pipeline: sessions are unchanged.

The DeepFace side runs DeepFace's real code path on the stand-in ONNX graph of
``deepface_onnx_stub`` (real weights cannot be had here): this checks that the back-end plugs
into the appliance and that a session's distribution is DeepFace's, never how accurate it is.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
from deepface_helpers import needs_extra, run_cli

from affectra_edge.classify import build_classifier
from affectra_edge.config import ClassifierConfig, DetectorConfig
from affectra_edge.detect import build_detector
from affectra_edge.types import EMOTIONS

pytestmark = needs_extra


def test_replay_with_deepface_backend_yields_a_session_with_its_distribution(
    tmp_path, lfw_faces, with_stub
):
    # One real face, brightened (the stub calls bright faces "happy"), held for 12 frames.
    face = ((0.55 + 0.45 * lfw_faces[3]) * 255).astype(np.uint8)
    canvas = np.full((240, 320), 128, np.uint8)
    canvas[60:180, 100:220] = cv2.resize(face, (120, 120), interpolation=cv2.INTER_CUBIC)
    frame = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    config = tmp_path / "config.toml"
    config.write_text('[classifier]\nbackend = "deepface"\n[camera]\nfps = 5\n')
    res = run_cli(
        "replay",
        "--config",
        str(config),
        "--json",
        str(folder),
        env={"DEEPFACE_HOME": str(with_stub)},
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    sessions = [m for m in lines if m.get("type") == "session"]
    assert len(sessions) == 1, res.stdout
    session = sessions[0]
    assert session["frames"] == 12

    # Every frame is the same, so the session's distribution is DeepFace's for that crop.
    (box,) = build_detector(DetectorConfig()).detect(frame)
    (want,) = build_classifier(ClassifierConfig(backend="deepface")).classify(frame, [box])
    got = np.array([session["emotions"][k] for k in EMOTIONS])
    np.testing.assert_allclose(got, want.probs, atol=2e-3)
    assert session["dominant"] == want.dominant == "happy"
