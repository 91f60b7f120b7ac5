#!/usr/bin/env bash
# Set up the peer systems the benchmarks compare against, each in its OWN virtualenv under
# bench/peers/.venvs/ (git-ignored) — never in the project's .venv, which must never need
# TensorFlow. Idempotent: a venv whose stamp matches this script's pins is left alone.
#
#   fer       fer==25.10.3, default path FER(mtcnn=False): OpenCV Haar cascade + the quantized
#             Keras model through TensorFlow's tf.lite. Also the OpenCV 4.x Haar baseline for
#             bench/accuracy.py (OpenCV 5 wheels have no cascades).
#   deepface  deepface==0.0.103 with detector_backend="opencv" and its ONNX emotion CNN. Its
#             weights cannot be downloaded here, so make_deepface_weights.py writes an ONNX
#             graph with the same layers and RANDOM weights: its figures are speed only.
#
# Only set-up talks to PyPI; running the peers needs no network (DEEPFACE_HOME is pre-filled).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$HERE/.venvs"
PYTHON="${PYTHON:-python3}"
mkdir -p "$VENVS"

# --- fer ---------------------------------------------------------------------------------
# pip's own resolution of `fer==25.10.3` pulls facenet-pytorch → torch + ~3 GB of CUDA wheels
# (used only by mtcnn=True, not the default path) and opencv-contrib-python 5.x, which has no
# Haar cascades, so fer's default path could not even start. We therefore install fer without
# deps and add exactly the dependencies its default path imports, with OpenCV pinned to 4.x.
# tensorflow-cpu is the same TensorFlow without the optional CUDA extras.
FER_PINS=(
  "tensorflow-cpu==2.21.0"
  "opencv-contrib-python==4.14.0.94"
  "pandas" "tqdm" "requests" "Pillow" "matplotlib"
  # fer imports pkg_resources, which setuptools 81+ no longer ships
  "setuptools<81"
)
fer_stamp="fer==25.10.3 ${FER_PINS[*]}"
if [[ "$(cat "$VENVS/fer/.stamp" 2>/dev/null)" != "$fer_stamp" ]]; then
  echo "== peers: creating $VENVS/fer"
  rm -rf "$VENVS/fer"
  "$PYTHON" -m venv "$VENVS/fer"
  "$VENVS/fer/bin/pip" install -q --upgrade pip
  "$VENVS/fer/bin/pip" install -q "${FER_PINS[@]}"
  "$VENVS/fer/bin/pip" install -q --no-deps "fer==25.10.3"
  echo "$fer_stamp" >"$VENVS/fer/.stamp"
fi
"$VENVS/fer/bin/python" - <<'PY'
import cv2
from fer.fer import FER
import numpy as np
assert cv2.__version__.startswith("4."), cv2.__version__
f = FER(mtcnn=False)
f.detect_emotions(np.zeros((120, 160, 3), np.uint8))
print("fer peer ok: opencv", cv2.__version__)
PY

# --- deepface ----------------------------------------------------------------------------
# opencv-contrib-python-headless is pinned below 5 because DeepFace's opencv backend needs
# cv2.CascadeClassifier; onnx is added to write the random-weight emotion graph; werkzeug
# because deepface 0.0.103 imports it unconditionally (commons/image_utils.py) but lists it
# only under its "api" extra.
DF_PINS=("deepface==0.0.103" "opencv-contrib-python-headless==4.14.0.94" "onnx==1.23.2" "werkzeug")
df_stamp="${DF_PINS[*]}"
if [[ "$(cat "$VENVS/deepface/.stamp" 2>/dev/null)" != "$df_stamp" ]]; then
  echo "== peers: creating $VENVS/deepface"
  rm -rf "$VENVS/deepface"
  "$PYTHON" -m venv "$VENVS/deepface"
  "$VENVS/deepface/bin/pip" install -q --upgrade pip
  "$VENVS/deepface/bin/pip" install -q "${DF_PINS[@]}"
  echo "$df_stamp" >"$VENVS/deepface/.stamp"
fi
DEEPFACE_HOME="$VENVS/deepface-home"
WEIGHTS="$DEEPFACE_HOME/.deepface/weights"
mkdir -p "$WEIGHTS"
# The random-weight stand-in for facial_expression_model_weights.onnx (same layer structure).
"$VENVS/deepface/bin/python" "$HERE/make_deepface_weights.py" "$WEIGHTS/facial_expression_model_weights.onnx"
# DeepFace looks for the Haar files in cv2/data first and would otherwise download them into
# $DEEPFACE_HOME: copy the ones the OpenCV 4.x wheel ships, so it never tries.
"$VENVS/deepface/bin/python" - "$WEIGHTS" <<'PY'
import os, shutil, sys
import cv2
for name in ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml"):
    src = os.path.join(cv2.data.haarcascades, name)
    shutil.copy(src, os.path.join(sys.argv[1], name))
PY
DEEPFACE_HOME="$DEEPFACE_HOME" "$VENVS/deepface/bin/python" - <<'PY'
import numpy as np
from deepface import DeepFace
img = np.zeros((120, 160, 3), np.uint8)
DeepFace.analyze(img, actions=["emotion"], detector_backend="opencv", enforce_detection=False, silent=True)
print("deepface peer ok (random weights: speed only)")
PY
echo "== peers ready in $VENVS"
