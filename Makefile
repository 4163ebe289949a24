# The two first commands on a fresh machine: `make repro` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Offline hygiene: no telemetry, nothing that phones home.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
# DVC runs each stage's `python -m stages.<name>` through the shell: it must find the venv's python.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv repro test test-all bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

## Build the whole pipeline on the embedded corpora (or whatever params.yaml selects).
repro: $(STAMP)
	$(BIN)/dvc repro

## The test suite (offline, < 10 minutes on 2 cores). Long runs are marked `slow`: see test-all.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

## Speed and memory targets, printed as a table.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf data models plots samples reports mlflow.db mlruns mlartifacts .pytest_cache
