"""Benchmark worker for DeepFace: ``DeepFace.analyze(frame, actions=["emotion"],
detector_backend="opencv", enforce_detection=False)``.

Runs under the deepface peer venv's interpreter with ``DEEPFACE_HOME`` pointing at the
pre-filled bench/peers/.venvs/deepface-home (bench/pipeline.py sets it), whose emotion ONNX
graph has DeepFace's architecture and RANDOM weights: the figures are speed only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _common as common


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("frames")
    ap.add_argument("--frames-limit", type=int, default=0)
    args = ap.parse_args(argv)
    os.environ.setdefault("DEEPFACE_HOME", str(common.VENVS_DIR / "deepface-home"))

    import deepface
    from deepface import DeepFace
    from deepface.modules import detection

    # Time DeepFace's detection step by wrapping the function analyze() calls.
    stage_acc = {"detect": 0.0}
    real_extract = detection.extract_faces

    def timed_extract(*a, **kw):
        t = time.perf_counter()
        try:
            return real_extract(*a, **kw)
        finally:
            stage_acc["detect"] += (time.perf_counter() - t) * 1000.0

    # deepface.modules.demography calls it as detection.extract_faces(...), so this takes.
    detection.extract_faces = timed_extract

    per_frame: list[float] = []
    stages: dict[str, list[float]] = {"detect": [], "classify": []}
    faces: list[list[list[float]]] = []
    first = 0.0
    t_loop = time.perf_counter()
    for i, image in enumerate(common.iter_npy_frames(args.frames, args.frames_limit)):
        stage_acc["detect"] = 0.0
        t = time.perf_counter()
        result = DeepFace.analyze(
            image,
            actions=["emotion"],
            detector_backend="opencv",
            enforce_detection=False,
            silent=True,
        )
        ms = (time.perf_counter() - t) * 1000.0
        per_frame.append(ms)
        if i == 0:
            first = time.time()
        stages["detect"].append(stage_acc["detect"])
        stages["classify"].append(ms - stage_acc["detect"])
        h, w = image.shape[:2]
        boxes = []
        for r in result:
            reg = r["region"]
            # With enforce_detection=False and no face, DeepFace returns the whole frame
            # as (0, 0, w - 1, h - 1).
            if reg["w"] >= w - 1 and reg["h"] >= h - 1:
                continue
            boxes.append([float(reg["x"]), float(reg["y"]), float(reg["w"]), float(reg["h"])])
        faces.append(boxes)
    loop_s = time.perf_counter() - t_loop
    common.emit(
        common.worker_report(
            "deepface",
            per_frame,
            faces,
            stages,
            loop_s,
            first,
            {
                "version": getattr(deepface, "__version__", "0.0.103"),
                "detector": "haar (opencv backend)",
                "note": "speed only, random weights",
            },
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
