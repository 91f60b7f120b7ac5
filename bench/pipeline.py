#!/usr/bin/env python3
"""Speed, memory and start-up of this project's pipeline, optionally side by side with peers.

    bench/pipeline.py CLIP [--vs-peers] [--frames N] [--threads N] [--repeat R]
                           [--schedule every_frame|adaptive|both] [--json]

The clip is decoded once (OpenCV), resized to 640 px wide (1920×1080 → 640×360, 320×240 →
640×480), and saved as a temporary .npy outside the repo (deleted at the end). Every system then
runs in a *fresh subprocess* on exactly those frames, one frame at a time, so that peak RSS
(``VmHWM`` at the end; ``ru_maxrss`` would include the forking parent's RSS, see _common.py)
and start-up (process start → first processed frame, including interpreter, imports and model
load) are its own:

- ``affectra-edge``: ``build_pipeline(cfg).process(frame)`` (bench/_ours_worker.py) with the
  product defaults (``affectra_edge.config.Config()``; ``--model`` picks the BlazeFace variant,
  ``both`` runs each as its own system, the default one marked "(default)"), stages
  detect/classify/track from ``FrameResult.stage_ms``; decode is measured here, once.
  ``--schedule`` picks ``[detector] schedule`` (``both``: each as its own system).
- ``fer`` (``--vs-peers``): ``FER(mtcnn=False).detect_emotions`` in bench/peers/.venvs/fer.
- ``deepface`` (``--vs-peers``): ``DeepFace.analyze(..., detector_backend="opencv")`` in
  bench/peers/.venvs/deepface, with RANDOM weights: speed only.

Runs alternate (ours, fer, deepface, ours, …) ``--repeat`` times, first pinned to core 0, then
on all cores; the median run per system is reported. fps is steady state (after the first
frame). Faces per frame are compared against a reference: BlazeFace full-range at the clip's
native resolution on the whole frame plus 2×2 overlapping tiles (a recall *proxy*, not ground
truth); a reference face counts as found when a system's box centre lies inside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

from affectra_edge.config import DetectorConfig

#: the product's detector defaults (``[detector]`` in the config file)
DEFAULT_DETECTOR = DetectorConfig()
TARGET_WIDTH = 640
ONE_CORE = {0}


# ---------------------------------------------------------------------------- decode ----
def decode(clip: Path, limit: int) -> tuple[np.ndarray, list[np.ndarray], dict]:
    """Decode + resize to 640 wide → (frames, native reference boxes per frame, info)."""
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise SystemExit(f"{clip}: cannot open video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[np.ndarray] = []
    refs: list[np.ndarray] = []
    decode_ms: list[float] = []
    reference = ReferenceDetector()
    native = (0, 0)
    while not limit or len(frames) < limit:
        t = time.perf_counter()
        ok, img = cap.read()
        if not ok:
            break
        h, w = img.shape[:2]
        native = (w, h)
        scale = TARGET_WIDTH / w
        small = cv2.resize(
            img,
            (TARGET_WIDTH, round(h * scale)),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        decode_ms.append((time.perf_counter() - t) * 1000.0)
        frames.append(small)
        refs.append(reference.detect(img) * scale)
    cap.release()
    if not frames:
        raise SystemExit(f"{clip}: no frames decoded")
    info = {
        "clip": str(clip),
        "native": f"{native[0]}x{native[1]}",
        "resized": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "frames": len(frames),
        "clip_fps": fps,
        "decode_ms": common.summary(decode_ms),
        "reference_faces_per_frame": float(np.mean([len(r) for r in refs])),
    }
    return np.stack(frames), refs, info


class ReferenceDetector:
    """BlazeFace full-range on the native frame and on 2×2 overlapping tiles, merged by NMS.

    Tiles give the 192-px model four times the pixels per face, so small faces in a
    1920×1080 crowd are found that neither the 640-px systems nor one whole-frame pass see.
    """

    def __init__(self, min_score: float = 0.5):
        from affectra_edge.detect.blazeface import BlazeFaceDetector

        self.det = BlazeFaceDetector("full", min_score=min_score, min_face_px=8, max_faces=64)

    def detect(self, img: np.ndarray) -> np.ndarray:
        from affectra_edge.detect.blazeface import nms

        h, w = img.shape[:2]
        views = [(0, 0, w, h)]
        tw, th = int(w * 0.6), int(h * 0.6)
        for x0 in (0, w - tw):
            for y0 in (0, h - th):
                views.append((x0, y0, tw, th))
        boxes, scores = [], []
        for x0, y0, vw, vh in views:
            for b in self.det.detect(img[y0 : y0 + vh, x0 : x0 + vw]):
                boxes.append([b.x + x0, b.y + y0, b.x + x0 + b.w, b.y + y0 + b.h])
                scores.append(b.score)
        if not boxes:
            return np.zeros((0, 4))
        xyxy, sc = np.asarray(boxes), np.asarray(scores)
        keep = nms(xyxy, sc, 0.3, 256)
        out = xyxy[keep]
        out[:, 2:] -= out[:, :2]  # → x, y, w, h
        return out


def recall_vs_reference(boxes: list[list[list[float]]], refs: list[np.ndarray]) -> float:
    """Share of reference faces with a system box whose centre lies inside (one-to-one)."""
    found = total = 0
    for sys_boxes, ref in zip(boxes, refs, strict=False):
        total += len(ref)
        used = [False] * len(sys_boxes)
        for rx, ry, rw, rh in ref:
            for j, b in enumerate(sys_boxes):
                cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
                if not used[j] and rx <= cx <= rx + rw and ry <= cy <= ry + rh:
                    used[j] = True
                    found += 1
                    break
    return found / total if total else 0.0


# --------------------------------------------------------------------------- systems ----
def our_name(model: str, both: bool, schedule: str = DEFAULT_DETECTOR.schedule) -> str:
    """System label for this project with BlazeFace ``model``.

    Plain "affectra-edge" when only the product default runs; with ``--model both`` each label
    names its model and the product default is marked "(default)". A schedule other than the
    default is named too.
    """
    default = model == DEFAULT_DETECTOR.model
    sched = "" if schedule == DEFAULT_DETECTOR.schedule else f" {schedule}"
    if not both:
        return ("affectra-edge" if default else f"affectra-edge {model}") + sched
    return f"affectra-edge {model}{sched}" + (" (default)" if default and not sched else "")


def systems(
    vs_peers: bool, model: str, schedule: str = "default"
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """name → argv prefix (frames path appended), and name → why it is unavailable."""
    ours = [sys.executable, str(common.BENCH_DIR / "_ours_worker.py")]
    models = [model] if model != "both" else ["short", "full"]
    # The product default first; each model runs with the default min_score.
    models.sort(key=lambda m: m != DEFAULT_DETECTOR.model)
    schedules = {
        "default": [DEFAULT_DETECTOR.schedule],
        "both": ["every_frame", "adaptive"],
    }.get(schedule, [schedule])
    cmds = {
        our_name(m, model == "both", s): [*ours, "--model", m, "--schedule", s]
        for m in models
        for s in schedules
    }
    missing: dict[str, str] = {}
    if vs_peers:
        for name in ("fer", "deepface"):
            py = common.peer_python(name)
            if py is None:
                missing[name] = "peer venv missing: run bench/peers/setup.sh"
            else:
                cmds[name] = [str(py), str(common.PEERS_DIR / f"run_{name}.py")]
    return cmds, missing


def run_worker(argv: list[str], pinned: bool) -> dict:
    env = dict(os.environ)
    env["DEEPFACE_HOME"] = str(common.VENVS_DIR / "deepface-home")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    env[common.T0_ENV] = repr(time.time())
    preexec = (lambda: os.sched_setaffinity(0, ONE_CORE)) if pinned else None
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, preexec_fn=preexec, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(argv[:2])} failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}"
        )
    return json.loads(lines[-1])


def median_run(runs: list[dict]) -> dict:
    """The run with the median fps (its RSS/start-up go with it); start-up is the median."""
    ordered = sorted(runs, key=lambda r: r["fps"])
    best = dict(ordered[len(ordered) // 2])
    ups = [r["startup_s"] for r in runs if r.get("startup_s") is not None]
    best["startup_s"] = statistics.median(ups) if ups else None
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["fps_runs"] = [round(r["fps"], 2) for r in runs]
    return best


def bench(args: argparse.Namespace) -> dict:
    frames, refs, info = decode(args.clip, args.frames)
    cmds, missing = systems(args.vs_peers, args.model, args.schedule)
    tmp = Path(tempfile.mkdtemp(prefix="affectra-bench-"))
    # One face crop and one 128-px detector input gain nothing from more TFLite threads (see
    # PRODUCT.md), so ours keeps the product default of 1 unless --threads says otherwise.
    modes = [("one core", True, 1), ("all cores", False, args.threads)]
    results: dict[str, dict] = {}
    try:
        path = tmp / "frames.npy"
        np.save(path, frames)
        del frames
        for mode, pinned, threads in modes:
            runs: dict[str, list[dict]] = {name: [] for name in cmds}
            for r in range(args.repeat):
                for name, argv in cmds.items():
                    full = [*argv, str(path)]
                    if name.startswith("affectra-edge"):
                        full += ["--threads", str(threads), "--fps", str(info["clip_fps"])]
                    if not args.json:
                        print(f"  [{mode}] run {r + 1}/{args.repeat}: {name} ...", file=sys.stderr)
                    try:
                        runs[name].append(run_worker(full, pinned))
                    except RuntimeError as e:
                        missing[name] = str(e)
            per_sys = {}
            for name, rs in runs.items():
                if not rs:
                    continue
                m = median_run(rs)
                m["recall_vs_reference"] = recall_vs_reference(m.pop("boxes"), refs)
                for extra in rs:
                    extra.pop("boxes", None)
                per_sys[name] = m
            results[mode] = per_sys
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"machine": common.machine_info(), "clip": info, "results": results, "missing": missing}


# ---------------------------------------------------------------------------- report ----
def print_report(out: dict) -> None:
    c = out["clip"]
    print(
        f"\n== {c['clip']}: {c['frames']} frames, {c['native']} resized to {c['resized']}, "
        f"decode+resize {c['decode_ms']['mean']:.2f} ms/frame (mean)"
    )
    print(
        f"reference faces/frame (BlazeFace full, native resolution + 2x2 tiles): "
        f"{c['reference_faces_per_frame']:.2f}"
    )
    print(
        f"affectra-edge: product defaults (affectra_edge.config.DetectorConfig: model "
        f"{DEFAULT_DETECTOR.model!r}, min_score {DEFAULT_DETECTOR.min_score}, min_face_px "
        f"{DEFAULT_DETECTOR.min_face_px}); every model runs at that min_score"
    )
    names = [n for per in out["results"].values() for n in per]
    W = max([15, *(len(n) + 2 for n in names)])  # table column
    SW = max([14, *(len(n) for n in names)])  # stage lines
    for mode, per_sys in out["results"].items():
        print(f"\n-- {mode}")
        print(
            f"{'system':<{W}} {'fps':>8} {'ms/frame p50':>12} {'p95':>7} {'faces/frame':>11} "
            f"{'recall~':>7} {'peak RSS MB':>11} {'start-up s':>10}"
        )
        for name, r in per_sys.items():
            up = f"{r['startup_s']:.2f}" if r.get("startup_s") is not None else "n/a"
            label = name + (" *" if r.get("note") else "")
            print(
                f"{label:<{W}} {r['fps']:>8.1f} {r['frame_ms']['p50']:>12.2f} "
                f"{r['frame_ms']['p95']:>7.2f} {r['faces_per_frame']:>11.2f} "
                f"{r['recall_vs_reference']:>7.2f} {r['peak_rss_mb']:>11.1f} {up:>10}"
            )
        if any(n.startswith("affectra-edge") for n in per_sys):
            print("stage ms (mean / p50 / p95):")
            print(
                f"  {'affectra-edge':<{SW}} decode {c['decode_ms']['mean']:.2f} / "
                f"{c['decode_ms']['p50']:.2f} / {c['decode_ms']['p95']:.2f} (done once, "
                f"not in fps)"
            )
            for name, r in per_sys.items():
                for stage, s in r["stage_ms"].items():
                    print(
                        f"  {name:<{SW}} {stage} {s['mean']:.2f} / {s['p50']:.2f} / {s['p95']:.2f}"
                    )
            for oname, ours in per_sys.items():
                if not oname.startswith("affectra-edge"):
                    continue
                for name, r in per_sys.items():
                    if not name.startswith("affectra-edge") and r["fps"] > 0:
                        # Both decode the same clip the same way: with decode counted, each
                        # frame costs its processing plus the decode measured above.
                        dec = c["decode_ms"]["mean"]
                        with_dec = (1000.0 / r["fps"] + dec) / (1000.0 / ours["fps"] + dec)
                        print(
                            f"ratio {oname} / {name}: {ours['fps'] / r['fps']:.1f}x fps, "
                            f"{with_dec:.1f}x with decode, "
                            f"{ours['peak_rss_mb'] / r['peak_rss_mb']:.2f}x peak RSS, "
                            f"recall~ {ours['recall_vs_reference']:.2f} vs "
                            f"{r['recall_vs_reference']:.2f}"
                        )
    if any(r.get("note") for per in out["results"].values() for r in per.values()):
        print("\n* deepface: speed only, random weights (its weights cannot be downloaded here)")
    for name, why in out["missing"].items():
        print(f"{name}: not run: {why}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clip", type=Path, help="any video file OpenCV can decode")
    ap.add_argument("--vs-peers", action="store_true", help="also run fer and DeepFace")
    ap.add_argument("--frames", type=int, default=0, help="use only the first N frames")
    ap.add_argument(
        "--threads", type=int, default=1, help="TFLite threads in the all-cores run (default 1)"
    )
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs per system and mode")
    ap.add_argument(
        "--model",
        default=DEFAULT_DETECTOR.model,
        choices=["short", "full", "both"],
        help="BlazeFace model for this project (both: run each as its own system; default: "
        f"the product default, {DEFAULT_DETECTOR.model!r})",
    )
    ap.add_argument(
        "--schedule",
        default="default",
        choices=["default", "every_frame", "adaptive", "both"],
        help="[detector] schedule for this project (both: run each as its own system; "
        f"default: the product default, {DEFAULT_DETECTOR.schedule!r})",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if not args.clip.exists():
        print(f"pipeline bench: {args.clip}: no such file", file=sys.stderr)
        return 2
    out = bench(args)
    out["model"] = args.model
    if args.json:
        print(json.dumps(out))
    else:
        print_report(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
