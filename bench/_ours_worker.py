"""Benchmark worker for this project: frames .npy → ``Pipeline.process`` → one JSON line.

Started by ``bench/pipeline.py`` in a fresh process (so peak RSS and start-up are this
system's alone). Usage: ``_ours_worker.py FRAMES.npy [--threads N] [--model short|full]
[--min-score S] [--fps F] [--frames-limit N] [--schedule every_frame|adaptive]``; model,
min_score and schedule default to the product's ``[detector]`` defaults
(``affectra_edge.config.DetectorConfig``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("frames")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None, choices=["short", "full"], help="default: config's")
    ap.add_argument("--min-score", type=float, default=None)
    ap.add_argument("--fps", type=float, default=25.0, help="clip frame rate (for timestamps)")
    ap.add_argument("--frames-limit", type=int, default=0)
    ap.add_argument("--schedule", default=None, choices=["every_frame", "adaptive"])
    args = ap.parse_args(argv)

    # Imports are part of start-up, as they are for the peers.
    import dataclasses

    from affectra_edge.config import Config
    from affectra_edge.pipeline import build_pipeline
    from affectra_edge.types import Frame

    cfg = Config()
    det = dataclasses.replace(cfg.detector, num_threads=args.threads)
    if args.model is not None:
        det = dataclasses.replace(det, model=args.model)
    if args.min_score is not None:
        det = dataclasses.replace(det, min_score=args.min_score)
    if args.schedule is not None:
        det = dataclasses.replace(det, schedule=args.schedule)
    cfg = cfg.replace(
        detector=det, classifier=dataclasses.replace(cfg.classifier, num_threads=args.threads)
    )
    pipeline = build_pipeline(cfg)

    per_frame: list[float] = []
    stages: dict[str, list[float]] = {"detect": [], "classify": [], "track": []}
    faces: list[list[list[float]]] = []
    first = 0.0
    sessions = 0
    t_loop = time.perf_counter()
    for i, image in enumerate(common.iter_npy_frames(args.frames, args.frames_limit)):
        t = time.perf_counter()
        res = pipeline.process(Frame(image, i / args.fps, i))
        per_frame.append((time.perf_counter() - t) * 1000.0)
        if i == 0:
            first = time.time()
        for k in stages:
            stages[k].append(res.stage_ms.get(k, 0.0))
        faces.append([list(f.box.as_list()) for f in res.faces if f.visible])
        sessions += sum(1 for e in res.events if e.kind == "end")
    sessions += sum(1 for e in pipeline.finish() if e.kind == "end")
    loop_s = time.perf_counter() - t_loop
    from affectra_edge import __version__

    common.emit(
        common.worker_report(
            "affectra-edge",
            per_frame,
            faces,
            stages,
            loop_s,
            first,
            {
                "version": __version__,
                "detector": f"blazeface {det.model} min_score {det.min_score} {det.schedule}",
                "threads": args.threads,
                "sessions": sessions,
            },
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
