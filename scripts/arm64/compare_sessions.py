#!/usr/bin/env python3
"""Compare two ``affectra-edge replay --json`` outputs (aarch64 against x86-64).

The two runs use different XNNPACK kernels (NEON on aarch64, AVX on x86-64), so scores
differ in the last digits and a face near a threshold may flip on a frame; the sessions must
still agree within the tolerances of issue 14's agreement check: same number of sessions,
start and end within 0.3 s, same dominant emotion, L1 distance of the distributions <= 0.05,
face detections within 2 % or one face (on a short cut, a single borderline score is more
than 2 %). Prints one line per session pair and a verdict; exit 1 on a
disagreement.

    compare_sessions.py X86.jsonl ARM64.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_EDGE_S = 0.3
MAX_L1 = 0.05
MAX_FACE_RATIO = 0.02


@dataclass(frozen=True)
class Run:
    sessions: list[dict]
    summary: dict


def _load(path: Path) -> Run:
    sessions: list[dict] = []
    summary: dict = {}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        if doc.get("type") == "session":
            sessions.append(doc)
        elif doc.get("type") == "summary":
            summary = doc
    if not summary:
        raise SystemExit(f"{path}: no summary line (did the replay finish?)")
    return Run(sorted(sessions, key=lambda s: s["started_at"]), summary)


def _t(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def compare(ref: Run, other: Run) -> list[str]:
    """The disagreements, empty when the runs agree."""
    problems: list[str] = []
    if len(ref.sessions) != len(other.sessions):
        problems.append(
            f"sessions: {len(ref.sessions)} on x86-64, {len(other.sessions)} on aarch64"
        )
    for i, (a, b) in enumerate(zip(ref.sessions, other.sessions, strict=False)):
        d_start = abs(_t(a["started_at"]) - _t(b["started_at"]))
        d_end = abs(_t(a["ended_at"]) - _t(b["ended_at"]))
        l1 = sum(abs(a["emotions"][k] - b["emotions"][k]) for k in a["emotions"])
        print(
            f"  session {i + 1}: start Δ {d_start:.2f} s, end Δ {d_end:.2f} s, "
            f"dominant {a['dominant']}/{b['dominant']}, L1 {l1:.4f}, "
            f"frames {a['frames']}/{b['frames']}"
        )
        if d_start > MAX_EDGE_S or d_end > MAX_EDGE_S:
            problems.append(f"session {i + 1}: start/end differ by {d_start:.2f}/{d_end:.2f} s")
        if a["dominant"] != b["dominant"]:
            problems.append(f"session {i + 1}: dominant {a['dominant']} vs {b['dominant']}")
        if l1 > MAX_L1:
            problems.append(f"session {i + 1}: L1 distance {l1:.4f} > {MAX_L1}")
    faces_a, faces_b = ref.summary["faces"], other.summary["faces"]
    print(f"  faces: {faces_a} on x86-64, {faces_b} on aarch64")
    if abs(faces_a - faces_b) > max(1, MAX_FACE_RATIO * faces_a):
        problems.append(
            f"faces: {faces_a} vs {faces_b} (more than {MAX_FACE_RATIO:.0%} or one apart)"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("x86", type=Path)
    parser.add_argument("arm64", type=Path)
    args = parser.parse_args(argv)
    problems = compare(_load(args.x86), _load(args.arm64))
    for p in problems:
        print(f"  DISAGREE {p}")
    print("  sessions agree" if not problems else "  sessions DISAGREE")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
