# One entry point for people and CI. `make demo` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MONGO_VENV := .venv-mongo
PYTEST_ARGS ?=

.PHONY: install demo run test lint format typecheck bench schemas up down logs compose-env clean

$(VENV)/.installed: pyproject.toml
	bash tools/install-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[api,speech,llm,memory,ops,dev]'
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
	$(PY) -m bench.bench_gpt_sovits
	$(PY) bench/bench_pipeline.py
	$(PY) -m bench.bench_live_latency
	$(PY) -m bench.bench_turn_cost
	$(PY) -m bench.bench_mongo_ops
	$(PY) -m bench.bench_load
	$(PY) -m bench.bench_memory
	$(PY) -m bench.bench_barge_in
	$(PY) -m bench.bench_realtime_listen
	nice -n 10 $(PY) -m bench.bench_persona --merge

schemas: $(VENV)/.installed
	$(PY) -m tools.export_schemas

# --- Docker compose (docker-compose.yml) --------------------------------------------------------------
# PROFILES="gpu gpt-sovits llm-server" adds the GPU pools and engines; with llm-server the LLM
# workers are pointed at it (these variables win over .env). SERVICES narrows `make logs`.
COMPOSE ?= docker compose
PROFILES ?=
SERVICES ?=
COMPOSE_SECRETS := REDIS_PASSWORD MONGO_ROOT_USERNAME MONGO_ROOT_PASSWORD FLOWER_BASIC_AUTH \
	VTUBER_WEBHOOK_SECRET GRAFANA_ADMIN_USER GRAFANA_ADMIN_PASSWORD
LLM_SERVER_ENV := $(if $(filter llm-server,$(PROFILES)),VTUBER_LLM_BACKEND=openai \
	VTUBER_OPENAI_BASE_URL=http://llm-server:8080/v1 VTUBER_OPENAI_MODEL=local)
COMPOSE_RUN = $(LLM_SERVER_ENV) $(COMPOSE) $(foreach profile,$(PROFILES),--profile $(profile))

compose-env:  ## .env holds every credential compose needs, none left at its example value
	@test -f .env || { echo ".env is missing: append .env.compose.example to it and change every value"; exit 1; }
	@for name in $(COMPOSE_SECRETS); do \
		grep -q "^$$name=." .env || { echo ".env: $$name is not set (see .env.compose.example)"; exit 1; }; \
	done
	@if grep -q "change-me" .env; then echo ".env still holds a change-me example value"; exit 1; fi

up: compose-env  ## the production-shaped stack with Docker
	$(COMPOSE_RUN) up -d --build --wait

down: compose-env
	$(COMPOSE_RUN) down --remove-orphans

logs: compose-env  ## follow the stack's logs (SERVICES="api worker-llm" for some)
	$(COMPOSE_RUN) logs -f --tail=200 $(SERVICES)

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
