#!/usr/bin/env python3
"""What the appliance says people felt, before and after the low-resolution work (issue 12).

Each clip runs through the real pipeline (detect → classify → track → sessions) four ways:

- ``fer @640``: the ``fer`` model on crops from a 640-px-wide frame — the product before;
- ``fer full``: the same model, crops from the full-resolution frame;
- ``affectra @640``: our model on crops from the 640-px frame;
- ``affectra full``: our model, detection on the 640-px copy, crops from the full frame —
  the product now.

Prints per way: sessions, the dwell-weighted session mix (each finished session's emotion
distribution weighted by its duration; what the dashboard's mix shows), the per-face-frame
mix, the share of frames whose top probability reaches each threshold, and the extra cost of
the full-resolution path per frame (resize to the detection width, and the crops).
Defaults to the clips in ``../shared/data/video`` and 60 s of the demo scene.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

from affectra_edge.config import ClassifierConfig, Config
from affectra_edge.pipeline import build_pipeline
from affectra_edge.sources import make_frame
from affectra_edge.sources.demo import scene_frames
from affectra_edge.types import EMOTIONS, Frame

WAYS = (("fer", False), ("fer", True), ("affectra", False), ("affectra", True))


def load_clip(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"{path}: cannot open")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    return frames, float(fps)


def frames_for(images: list[np.ndarray], fps: float, full: bool, width: int = 640) -> list[Frame]:
    out = []
    for i, img in enumerate(images):
        frame = make_frame(img, 1_000_000.0 + i / fps, i, width)
        # "before": the same detection-sized picture, without the full frame to crop from
        out.append(frame if full else Frame(frame.image, frame.timestamp, frame.index))
    return out


def run_way(frames: list[Frame], model: str) -> dict:
    cfg = Config()
    cfg = cfg.replace(classifier=ClassifierConfig(model=model))
    pipeline = build_pipeline(cfg)
    sessions = []
    per_face = []
    for f in frames:
        r = pipeline.process(f)
        per_face += [np.asarray(t.emotions.probs) for t in r.faces if t.visible and t.emotions]
        sessions += [e.session for e in r.events if e.kind == "end"]
    sessions += [e.session for e in pipeline.finish() if e.kind == "end"]
    weights = np.array([max(s.duration_s, 1e-3) for s in sessions])
    mix = (
        (np.array([s.emotions.probs for s in sessions]) * weights[:, None]).sum(0) / weights.sum()
        if sessions
        else np.zeros(len(EMOTIONS))
    )
    faces = np.array(per_face) if per_face else np.zeros((0, len(EMOTIONS)))
    conf = faces.max(axis=1) if len(faces) else np.zeros(0)
    return {
        "sessions": len(sessions),
        "session_dominants": [s.dominant for s in sessions],
        "dwell_weighted_mix": dict(zip(EMOTIONS, np.round(mix, 4).tolist(), strict=True)),
        "face_frames": len(faces),
        "face_frame_mix": dict(
            zip(EMOTIONS, np.round(faces.mean(0) if len(faces) else mix, 4).tolist(), strict=True)
        ),
        "confident_share": {
            f"{t:.1f}": float((conf >= t).mean()) if len(conf) else 0.0 for t in (0.4, 0.5, 0.6)
        },
    }


def full_res_cost(images: list[np.ndarray], width: int = 640, repeat: int = 3) -> dict:
    """ms per frame for the detection copy (resize) and for JPEG decode at both sizes."""
    if images[0].shape[1] <= width:
        return {}
    small = [cv2.resize(i, (width, round(i.shape[0] * width / i.shape[1]))) for i in images[:30]]
    big_jpg = [cv2.imencode(".jpg", i, [cv2.IMWRITE_JPEG_QUALITY, 85])[1] for i in images[:30]]
    small_jpg = [cv2.imencode(".jpg", i, [cv2.IMWRITE_JPEG_QUALITY, 85])[1] for i in small]

    def ms(fn, items) -> float:
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            for it in items:
                fn(it)
            best = min(best, (time.perf_counter() - t) * 1000 / len(items))
        return best

    return {
        "frame": f"{images[0].shape[1]}x{images[0].shape[0]}",
        "resize_to_detect_ms": ms(lambda i: make_frame(i, 0.0, 0, width), images[:30]),
        "decode_full_ms": ms(lambda b: cv2.imdecode(b, cv2.IMREAD_COLOR), big_jpg),
        "decode_detect_size_ms": ms(lambda b: cv2.imdecode(b, cv2.IMREAD_COLOR), small_jpg),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    clips = args.clips or sorted((common.DATA_DIR / "video").glob("*.*"))
    inputs: list[tuple[str, list[np.ndarray], float]] = []
    for c in clips:
        imgs, fps = load_clip(c)
        inputs.append((c.name, imgs, fps))
    if not args.no_demo:
        inputs.append(("demo scene (60 s)", [f.image for f in scene_frames(60, fps=10)], 10.0))
    out: dict = {"machine": common.machine_info(), "clips": {}}
    for name, imgs, fps in inputs:
        res: dict = {"size": f"{imgs[0].shape[1]}x{imgs[0].shape[0]}", "frames": len(imgs)}
        for model, full in WAYS:
            res[f"{model} {'full' if full else '@640'}"] = run_way(
                frames_for(imgs, fps, full), model
            )
        res["cost"] = full_res_cost(imgs)
        out["clips"][name] = res
        if not args.json:
            print(f"\n== {name}: {res['size']}, {res['frames']} frames")
            print(
                f"{'way':<15} {'sessions':>8}  dwell-weighted session mix (top 3)   per-frame top 3"
            )
            for model, full in WAYS:
                key = f"{model} {'full' if full else '@640'}"
                r = res[key]

                def top(mix: dict) -> str:
                    items = sorted(mix.items(), key=lambda kv: -kv[1])[:3]
                    return " ".join(f"{k} {v * 100:.0f}%" for k, v in items)

                print(
                    f"{key:<15} {r['sessions']:>8}  {top(r['dwell_weighted_mix']):<36} "
                    f"{top(r['face_frame_mix'])}"
                )
            if res["cost"]:
                c = res["cost"]
                print(
                    f"full-resolution path on {c['frame']}: detection copy "
                    f"{c['resize_to_detect_ms']:.2f} ms/frame; JPEG decode "
                    f"{c['decode_full_ms']:.2f} ms full vs {c['decode_detect_size_ms']:.2f} ms "
                    "at the detection size"
                )
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
