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

.PHONY: venv repro test test-slow test-all bench ui clean

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

## The long runs (2-process torchrun training, a second whole tiny build in another clone): ~4 min.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

## Speed and memory targets, printed as a table.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## The MLflow UI on this machine only (http://127.0.0.1:5000), over the project's own store.
UI_PORT ?= 5000
ui: $(STAMP)
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(UI_PORT) --backend-store-uri sqlite:///$(CURDIR)/mlflow.db \
		--artifacts-destination $(CURDIR)/mlartifacts

## Everything the pipeline and its tracking write (metrics/ and dvc.lock are tracked in git and stay).
CLEAN_PATHS := data models plots samples reports test-artifacts mlflow.db mlruns mlartifacts .dvc/tmp .pytest_cache
clean:
	rm -rf $(CLEAN_PATHS)
