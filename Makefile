# The README's two commands: `make demo` and `make test`. Both are idempotent.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.setup-stamp

.PHONY: setup demo test lint format bench models system-deps clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml scripts/setup.sh scripts/requirements-models.txt \
		scripts/requirements-deepface.txt
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh
	@touch $(STAMP)

models: setup
	$(VENV)/bin/affectra-edge models verify

demo: setup
	$(VENV)/bin/affectra-edge demo

system-deps:
	scripts/system-deps.sh

# system packages first, so that set-up can build systemd-python against libsystemd
test: system-deps setup
	$(VENV)/bin/ruff check affectra_edge tests bench scripts
	$(VENV)/bin/ruff format --check affectra_edge tests bench scripts
	$(PY) -m pytest -q

lint:
	$(VENV)/bin/ruff check affectra_edge tests bench scripts
	$(VENV)/bin/ruff format --check affectra_edge tests bench scripts

format:
	$(VENV)/bin/ruff format affectra_edge tests bench scripts
	$(VENV)/bin/ruff check --fix affectra_edge tests bench scripts

bench: setup
	bench/run-all.sh

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts
