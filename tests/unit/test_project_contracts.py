"""Contracts of the project's shape: the API stays light, settings are documented, compose is valid."""

import json
import subprocess
import sys

import jsonschema
import yaml

from pipelines.queues import POOL_KINDS, WORKER_POOLS, WorkerKind
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.time_limits import TimeLimits
from tests.unit.test_images import closure, stage_extras

HEAVY_MODULES = ["torch", "ctranslate2", "faster_whisper", "whisper", "llama_cpp", "piper", "onnxruntime"]


def test_api_process_imports_no_model_runtime() -> None:
    code = f"import sys, api.main; print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_schemas_import_nothing_of_ours() -> None:
    for path in (PROJECT_ROOT / "schemas").glob("*.py"):
        source = path.read_text()
        for package in ("api", "workers", "pipelines", "tools"):
            assert f"from {package}" not in source and f"import {package}" not in source, path


def test_pipelines_import_no_worker_or_api_code() -> None:
    for path in (PROJECT_ROOT / "pipelines").rglob("*.py"):
        source = path.read_text()
        assert "from workers" not in source and "from api" not in source, path


def test_env_example_documents_every_setting_with_its_default() -> None:
    documented = {}
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            documented[name] = value
    expected = {f"VTUBER_{name.upper()}" for name in Settings.model_fields}
    assert set(documented) == expected
    defaults = Settings.model_fields
    assert documented["VTUBER_STT_MODEL"] == defaults["stt_model"].default
    assert documented["VTUBER_LLM_BACKEND"] == defaults["llm_backend"].default
    assert int(documented["VTUBER_TASK_TIME_LIMIT_S"]) == defaults["task_time_limit_s"].default


def test_visibility_timeout_exceeds_every_live_hard_time_limit() -> None:
    settings = Settings()
    assert settings.broker_visibility_timeout_s > TimeLimits(settings).longest_live_hard_s()
    assert settings.broker_visibility_timeout_s > settings.task_time_limit_s > settings.task_soft_time_limit_s


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    schema = json.loads((PROJECT_ROOT / "tests" / "data" / "compose-spec.json").read_text())
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    jsonschema.validate(compose, schema)
    services = compose["services"]
    gpu = services["worker-stt-gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "stt.live.gpu" in " ".join(gpu["command"]) and "stt.live.cpu" in " ".join(
        services["worker-stt-cpu"]["command"]
    )


def test_compose_workers_have_a_healthcheck_their_kind_and_its_image() -> None:
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    workers = {name: service for name, service in services.items() if name.startswith("worker-")}
    assert {"worker-tts-gpu", "worker-stt-gpu"} <= set(workers)
    for name, service in workers.items():
        assert "workers/healthcheck.sh" in " ".join(service["healthcheck"]["test"]), name
        env = service["environment"]
        kind = WorkerKind(env["VTUBER_WORKER_KIND"])
        assert service["build"]["target"] == f"worker-{kind.value}", name
        assert env["VTUBER_WORKER_HEARTBEAT_FILE"] and env["VTUBER_METRICS_PORT"] == "9100", name
        command = service["command"]
        queues = command[command.index("-Q") + 1].split(",")
        pools = [pool for pool, pool_queues in WORKER_POOLS.items() if queues == list(pool_queues)]
        assert pools and POOL_KINDS[pools[0]] is kind, name
        if kind is WorkerKind.llm:
            assert "torch" not in closure(stage_extras(service["build"]["target"])), name
    for name in ("worker-stt-gpu", "worker-tts-gpu", "gpt-sovits", "llm-server"):
        device = services[name]["deploy"]["resources"]["reservations"]["devices"][0]
        assert device["capabilities"] == ["gpu"] and services[name]["profiles"], name
    assert services["worker-tts-gpu"]["environment"]["VTUBER_TTS_DEVICE"] == "cuda"
    for name in ("worker-stt-gpu", "worker-tts-gpu"):  # apt's python3 there must meet requires-python
        assert services[name]["build"]["args"]["BASE_IMAGE"].endswith("-ubuntu24.04"), name
    assert services["gpt-sovits"]["command"] == (
        ["python", "api_v2.py", "-a", "0.0.0.0", "-p", "9880", "-c", "GPT_SoVITS/configs/tts_infer.yaml"]
    )
    assert "http://gpt-sovits:9880" in services["worker-tts"]["environment"]["VTUBER_GPT_SOVITS_URL"]
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "VTUBER_OPENAI_BASE_URL=http://llm-server:8080/v1" in makefile
    assert "--port" in services["llm-server"]["command"] and "8080" in services["llm-server"]["command"]


def test_batch_files_get_time_in_proportion_to_their_audio() -> None:
    limits = TimeLimits(Settings())
    hour = limits.for_batch_file(3600)
    assert hour.soft_s == 300 + 3600 and hour.hard_s == hour.soft_s + 30
    assert limits.for_task("llm.reply").soft_s == 120
    assert limits.for_task("notify.deliver_webhook").soft_s == Settings().task_soft_time_limit_s
