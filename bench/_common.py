"""Small helpers shared by the benchmark scripts (no project imports, so peer venvs can use it).

Peer runner scripts run under *other* virtualenvs' interpreters; they import this module by
path, so it must depend on the standard library and numpy only.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / "peers"
VENVS_DIR = PEERS_DIR / ".venvs"
DATA_DIR = Path(os.environ.get("AFFECTRA_SHARED_DATA", REPO_DIR.parent / "shared" / "data"))

#: env var holding the parent's time.time() just before it started a worker, so that start-up
#: is measured from process start (interpreter + imports + model load) to the first result.
T0_ENV = "AFFECTRA_BENCH_T0"


def peer_python(name: str) -> Path | None:
    """The interpreter of a peer venv created by bench/peers/setup.sh, or None if absent."""
    py = VENVS_DIR / name / "bin" / "python"
    return py if py.exists() else None


def summary(values: list[float] | np.ndarray) -> dict[str, float]:
    """mean / p50 / p95 of a list of numbers (empty → zeros)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0}
    return {
        "mean": float(arr.mean()),
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process image, MiB.

    ``VmHWM`` from /proc/self/status where available: ``getrusage(RUSAGE_SELF).ru_maxrss``
    carries over the RSS the process had *before* ``execve`` — i.e. the forking parent's,
    which here holds the decoded clip — so it over-reports a worker started by subprocess.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_figures(code: str) -> list[str]:
    """The whitespace-separated words ``python -c code`` prints: a measurement in a fresh
    process, so that one case's memory does not carry over into the next."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def startup_s(first_result_time: float) -> float | None:
    t0 = os.environ.get(T0_ENV)
    return (first_result_time - float(t0)) if t0 else None


@dataclass(frozen=True)
class GtBox:
    x: float
    y: float
    w: float
    h: float
    ignore: bool = False


def load_imglab(xml_path: Path) -> dict[str, list[GtBox]]:
    """dlib imglab XML → {image file (relative to the XML's folder): boxes}."""
    root = ET.parse(xml_path).getroot()
    out: dict[str, list[GtBox]] = {}
    for img in root.iter("image"):
        boxes = [
            GtBox(
                float(b.get("left", 0)),
                float(b.get("top", 0)),
                float(b.get("width", 0)),
                float(b.get("height", 0)),
                b.get("ignore", "0") not in ("0", ""),
            )
            for b in img.iter("box")
        ]
        out[img.get("file", "")] = boxes
    return out


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match_detections(
    dets: list[tuple[float, float, float, float, float]],
    gts: list[GtBox],
    min_iou: float = 0.5,
) -> tuple[int, int, int]:
    """Greedy matching, best score first, PASCAL style → (tp, fp, fn).

    A detection that matches an ``ignore`` box is neither a hit nor a false positive, and
    ignored boxes are not counted as misses.
    """
    used = [False] * len(gts)
    tp = fp = 0
    for d in sorted(dets, key=lambda d: -d[4]):
        best, best_iou = -1, min_iou
        for j, g in enumerate(gts):
            if used[j]:
                continue
            v = iou(d[:4], (g.x, g.y, g.w, g.h))
            if v >= best_iou:
                best, best_iou = j, v
        if best < 0:
            fp += 1
        else:
            used[best] = True
            if not gts[best].ignore:
                tp += 1
    fn = sum(1 for j, g in enumerate(gts) if not used[j] and not g.ignore)
    return tp, fp, fn


def machine_info() -> dict[str, str]:
    """CPU model, core count, OS and Python: the context every figure needs."""
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
    }


def emit(obj: dict) -> None:
    """One JSON object on stdout (workers → parent)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def iter_npy_frames(path: str | os.PathLike, limit: int = 0):
    """Yield frames of an (N, H, W, 3) uint8 .npy one at a time with plain reads.

    Not ``np.load`` (the whole clip would count toward peak RSS) and not ``mmap_mode`` (touched
    pages count toward RSS too): each system should hold one frame at a time, as it would with
    a camera.
    """
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if fortran or dtype != np.uint8 or len(shape) != 4:
            raise ValueError(f"{path}: expected C-order uint8 (N, H, W, 3), got {shape} {dtype}")
        n = shape[0] if not limit else min(limit, shape[0])
        size = int(np.prod(shape[1:]))
        for _ in range(n):
            buf = f.read(size)
            if len(buf) != size:
                return
            yield np.frombuffer(buf, dtype=np.uint8).reshape(shape[1:]).copy()


def worker_report(
    system: str,
    per_frame_ms: list[float],
    faces: list[list[list[float]]],
    stages: dict[str, list[float]],
    loop_s: float,
    first_result_time: float,
    extra: dict | None = None,
) -> dict:
    """The JSON every benchmark worker (ours and each peer) prints on its last line.

    ``fps`` is steady state: frames after the first over the time they took (the first frame
    carries lazy initialisation and is counted in ``startup_s`` instead).
    """
    steady = per_frame_ms[1:] if len(per_frame_ms) > 1 else per_frame_ms
    fps = 1000.0 * len(steady) / sum(steady) if steady and sum(steady) > 0 else 0.0
    return {
        "system": system,
        "frames": len(per_frame_ms),
        "fps": fps,
        "loop_s": loop_s,
        "frame_ms": summary(steady),
        "stage_ms": {k: summary(v[1:] if len(v) > 1 else v) for k, v in stages.items()},
        "faces_per_frame": float(np.mean([len(f) for f in faces])) if faces else 0.0,
        "boxes": faces,
        "startup_s": startup_s(first_result_time),
        "peak_rss_mb": peak_rss_mb(),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        **(extra or {}),
    }
