#!/usr/bin/env python3
"""Accuracy of the emotion model and of the face detector, through the project's real code.

(a) Emotion: each labelled face goes whole through ``affectra_edge.classify`` (the image is the
    crop; the classifier does its own preprocessing). Prints accuracy, macro-F1, expected
    calibration error, per-class precision/recall/F1, the confusion matrix and ms per face.
    Input: FER2013 PublicTest (``--fer2013 publictest.npz``: ``x`` uint8 (N, 48, 48), ``y``
    0..6 in EMOTIONS order) or any folder laid out ``<label>/*.png`` (``--folder``; label =
    emotion name or its index). On FER2013 also both models side by side at face sizes 48,
    32, 24, 20 and 16 px (shrunk with INTER_AREA, as a distant face is), with and without
    flip test-time averaging, and a sweep of ``[classifier] threshold`` on pseudo-sessions.
    FER2013 shares faces between its splits: with ``--train`` (default: the shared
    ``train.npz``) the table also scores only the test faces whose pixels appear nowhere in
    the training split, the figure a held-out set can be expected to confirm.
    "Through the detector" (``--framing-margins``): each face enlarged into a larger picture,
    found by the product's default detector and cropped with ``crop_face`` at each margin,
    against the dataset's own square: what the detector's framing costs, and which margin.
(b) Detection: photos with dlib imglab box annotations (``--faces DIR`` holding
    ``training.xml``/``testing.xml``): recall and precision at IoU ≥ 0.5 for each BlazeFace
    setting, and for OpenCV's Haar cascade (run in the fer peer venv, which has OpenCV 4.x)
    as the classic baseline.

Defaults use ``../shared/data`` when present. ``--json`` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

from affectra_edge.classify import CROP_MARGIN, build_classifier, crop_face
from affectra_edge.classify.tflite import TFLiteEmotionClassifier
from affectra_edge.config import ClassifierConfig, DetectorConfig
from affectra_edge.detect.blazeface import BlazeFaceDetector
from affectra_edge.sources.usb import to_bgr
from affectra_edge.types import EMOTIONS, Box

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}

#: the product's detector defaults; its setting is marked "(default)" in the report
DEFAULT_DETECTOR = DetectorConfig()

#: BlazeFace settings evaluated on the annotated photos: (model, min_score); the product
#: default is added if it is not among them
DETECTOR_SETTINGS = [
    ("short", 0.5),
    ("short", 0.6),
    ("short", 0.75),
    ("full", 0.5),
    ("full", 0.6),
    ("full", 0.75),
]


# --------------------------------------------------------------------------- emotion ----
def load_fer2013(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        x, y = z["x"], z["y"].astype(np.int64)
    if x.ndim != 3 or len(x) != len(y):
        raise SystemExit(f"{path}: expected x (N, H, W) and y (N,), got {x.shape} and {y.shape}")
    return x, y


def unseen_in(images: np.ndarray, train: np.ndarray) -> np.ndarray:
    """True for each image whose pixels are not those of any training image (exact match)."""
    if images.shape[1:] != train.shape[1:]:
        return np.ones(len(images), dtype=bool)
    known = {face.tobytes() for face in train}
    return np.array([face.tobytes() not in known for face in images], dtype=bool)


def load_folder(root: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """``<label>/*.png`` → images, labels. Unreadable files are reported and skipped."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        name = sub.name.lower()
        if name in EMOTIONS:
            label = EMOTIONS.index(name)
        elif name.isdigit() and int(name) < len(EMOTIONS):
            label = int(name)
        else:
            print(f"accuracy: skipping folder {sub}: not an emotion label", file=sys.stderr)
            continue
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_EXTS:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                print(f"accuracy: cannot read {f}", file=sys.stderr)
                continue
            images.append(img)
            labels.append(label)
    if not images:
        raise SystemExit(f"{root}: no labelled images found (expected <label>/*.png)")
    return images, np.asarray(labels, dtype=np.int64)


def at_face_size(images, px: int | None) -> list[np.ndarray]:
    """Each face shrunk to ``px``×``px`` with INTER_AREA, the way a distant face loses detail
    (``None``: as given). The classifier then does its own resize, as in the appliance."""
    if px is None:
        return list(images)
    return [cv2.resize(img, (px, px), interpolation=cv2.INTER_AREA) for img in images]


def classify_all(images, backend: str, model: str, tta: bool) -> tuple[np.ndarray, np.ndarray]:
    """(N, 7) probabilities and ms per face. ``tta``: average with the mirrored face."""
    clf = build_classifier(ClassifierConfig(backend=backend, model=model))
    n = len(images)
    probs = np.empty((n, len(EMOTIONS)), dtype=np.float64)
    times = np.empty(n, dtype=np.float64)
    for i in range(n):
        img = to_bgr(images[i])
        h, w = img.shape[:2]
        whole = [Box(0.0, 0.0, float(w), float(h))]
        t = time.perf_counter()
        # The whole image is the face crop (FER2013 faces are already cropped and aligned).
        (emo,) = clf.classify(img, whole)
        p = np.asarray(emo.probs)
        if tta:
            (mirrored,) = clf.classify(np.ascontiguousarray(img[:, ::-1]), whole)
            p = (p + np.asarray(mirrored.probs)) / 2.0
        times[i] = (time.perf_counter() - t) * 1000.0
        probs[i] = p
    return probs, times


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE over equal-width confidence bins: Σ (n_b/N)·|accuracy_b − confidence_b|."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def score(probs: np.ndarray, labels: np.ndarray, times: np.ndarray | None = None) -> dict:
    preds = probs.argmax(axis=1)
    n = len(labels)
    k = len(EMOTIONS)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    per_class = {}
    for c, name in enumerate(EMOTIONS):
        tp = int(cm[c, c])
        support = int(cm[c].sum())
        predicted = int(cm[:, c].sum())
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_class[name] = {"precision": p, "recall": r, "f1": f1, "support": support}
    supported = [v for v in per_class.values() if v["support"]]
    out = {
        "faces": n,
        "accuracy": float((preds == labels).mean()) if n else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in supported])) if supported else 0.0,
        "ece": expected_calibration_error(probs, labels) if n else 0.0,
        "per_class": per_class,
        "confusion": cm.tolist(),
    }
    if times is not None:
        out["ms_per_face"] = common.summary(times)
    return out


def evaluate_emotion(
    images,
    labels: np.ndarray,
    backend: str = "tflite",
    model: str = "affectra",
    tta: bool = False,
) -> dict:
    probs, times = classify_all(images, backend, model, tta)
    return {"backend": backend, "model": model, "tta": tta, **score(probs, labels, times)}


def session_sweep(
    probs: np.ndarray,
    labels: np.ndarray,
    thresholds: list[float],
    faces_per_session: int = 10,
    sessions_per_class: int = 400,
    seed: int = 0,
) -> dict[str, dict]:
    """What ``[classifier] threshold`` does to a session's dominant emotion.

    A pseudo-session of class c averages the probabilities of ``faces_per_session`` faces of
    that class drawn at random from ``probs`` (faces of mixed sizes), keeping only faces whose
    top probability reaches the threshold (all of them if none does), as the session builder
    does. Reports the share of sessions whose dominant emotion is right (macro over classes),
    the L1 distance of the mean session distribution from the true one-hot, and the share of
    faces kept.
    """
    rng = np.random.default_rng(seed)
    conf = probs.max(axis=1)
    out = {}
    for t in thresholds:
        right, kept, l1 = [], [], []
        for c in range(len(EMOTIONS)):
            idx = np.nonzero(labels == c)[0]
            if idx.size == 0:
                continue
            hits = 0
            for _ in range(sessions_per_class):
                pick = rng.choice(idx, faces_per_session)
                keep = pick[conf[pick] >= t]
                kept.append(keep.size / pick.size)
                dist = probs[keep if keep.size else pick].mean(axis=0)
                hits += int(dist.argmax() == c)
                l1.append(float(np.abs(dist - np.eye(len(EMOTIONS))[c]).sum()))
            right.append(hits / sessions_per_class)
        out[f"{t:.2f}"] = {
            "session_dominant_correct": float(np.mean(right)),
            "l1_to_truth": float(np.mean(l1)),
            "faces_kept": float(np.mean(kept)),
        }
    return out


def print_emotion(res: dict, source: str) -> None:
    print(
        f"\n== Emotion model {res.get('model', '')} on {source} ({res['faces']} faces, "
        f"backend {res['backend']})"
    )
    print(
        f"accuracy {res['accuracy'] * 100:.2f} %   macro F1 {res['macro_f1']:.3f}   "
        f"ECE {res['ece']:.3f}"
    )
    ms = res["ms_per_face"]
    print(f"ms per face: mean {ms['mean']:.3f}  p50 {ms['p50']:.3f}  p95 {ms['p95']:.3f}")
    print(f"{'class':<9} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for name, v in res["per_class"].items():
        print(
            f"{name:<9} {v['precision']:>9.3f} {v['recall']:>7.3f} {v['f1']:>6.3f} "
            f"{v['support']:>8d}"
        )
    print("confusion matrix (rows = true, columns = predicted):")
    print(" " * 9 + " ".join(f"{n[:7]:>7}" for n in EMOTIONS))
    for name, row in zip(EMOTIONS, res["confusion"], strict=True):
        print(f"{name:<9}" + " ".join(f"{v:>7d}" for v in row))


def evaluate_by_size(
    images, labels, models: list[str], sizes: list[int], tta: bool, unseen: np.ndarray | None
) -> dict:
    """Every model at every face size, without and (``tta``) with flip averaging; with
    ``unseen`` (a mask) also on those faces alone."""
    out: dict = {}
    for model in models:
        out[model] = {}
        for px in sizes:
            faces = at_face_size(images, px)
            probs, times = classify_all(faces, "tflite", model, tta=False)
            row = score(probs, labels, times)
            if unseen is not None:
                u = score(probs[unseen], labels[unseen])
                row["unseen"] = {k: u[k] for k in ("faces", "accuracy", "macro_f1", "ece")}
            if tta:
                tprobs, ttimes = classify_all(faces, "tflite", model, tta=True)
                t = score(tprobs, labels, ttimes)
                row["tta"] = {k: t[k] for k in ("accuracy", "macro_f1", "ece", "ms_per_face")}
            out[model][str(px)] = row
    return out


def print_by_size(res: dict, sizes: list[int]) -> None:
    print("\n== Emotion accuracy by face size (INTER_AREA to N px, then the model's own resize)")
    head = "".join(f"{px:>8}px" for px in sizes)
    print(f"{'model':<22}{head}")
    for model, rows in res.items():
        for label, get in (
            ("accuracy %", lambda r: r["accuracy"] * 100),
            (
                "  + flip TTA %",
                lambda r: r["tta"]["accuracy"] * 100 if "tta" in r else float("nan"),
            ),
            (
                "  not in Train %",
                lambda r: r["unseen"]["accuracy"] * 100 if "unseen" in r else float("nan"),
            ),
            ("macro F1", lambda r: r["macro_f1"]),
            ("ECE", lambda r: r["ece"]),
            ("ms/face", lambda r: r["ms_per_face"]["mean"]),
            (
                "  + flip TTA ms/face",
                lambda r: r["tta"]["ms_per_face"]["mean"] if "tta" in r else float("nan"),
            ),
        ):
            cells = "".join(f"{get(rows[str(px)]):>10.3f}" for px in sizes)
            print(f"{model + ' ' + label:<22}{cells}" if label[0] != " " else f"{label:<22}{cells}")
        print(
            f"{model} F1 per class at " + ", ".join(f"{px}px" for px in (48, 24) if str(px) in rows)
        )
        for name in EMOTIONS:
            cells = "  ".join(
                f"{rows[str(px)]['per_class'][name]['f1']:.3f}"
                for px in (48, 24)
                if str(px) in rows
            )
            print(f"  {name:<9} {cells}")


#: the face's size inside the picture the detector searches (3× its width, edges replicated)
FRAMING_FACE_PX = 144


def evaluate_framing(images, labels: np.ndarray, models: list[str], margins: list[float]) -> dict:
    """Each face enlarged to ``FRAMING_FACE_PX`` (bicubic) in the middle of a picture three
    times as wide (its edges replicated, so no frame line), found by the default detector,
    cropped with ``crop_face`` at each margin and classified; beside it the same faces as the
    dataset cropped them (the whole square). Only faces the detector finds are scored."""
    det = BlazeFaceDetector.from_config(DEFAULT_DETECTOR)
    clfs = {m: TFLiteEmotionClassifier(m, 1) for m in models}
    f = FRAMING_FACE_PX
    found: list[int] = []
    rel: list[tuple[float, float, float]] = []
    preds = {m: {"square": [], **{str(g): [] for g in margins}} for m in models}
    for i, face in enumerate(images):
        gray = cv2.cvtColor(to_bgr(face), cv2.COLOR_BGR2GRAY)
        big = cv2.resize(gray, (f, f), interpolation=cv2.INTER_CUBIC)
        picture = cv2.cvtColor(
            cv2.copyMakeBorder(big, f, f, f, f, cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2BGR
        )
        boxes = det.detect(picture)
        if not boxes:
            continue
        box = max(boxes, key=lambda b: b.area)
        found.append(i)
        rel.append(((box.x - f) / f, (box.y - f) / f, box.w / f))
        for m, clf in clfs.items():
            square = clf.classify_crop(picture[f : 2 * f, f : 2 * f]).probs
            preds[m]["square"].append(int(np.argmax(square)))
            for g in margins:
                p = clf.classify_crop(crop_face(picture, box, g)).probs
                preds[m][str(g)].append(int(np.argmax(p)))
    y = np.asarray(labels)[found]
    r = np.asarray(rel).reshape(-1, 3)
    return {
        "faces": len(images),
        "detected": len(found),
        "box_in_square": {
            k: float(np.median(r[:, j])) if len(r) else float("nan")
            for j, k in enumerate(("x0", "y0", "w"))
        },
        "product_margin": CROP_MARGIN,
        "accuracy": {
            m: {k: float(np.mean(np.asarray(v) == y)) if len(y) else 0.0 for k, v in p.items()}
            for m, p in preds.items()
        },
    }


def print_framing(res: dict) -> None:
    print(
        f"\n== Through the detector: faces enlarged to {FRAMING_FACE_PX} px in a picture 3x as"
        " wide, found by the default detector, cropped with crop_face at each margin"
    )
    b = res["box_in_square"]
    print(
        f"found {res['detected']} of {res['faces']} faces; the detector's box inside the"
        f" dataset's square (median, fraction of its side): left {b['x0']:.3f},"
        f" top {b['y0']:.3f}, width {b['w']:.3f}"
    )
    for model, acc in res["accuracy"].items():
        cells = "  ".join(
            f"{'margin ' + k + ('*' if float(k) == res['product_margin'] else '')} {v * 100:.1f} %"
            for k, v in acc.items()
            if k != "square"
        )
        print(f"{model:<9} dataset square {acc['square'] * 100:.1f} %  {cells}")
    print("(* the product's crop margin; accuracy over the faces found)")


def print_sweep(sweep: dict, model: str) -> None:
    print(
        f"\n== [classifier] threshold on pseudo-sessions ({model}, faces of mixed sizes 16-48 px)"
    )
    print(f"{'threshold':>9} {'dominant right':>15} {'L1 to truth':>12} {'faces kept':>11}")
    for t, r in sweep.items():
        print(
            f"{t:>9} {r['session_dominant_correct'] * 100:>14.1f}% {r['l1_to_truth']:>12.3f} "
            f"{r['faces_kept'] * 100:>10.1f}%"
        )


# ------------------------------------------------------------------------- detection ----
def load_annotations(faces_dir: Path) -> dict[Path, list[common.GtBox]]:
    ann: dict[Path, list[common.GtBox]] = {}
    for name in ("training.xml", "testing.xml"):
        xml = faces_dir / name
        if xml.exists():
            for f, boxes in common.load_imglab(xml).items():
                ann[(xml.parent / f).resolve()] = boxes
    if not ann:
        raise SystemExit(f"{faces_dir}: no training.xml / testing.xml with boxes")
    return ann


def score_setting(
    dets: dict[Path, list[tuple[float, float, float, float, float]]],
    ann: dict[Path, list[common.GtBox]],
) -> dict:
    tp = fp = fn = 0
    for path, gts in ann.items():
        a, b, c = common.match_detections(dets.get(path, []), gts, 0.5)
        tp, fp, fn = tp + a, fp + b, fn + c
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
    }


def evaluate_detection(faces_dir: Path, with_haar: bool = True) -> dict:
    ann = load_annotations(faces_dir)
    images = {}
    for p in ann:
        img = cv2.imread(str(p))
        if img is None:
            print(f"accuracy: cannot read {p}", file=sys.stderr)
            continue
        images[p] = img
    ann = {p: b for p, b in ann.items() if p in images}
    results: dict[str, dict] = {}
    default = (DEFAULT_DETECTOR.model, DEFAULT_DETECTOR.min_score)
    settings = DETECTOR_SETTINGS + ([default] if default not in DETECTOR_SETTINGS else [])
    for model, min_score in settings:
        det = BlazeFaceDetector(
            model,
            min_score=min_score,
            nms_iou=DEFAULT_DETECTOR.nms_iou,
            min_face_px=DEFAULT_DETECTOR.min_face_px,
            max_faces=DEFAULT_DETECTOR.max_faces,
        )
        dets: dict[Path, list] = {}
        spent = 0.0
        for p, img in images.items():
            t = time.perf_counter()
            boxes = det.detect(img)
            spent += time.perf_counter() - t
            dets[p] = [(b.x, b.y, b.w, b.h, b.score) for b in boxes]
        r = score_setting(dets, ann)
        r["ms_per_image"] = spent * 1000.0 / max(1, len(images))
        mark = " (default)" if (model, min_score) == default else ""
        results[f"blazeface {model} min_score {min_score}{mark}"] = r
    haar_note = ""
    if with_haar:
        py = common.peer_python("fer")
        if py is None:
            haar_note = "Haar baseline skipped: run bench/peers/setup.sh (needs OpenCV 4.x)"
        else:
            with tempfile.TemporaryDirectory() as tmp:
                lst = Path(tmp) / "images.json"
                lst.write_text(json.dumps([str(p) for p in images]))
                proc = subprocess.run(
                    [str(py), str(common.PEERS_DIR / "haar_detect.py"), str(lst)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
            if proc.returncode != 0:
                haar_note = f"Haar baseline failed: {proc.stderr.strip()[-300:]}"
            else:
                out = json.loads(proc.stdout.strip().splitlines()[-1])
                haar_note = f"Haar cascade from OpenCV {out['opencv']} (fer peer venv)"
                for name, per_image in out["settings"].items():
                    dets = {Path(k): [tuple(d) for d in v] for k, v in per_image.items()}
                    r = score_setting(dets, ann)
                    r["ms_per_image"] = out["ms_per_image"][name]
                    results[name] = r
    return {
        "images": len(images),
        "faces": sum(1 for b in ann.values() for g in b if not g.ignore),
        "ignored": sum(1 for b in ann.values() for g in b if g.ignore),
        "settings": results,
        "note": haar_note,
    }


def print_detection(res: dict, source: str) -> None:
    print(
        f"\n== Face detection on {source} ({res['images']} images, {res['faces']} faces, "
        f"{res['ignored']} ignored), IoU >= 0.5"
    )
    print(
        f"{'setting':<40} {'recall':>7} {'precision':>9} {'TP':>4} {'FP':>4} {'FN':>4} {'ms/img':>7}"
    )
    for name, r in res["settings"].items():
        print(
            f"{name:<40} {r['recall']:>7.3f} {r['precision']:>9.3f} {r['tp']:>4d} {r['fp']:>4d} "
            f"{r['fn']:>4d} {r['ms_per_image']:>7.2f}"
        )
    if res["note"]:
        print(res["note"])


# ------------------------------------------------------------------------------ main ----
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fer2013", type=Path, help="FER2013 .npz with x (N,48,48) and y")
    ap.add_argument("--folder", type=Path, help="folder laid out <label>/*.png")
    ap.add_argument(
        "--train",
        type=Path,
        help="FER2013 training .npz: also score the test faces not in it (default: the shared one)",
    )
    ap.add_argument("--faces", type=Path, help="folder with dlib imglab training/testing.xml")
    ap.add_argument("--backend", default="tflite", choices=["tflite", "deepface"])
    ap.add_argument(
        "--model",
        default="affectra",
        choices=["affectra", "fer"],
        help="tflite model for the single-size report",
    )
    ap.add_argument(
        "--sizes",
        default="48,32,24,20,16",
        help="FER2013 only: face sizes for the side-by-side table ('' = skip)",
    )
    ap.add_argument(
        "--framing-margins",
        default="0,0.05,0.1,0.15,0.2",
        help="crop margins for 'Through the detector' ('' = skip)",
    )
    ap.add_argument("--no-tta", action="store_true", help="skip the flip test-time averaging")
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N faces")
    ap.add_argument("--no-emotion", action="store_true")
    ap.add_argument("--no-detection", action="store_true")
    ap.add_argument("--no-haar", action="store_true", help="skip the OpenCV Haar baseline")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.train and not args.train.is_file():
        ap.error(f"--train {args.train}: not a file")

    out: dict = {"machine": common.machine_info()}
    if not args.no_emotion:
        source = None
        if args.folder:
            images, labels = load_folder(args.folder)
            source = str(args.folder)
        else:
            npz = args.fer2013 or common.DATA_DIR / "fer2013" / "publictest.npz"
            if npz.exists():
                images, labels = load_fer2013(npz)
                source = str(npz)
            else:
                print(f"accuracy: emotion skipped: {npz} not found", file=sys.stderr)
        if source:
            if args.limit:
                images, labels = images[: args.limit], labels[: args.limit]
            out["emotion"] = evaluate_emotion(images, labels, args.backend, args.model)
            out["emotion"]["source"] = source
            if not args.json:
                print_emotion(out["emotion"], source)
            margins = [float(v) for v in args.framing_margins.split(",") if v.strip()]
            if margins and args.backend == "tflite":
                models = [args.model] if args.folder else ["affectra", "fer"]
                out["framing"] = evaluate_framing(images, labels, models, margins)
                if not args.json:
                    print_framing(out["framing"])
            sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
            if sizes and not args.folder and args.backend == "tflite":
                models = ["affectra", "fer"]
                unseen = None
                train = args.train or common.DATA_DIR / "fer2013" / "train.npz"
                if train.exists():
                    unseen = unseen_in(images, load_fer2013(train)[0])
                    out["not_in_train"] = {"train": str(train), "faces": int(unseen.sum())}
                    if not args.json:
                        print(
                            f"\n{int(unseen.sum())} of {len(unseen)} test faces are not in"
                            f" {train} (the rest appear there pixel for pixel)"
                        )
                out["emotion_by_size"] = evaluate_by_size(
                    images, labels, models, sizes, tta=not args.no_tta, unseen=unseen
                )
                out["threshold_sweep"] = {}
                mixed = [
                    int(v)
                    for v in np.random.default_rng(1).choice([16, 20, 24, 32, 48], len(labels))
                ]
                faces = [
                    cv2.resize(img, (px, px), interpolation=cv2.INTER_AREA)
                    for img, px in zip(images, mixed, strict=True)
                ]
                for model in models:
                    probs, _ = classify_all(faces, "tflite", model, tta=False)
                    out["threshold_sweep"][model] = session_sweep(
                        probs, labels, [0.0, 0.3, 0.4, 0.5, 0.6, 0.7]
                    )
                if not args.json:
                    print_by_size(out["emotion_by_size"], sizes)
                    for model in models:
                        print_sweep(out["threshold_sweep"][model], model)
    if not args.no_detection:
        faces = args.faces or common.DATA_DIR / "photos" / "dlib_faces"
        if faces.exists():
            out["detection"] = evaluate_detection(faces, with_haar=not args.no_haar)
            out["detection"]["source"] = str(faces)
            if not args.json:
                print_detection(out["detection"], str(faces))
        else:
            print(f"accuracy: detection skipped: {faces} not found", file=sys.stderr)
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
