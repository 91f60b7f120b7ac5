# The README's two commands: `make demo` and `make test`. Both are idempotent.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.setup-stamp
# what `make test` adds on top: test tools, DeepFace, test photographs (scripts/setup.sh --test)
TEST_STAMP = $(VENV)/.test-setup-stamp

.PHONY: setup test-setup demo test lint format bench models model training-setup system-deps clean \
	integrations-setup \
	test-arm64

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml scripts/setup.sh scripts/requirements-models.txt
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh
	@touch $(STAMP)

test-setup: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP) scripts/requirements-deepface.txt scripts/requirements-test-media.txt
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh --test
	@touch $(TEST_STAMP)

# The emotion model (docs/emotion-model.md): its own venv with PyTorch, CPU only, < 2 h here.
DATA       ?= ../shared/data
TRAIN_PY    = .venv-train/bin/python
MODEL_OUT   = affectra_edge/data/emotion_affectra_int8.tflite

training-setup:
	scripts/setup-training.sh

# Node-RED (npm) so that tests/mqtt/test_integrations.py runs the docs' flow for real.
integrations-setup:
	scripts/setup-integrations.sh

model: setup training-setup
	$(VENV)/bin/python training/teacher.py $(DATA)/fer2013/train.npz -o build/model/teacher.npy \
		--model fer --model affectra=training/teachers/emotion_affectra_54m_int8.tflite
	$(TRAIN_PY) training/train.py --train $(DATA)/fer2013/train.npz \
		--val $(DATA)/fer2013/publictest.npz --out build/model \
		--teacher build/model/teacher.npy
	# a second, gentler cycle from the first one's weights (docs/emotion-model.md)
	$(TRAIN_PY) training/train.py --train $(DATA)/fer2013/train.npz \
		--val $(DATA)/fer2013/publictest.npz --out build/model/cycle2 \
		--teacher build/model/teacher.npy --init build/model/checkpoint.pt --epochs 12 --lr 0.01
	# and a third, longer one from the second's (another seed: other shuffles and augmentations)
	$(TRAIN_PY) training/train.py --train $(DATA)/fer2013/train.npz \
		--val $(DATA)/fer2013/publictest.npz --out build/model/cycle3 \
		--teacher build/model/teacher.npy --init build/model/cycle2/checkpoint.pt --epochs 20 \
		--lr 0.01 --seed 20261201
	$(TRAIN_PY) training/export_tflite.py build/model/cycle3/checkpoint.pt \
		--calib $(DATA)/fer2013/train.npz -o $(MODEL_OUT)
	@echo "pin this sum in affectra_edge/models.py (emotion_affectra):"
	@sha256sum $(MODEL_OUT)

models: setup
	$(VENV)/bin/affectra-edge models verify

demo: setup
	$(VENV)/bin/affectra-edge demo

system-deps:
	scripts/system-deps.sh

# system packages first, so that set-up can build systemd-python against libsystemd
# mypy (settings in pyproject.toml) checks the adapters against the Protocols in ports.py.
test: system-deps test-setup training-setup integrations-setup
	$(VENV)/bin/ruff check affectra_edge tests bench scripts training
	$(VENV)/bin/ruff format --check affectra_edge tests bench scripts training
	$(VENV)/bin/mypy affectra_edge
	$(PY) -m pytest -q

lint: test-setup
	$(VENV)/bin/ruff check affectra_edge tests bench scripts training
	$(VENV)/bin/ruff format --check affectra_edge tests bench scripts training
	$(VENV)/bin/mypy affectra_edge

format: test-setup
	$(VENV)/bin/ruff format affectra_edge tests bench scripts training
	$(VENV)/bin/ruff check --fix affectra_edge tests bench scripts training

bench: test-setup
	bench/run-all.sh

# The release check on aarch64, by emulation (docs/appliance.md): an arm64 Debian userland in
# build/arm64-root, the project's aarch64 wheels, the native-code tests under qemu as a Pi 4 and
# a replay compared with x86-64. Minutes, not seconds: not part of `make test`.
test-arm64: setup
	scripts/test-arm64.sh

clean:
	rm -rf $(VENV) .venv-train build dist *.egg-info test-artifacts
