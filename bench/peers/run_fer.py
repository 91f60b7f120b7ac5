"""Benchmark worker for the ``fer`` package: ``FER(mtcnn=False).detect_emotions(frame)``.

Runs under the fer peer venv's interpreter (bench/peers/setup.sh). The default path: OpenCV's
Haar cascade, then fer's quantized emotion model through TensorFlow's tf.lite. Usage:
``run_fer.py FRAMES.npy [--frames-limit N]``; prints one JSON line like bench/_ours_worker.py.
"""

from __future__ import annotations

import argparse
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

    import cv2
    import fer
    from fer.fer import FER

    detector = FER(mtcnn=False)
    # Time fer's two stages by wrapping its own methods on this instance (no behaviour change).
    stage_acc = {"detect": 0.0, "classify": 0.0}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                stage_acc[name] += (time.perf_counter() - t) * 1000.0

        return wrapper

    detector.find_faces = timed("detect", detector.find_faces)
    detector._classify_emotions = timed("classify", detector._classify_emotions)

    per_frame: list[float] = []
    stages: dict[str, list[float]] = {"detect": [], "classify": []}
    faces: list[list[list[float]]] = []
    first = 0.0
    t_loop = time.perf_counter()
    for i, image in enumerate(common.iter_npy_frames(args.frames, args.frames_limit)):
        stage_acc.update(detect=0.0, classify=0.0)
        t = time.perf_counter()
        result = detector.detect_emotions(image)
        per_frame.append((time.perf_counter() - t) * 1000.0)
        if i == 0:
            first = time.time()
        for k in stages:
            stages[k].append(stage_acc[k])
        faces.append([[float(v) for v in r["box"]] for r in result])
    loop_s = time.perf_counter() - t_loop
    common.emit(
        common.worker_report(
            "fer",
            per_frame,
            faces,
            stages,
            loop_s,
            first,
            {"version": fer.__version__, "detector": f"haar (OpenCV {cv2.__version__})"},
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
