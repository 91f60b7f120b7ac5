"""Train the low-resolution-robust emotion model on FER2013 (CPU, fixed seeds).

    python training/train.py --train ../shared/data/fer2013/train.npz \
        --val ../shared/data/fer2013/publictest.npz --out build/model

With ``--teacher`` (soft labels from ``teacher.py``), the loss mixes the label with what the
reference model saw in the clean 48-px face (knowledge distillation, ``--distill`` weight at
``--temperature``), so the student learns the teacher's judgement from degraded copies.

Writes ``checkpoint.pt`` (the EMA weights of the epoch with the best mean PublicTest accuracy
over face sizes 48, 24 and 16 px) and ``log.jsonl`` (one line per epoch). Export with
``export_tflite.py``. ``--limit`` and ``--epochs`` make the tiny run the test suite uses.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from augment import augment_batch
from data import EMOTIONS, at_face_size, load
from model import CONVS, WIDTHS, EmotionNet, to_input

SELECT_SIZES = (48, 24, 16)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 512) -> dict:
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            preds.append(model(to_input(x[i : i + batch])).argmax(1).numpy())
    pred = np.concatenate(preds)
    f1 = []
    for c in range(len(EMOTIONS)):
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        f1.append(2 * tp / denom if denom else 0.0)
    return {"acc": float(np.mean(pred == y)), "macro_f1": float(np.mean(f1))}


def teacher_targets(probs: np.ndarray, n: int, temperature: float) -> torch.Tensor:
    """The teacher's probabilities softened to ``temperature`` (p^(1/T), renormalised).

    The int8 teacher's softmax is quantized to 1/256, so near-zero classes are floored before
    the power: a hard zero would forbid the student any mass there.
    """
    if probs.shape != (n, len(EMOTIONS)):
        raise ValueError(f"teacher soft labels are {probs.shape}, expected ({n}, {len(EMOTIONS)})")
    p = np.maximum(probs.astype(np.float64), 1e-4) ** (1.0 / temperature)
    return torch.tensor(p / p.sum(1, keepdims=True), dtype=torch.float32)


def class_weights(y: np.ndarray, power: float) -> torch.Tensor:
    counts = np.bincount(y, minlength=len(EMOTIONS)).astype(np.float64)
    w = (len(y) / (len(EMOTIONS) * np.maximum(counts, 1))) ** power
    return torch.tensor(w / np.mean(w), dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=28)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument(
        "--class-weight-power",
        type=float,
        default=0.5,
        help="loss weight per class ∝ (1/frequency)^power; 0.5 lifts disgust ~3x",
    )
    ap.add_argument("--teacher", help="(N, 7) soft labels for the training faces, from teacher.py")
    ap.add_argument("--distill", type=float, default=0.5, help="weight of the teacher's term")
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="channels per block")
    ap.add_argument("--convs", default=",".join(map(str, CONVS)), help="3×3 convs per block")
    ap.add_argument("--p-lowres", type=float, default=0.6)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N faces of each set")
    ap.add_argument(
        "--init",
        help="start from this checkpoint's weights (a second, gentler learning-rate cycle)",
    )
    args = ap.parse_args(argv)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)

    x_train, y_train = load(args.train)
    x_val, y_val = load(args.val)
    soft = None
    if args.teacher:
        try:
            soft = teacher_targets(np.load(args.teacher), len(x_train), args.temperature)
        except (OSError, ValueError) as exc:
            ap.error(f"--teacher {args.teacher}: {exc}")
    if args.limit:
        pick = np.random.default_rng(args.seed + 1)
        keep = pick.permutation(len(x_train))[: args.limit]
        x_train, y_train = x_train[keep], y_train[keep]
        soft = None if soft is None else soft[keep]
        keep = pick.permutation(len(x_val))[: args.limit]
        x_val, y_val = x_val[keep], y_val[keep]
    val_sets = {px: at_face_size(x_val, px) for px in SELECT_SIZES}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"
    log_path.write_text("")

    model = EmotionNet(
        tuple(int(v) for v in args.widths.split(",")), tuple(int(v) for v in args.convs.split(","))
    )
    if args.init:
        ck = torch.load(args.init, map_location="cpu", weights_only=False)
        if tuple(ck["widths"]) != model.widths or tuple(ck["convs"]) != model.convs:
            ap.error(
                f"--init {args.init}: widths {ck['widths']} convs {ck['convs']}, but this run"
                f" trains widths {model.widths} convs {model.convs}"
            )
        model.load_state_dict(ck["state_dict"])
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    opt = torch.optim.SGD(
        [
            {"params": decay, "weight_decay": args.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )
    steps_per_epoch = math.ceil(len(x_train) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=args.lr,
        epochs=args.epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=0.15,
        div_factor=20,
        final_div_factor=200,
    )
    loss_fn = nn.CrossEntropyLoss(
        weight=class_weights(y_train, args.class_weight_power),
        label_smoothing=args.label_smoothing,
    )
    print(
        f"train {len(x_train)} faces, val {len(x_val)}, {sum(p.numel() for p in model.parameters())}"
        f" parameters, {args.epochs} epochs × {steps_per_epoch} steps, {args.threads} threads"
        + (
            f", distilling from {args.teacher} ({args.distill} at T={args.temperature})"
            if soft is not None
            else ""
        ),
        flush=True,
    )
    best = -1.0
    step = 0
    t_start = time.monotonic()
    for epoch in range(1, args.epochs + 1):
        t0 = time.monotonic()
        model.train()
        order = rng.permutation(len(x_train))
        loss_sum = correct = seen = 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            if len(idx) < 2:
                continue
            xb = to_input(augment_batch(x_train[idx], rng, args.p_lowres))
            yb = torch.from_numpy(y_train[idx])
            logits = model(xb)
            loss = loss_fn(logits, yb)
            if soft is not None:
                t = args.temperature
                kl = F.kl_div(
                    F.log_softmax(logits / t, dim=1),
                    soft[torch.from_numpy(idx)],
                    reduction="batchmean",
                )
                loss = (1 - args.distill) * loss + args.distill * t * t * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            # Warm the average up quickly so short runs (the tests) still get a useful EMA.
            d = min(args.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                    pe.mul_(d).add_(pm.detach(), alpha=1 - d)
                for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
                    be.copy_(bm)
            loss_sum += float(loss.detach()) * len(idx)
            correct += float((logits.argmax(1) == yb).sum())
            seen += len(idx)
        scores = {px: evaluate(ema, xs, y_val) for px, xs in val_sets.items()}
        select = float(np.mean([s["acc"] for s in scores.values()]))
        entry = {
            "epoch": epoch,
            "lr_end": opt.param_groups[0]["lr"],
            "train_loss": loss_sum / max(seen, 1),
            "train_acc": correct / max(seen, 1),
            **{f"val_acc_{px}": s["acc"] for px, s in scores.items()},
            **{f"val_f1_{px}": s["macro_f1"] for px, s in scores.items()},
            "select": select,
            "epoch_s": round(time.monotonic() - t0, 1),
            "total_s": round(time.monotonic() - t_start, 1),
        }
        with log_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        print(json.dumps(entry), flush=True)
        if select > best:
            best = select
            torch.save(
                {
                    "state_dict": ema.state_dict(),
                    "widths": ema.widths,
                    "convs": ema.convs,
                    "epoch": epoch,
                    "select": select,
                    "args": vars(args),
                },
                out / "checkpoint.pt",
            )
    print(f"best mean accuracy over {SELECT_SIZES} px: {best:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
