"""One image per worker kind: each Dockerfile stage installs its kind's extras, whose dependency
closure holds everything that kind's process imports and none of the other kinds' runtimes."""

import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from functools import cache

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipelines.queues import WorkerKind
from pipelines.settings import PROJECT_ROOT

PROJECT = "vtuber-backend"
# The worker image stage of each kind, and what it must never install.
KIND_STAGES: dict[WorkerKind, str] = {
    WorkerKind.stt: "worker-stt",
    WorkerKind.llm: "worker-llm",
    WorkerKind.tts: "worker-tts",
    WorkerKind.animation: "worker-animation",
    WorkerKind.notify: "worker-notify",
    WorkerKind.memory: "worker-memory",
    WorkerKind.chat: "worker-chat",
}
FORBIDDEN: dict[WorkerKind, set[str]] = {
    WorkerKind.stt: {"llama-cpp-python", "piper-tts"},
    # onnxruntime is the LLM image's: it embeds the viewer's line for memory recall (workers/embedding.py).
    WorkerKind.llm: {"torch", "ctranslate2", "piper-tts", "openai-whisper"},
    WorkerKind.tts: {"torch", "llama-cpp-python", "ctranslate2"},
    WorkerKind.animation: {"torch", "llama-cpp-python", "ctranslate2"},
    WorkerKind.notify: {"torch", "llama-cpp-python", "onnxruntime", "ctranslate2", "av"},
    WorkerKind.memory: {"llama-cpp-python", "piper-tts", "ctranslate2"},
    WorkerKind.chat: {"torch", "llama-cpp-python", "onnxruntime", "ctranslate2", "piper-tts", "av"},
}
# Modules beyond the task modules that a kind loads on first use (its model backends).
BACKEND_MODULES: dict[WorkerKind, list[str]] = {
    WorkerKind.stt: ["workers.stt.faster_whisper_backend", "workers.stt.openai_whisper_backend"],
    WorkerKind.llm: ["workers.llm.local_llama", "workers.llm.openai_chat"],
    WorkerKind.tts: ["workers.tts.piper_backend", "workers.tts.gpt_sovits"],
    WorkerKind.animation: [],
    WorkerKind.notify: [],
    WorkerKind.memory: ["workers.memory_runtime"],
    WorkerKind.chat: ["workers.chat_host"],
}

# Imported when present, never required: celery.utils.threads tries greenlet, structlog tries attrs;
# setuptools' _distutils_hack is loaded by a .pth file of this virtualenv at interpreter start.
OPTIONAL_IMPORTS = {"greenlet", "attrs", "setuptools"}


def dockerfile_stages() -> dict[str, tuple[str, set[str]]]:
    """Each stage: its parent (FROM) and the project extras its own `pip install .[...]` lines add."""
    stages: dict[str, tuple[str, set[str]]] = {}
    current = ""
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        if match := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line):
            current = match[2]
            stages[current] = (match[1], set())
        elif current and (match := re.search(r"pip install '?\.(?:\[([a-z,-]+)\])?'?(?:\s|$)", line)):
            stages[current][1].update(filter(None, (match[1] or "").split(",")))
            stages[current][1].add("")  # the base install
    return stages


def stage_extras(stage: str) -> set[str]:
    stages = dockerfile_stages()
    extras: set[str] = set()
    while stage in stages:
        parent, own = stages[stage]
        extras |= own
        stage = parent
    return extras


@cache
def project_requirements() -> dict[str, list[str]]:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return {"": pyproject["dependencies"], **pyproject["optional-dependencies"]}


def closure(extras: set[str]) -> set[str]:
    """Distributions pip installs for the project with ``extras`` (markers judged on this machine)."""
    seen: set[str] = set()
    pending: list[tuple[str, str]] = []  # (requirement string, the extra it was asked through)
    for extra in extras:
        pending += [(req, "") for req in project_requirements()[extra]]
    while pending:
        raw, via_extra = pending.pop()
        req = Requirement(raw)
        if req.marker and not req.marker.evaluate({"extra": via_extra}):
            continue
        name = canonicalize_name(req.name)
        if name == PROJECT:  # a self-reference: speech = vtuber-backend[stt,tts]
            pending += [(r, "") for extra in req.extras for r in project_requirements()[extra]]
            continue
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for sub in metadata.requires(req.name) or []:
            marker_extras = req.extras or {""}
            pending += [(sub, extra) for extra in marker_extras]
    return {key.split("[")[0] for key in seen}


def imported_distributions(kind: WorkerKind) -> set[str]:
    """The distributions whose modules a worker of ``kind`` has loaded after importing its tasks
    and its model backends (the backends load on first use in production)."""
    code = (
        "import importlib, json, sys, workers.runtime as r; r.app.loader.import_default_modules(); "
        f"[importlib.import_module(m) for m in {BACKEND_MODULES[kind]!r}]; "
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "VTUBER_WORKER_KIND": kind.value},
        check=True,
    )
    top_level = json.loads(out.stdout.strip().splitlines()[-1])
    owners = metadata.packages_distributions()
    ours = {"api", "pipelines", "schemas", "tools", "workers"}
    return {
        canonicalize_name(dist)
        for module in top_level
        if module not in ours and module not in sys.stdlib_module_names
        for dist in owners.get(module, [])
    }


def test_every_worker_stage_installs_its_extras_and_names_its_kind() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for kind, stage in KIND_STAGES.items():
        assert "" in stage_extras(stage), f"{stage} installs no project"
        body = dockerfile.split(f"AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
        assert f"ENV VTUBER_WORKER_KIND={kind.value}" in body, stage
    assert stage_extras("api") == {"", "api", "ops", "memory-store"}  # it erases memories, encodes ogg


@pytest.mark.parametrize("kind", list(WorkerKind))
def test_a_kinds_image_holds_what_it_imports_and_no_foreign_runtime(kind: WorkerKind) -> None:
    installed = closure(stage_extras(KIND_STAGES[kind]))
    assert installed & FORBIDDEN[kind] == set()
    missing = imported_distributions(kind) - installed - OPTIONAL_IMPORTS
    assert missing == set(), f"{KIND_STAGES[kind]} imports what it does not install"


def test_the_llm_image_has_no_torch_and_the_stt_image_no_llama_cpp() -> None:
    assert "torch" not in closure(stage_extras("worker-llm"))
    assert "llama-cpp-python" not in closure(stage_extras("worker-stt"))
    assert "torch" in closure(stage_extras("worker-stt"))  # the closure does see through extras
