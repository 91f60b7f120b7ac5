"""OpenCV Haar cascade face detection on a list of images: the classic baseline.

Runs in the fer peer venv (OpenCV 4.x still ships ``cv2/data/haarcascade_*.xml``; the project's
OpenCV 5 has no cascades). Usage: ``haar_detect.py IMAGES.json`` where the file holds a list of
image paths; prints one JSON object ``{"settings": {name: {path: [[x, y, w, h, score], ...]}},
"ms_per_image": {name: ms}}``.
"""

from __future__ import annotations

import json
import sys
import time

import cv2

#: (scaleFactor, minNeighbors, minSize) — as the peers call it, plus OpenCV's own default
SETTINGS = {
    "haar fer-default (1.1, 5, min 50px)": (1.1, 5, 50),
    "haar deepface (1.1, 10)": (1.1, 10, 0),
    "haar opencv-default (1.1, 3)": (1.1, 3, 0),
}


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        paths = json.load(f)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    out: dict[str, dict[str, list]] = {}
    ms: dict[str, float] = {}
    for name, (sf, mn, minsize) in SETTINGS.items():
        res: dict[str, list] = {}
        spent = 0.0
        for p in paths:
            img = cv2.imread(p)
            if img is None:
                print(f"haar_detect: cannot read {p}", file=sys.stderr)
                res[p] = []
                continue
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            t = time.perf_counter()
            faces, _levels, weights = cascade.detectMultiScale3(
                gray, sf, mn, minSize=(minsize, minsize), outputRejectLevels=True
            )
            spent += time.perf_counter() - t
            res[p] = [
                [float(x), float(y), float(w), float(h), float(s)]
                for (x, y, w, h), s in zip(faces, list(weights) or [1.0] * len(faces), strict=True)
            ]
        out[name] = res
        ms[name] = spent * 1000.0 / max(1, len(paths))
    print(json.dumps({"opencv": cv2.__version__, "settings": out, "ms_per_image": ms}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
