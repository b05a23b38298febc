# One entry point for people and CI. `make demo` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MONGO_VENV := .venv-mongo
PYTEST_ARGS ?=

.PHONY: install demo run test lint format typecheck bench schemas up down clean

$(VENV)/.installed: pyproject.toml
	bash tools/install-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[speech,llm,ops,dev]'
	touch $@

$(MONGO_VENV)/.installed:
	test -x $(MONGO_VENV)/bin/python || $(PYTHON) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/pip install --quiet secantusdb==0.7.0b3
	touch $@

install: $(VENV)/.installed $(MONGO_VENV)/.installed  ## everything the demo and the tests need

demo: install  ## one spoken turn end to end on the embedded default, then stop
	$(PY) -m tools.cli demo

run: install  ## the embedded stack in the foreground, URLs printed
	$(PY) -m tools.cli run

test: install lint  ## the whole suite (real Redis, MongoDB-protocol server, workers, models)
	$(PY) -m pytest -ra $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) -m tools.export_schemas --check

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/bench_stt_direct.py
	$(PY) bench/bench_tts_animation.py
	$(PY) bench/bench_pipeline.py
	$(PY) -m bench.bench_live_latency
	$(PY) -m bench.bench_load

schemas: $(VENV)/.installed
	$(PY) -m tools.export_schemas

up:  ## the production-shaped stack with Docker
	docker compose up -d --build

down:
	docker compose down

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
