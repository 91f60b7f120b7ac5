"""``affectra-edge analyze FILE...``: faces and emotions in still images, one JSON line each."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from affectra_edge.commands import add_config_argument, load

NAME = "analyze"
HELP = "detect faces and classify emotions in image files (one JSON line per image)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", metavar="FILE", nargs="+")
    add_config_argument(p)
    p.add_argument(
        "--whole-image",
        action="store_true",
        help="take each whole image as one face crop (for already-cropped faces)",
    )


def _why_unreadable(path: Path) -> str:
    """Why ``path`` gave no image, in the words of the ``error`` field."""
    if path.is_dir():
        return "is a directory (give the image files, e.g. folder/*.jpg)"
    if not path.exists():
        return "no such file"
    return "not a readable image"


def run(args: argparse.Namespace) -> int:
    from affectra_edge.analysis import faces_json
    from affectra_edge.pipeline import build_pipeline
    from affectra_edge.sources.file import read_image
    from affectra_edge.types import Box, FaceObservation, Frame

    cfg = load(args)
    pipeline = build_pipeline(cfg)
    failures = 0
    for path in args.files:
        image = read_image(path)
        if image is None:
            failures += 1
            print(json.dumps({"file": path, "error": _why_unreadable(Path(path))}), flush=True)
            continue
        if args.whole_image:
            h, w = image.shape[:2]
            box = Box(0.0, 0.0, float(w), float(h), 1.0)
            obs = [FaceObservation(box, pipeline.classifier.classify(image, [box])[0])]
        else:
            obs, _ = pipeline.observe(Frame(image, 0.0, 0))
        faces = faces_json(obs)
        print(json.dumps({"file": path, "faces": faces}), flush=True)
    # Some unreadable files are reported per file; exit 1 only when nothing could be read.
    return 1 if failures == len(args.files) else 0
