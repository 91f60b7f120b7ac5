#!/usr/bin/env bash
# The training venv (.venv-train): PyTorch, the flatbuffers writer and the TFLite runtime for
# checking the export. Kept apart from the appliance's venv, which never needs any of it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${TRAIN_VENV:-.venv-train}
STAMP="$VENV/.requirements"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! cmp -s training/requirements.txt "$STAMP"; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r training/requirements.txt
    cp training/requirements.txt "$STAMP"
fi
