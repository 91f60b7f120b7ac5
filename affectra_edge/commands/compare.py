"""``affectra-edge compare PATH...``: the TFLite model against DeepFace on the same face crops."""

from __future__ import annotations

import argparse
import json
import re
import sys

from affectra_edge.commands import add_config_argument, load

NAME = "compare"
HELP = (
    "run the tflite and deepface back-ends on the same detected faces of images, image "
    "folders, image lists or videos, and report how far they agree"
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        metavar="PATH",
        nargs="+",
        help="image, folder of images (recursive), text file listing images, or video",
    )
    add_config_argument(p)
    p.add_argument(
        "--whole-image",
        action="store_true",
        help="take each whole image as one face crop (for already-cropped faces)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--per-face", action="store_true", help="with --json: include every face's two results"
    )
    p.add_argument(
        "--every", type=_positive, default=1, metavar="N", help="videos: use every N-th frame"
    )
    p.add_argument(
        "--max-frames", type=_positive, default=None, metavar="N", help="videos: at most N frames"
    )


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from affectra_edge.classify import build_classifier
    from affectra_edge.compare import compare_backends, iter_inputs
    from affectra_edge.detect import build_detector

    cfg = load(args)
    # Both back-ends are built before any image is read, so a missing extra or weight file
    # fails at once with its own message and exit code.
    tflite = build_classifier(dataclasses.replace(cfg.classifier, backend="tflite"))
    deepface = build_classifier(dataclasses.replace(cfg.classifier, backend="deepface"))
    detector = None if args.whole_image else build_detector(cfg.detector)
    inputs = iter_inputs(args.paths, every=args.every, max_frames=args.max_frames)
    result = compare_backends(inputs, tflite, deepface, detector=detector)
    # Unreadable images were already logged as warnings (stderr) as they were met.
    if args.json:
        text = json.dumps(result.to_json(faces=args.per_face), indent=2)
        # Flat lists (labels, confusion rows) on one line each. The match must start with "[" and
        # a newline, which JSON strings cannot contain, and is re-encoded from its parsed value,
        # so string contents are never touched.
        print(re.sub(r"\[\n[^\[\]{}]*?\n\s*\]", lambda m: json.dumps(json.loads(m[0])), text))
    else:
        print(result.format_text())
    if not result.pairs:
        hint = "" if args.whole_image else " (for already-cropped faces use --whole-image)"
        print(f"affectra-edge: no faces found in {result.images} images{hint}", file=sys.stderr)
        return 1
    return 0
