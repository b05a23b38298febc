"""Contracts of the project's shape: the API stays light, settings are documented, compose is valid."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.time_limits import TimeLimits

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


def test_grafana_dashboard_is_json_with_panels() -> None:
    dashboard = json.loads(Path(PROJECT_ROOT / "grafana" / "dashboards" / "vtuber.json").read_text())
    assert dashboard["panels"] and all(panel["targets"] for panel in dashboard["panels"])


def test_batch_files_get_time_in_proportion_to_their_audio() -> None:
    limits = TimeLimits(Settings())
    hour = limits.for_batch_file(3600)
    assert hour.soft_s == 300 + 3600 and hour.hard_s == hour.soft_s + 30
    assert limits.for_task("llm.reply").soft_s == 120
    assert limits.for_task("notify.deliver_webhook").soft_s == Settings().task_soft_time_limit_s
