"""Each kind of worker imports only its own tasks, and those are all its queues can bring it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.queues import KIND_TASKS, POOL_KINDS, TASK_ROUTES, WORKER_POOLS, TaskName, WorkerKind
from pipelines.settings import PROJECT_ROOT

HEALTHCHECK = PROJECT_ROOT / "workers" / "healthcheck.sh"
# What each kind must never load: the runtimes of the other kinds.
FOREIGN_RUNTIMES: dict[WorkerKind, list[str]] = {
    WorkerKind.stt: ["llama_cpp", "piper", "onnx"],
    WorkerKind.llm: ["torch", "ctranslate2", "faster_whisper", "whisper", "piper", "onnxruntime", "av"],
    WorkerKind.tts: ["torch", "ctranslate2", "faster_whisper", "whisper", "llama_cpp"],
    WorkerKind.animation: ["torch", "ctranslate2", "faster_whisper", "whisper", "llama_cpp"],
    WorkerKind.notify: ["torch", "ctranslate2", "faster_whisper", "llama_cpp", "piper", "onnxruntime"],
    # its embedding model (torch) loads on the first task, not at start
    WorkerKind.memory: ["torch", "ctranslate2", "faster_whisper", "whisper", "llama_cpp", "piper"],
    WorkerKind.chat: ["torch", "ctranslate2", "faster_whisper", "whisper", "llama_cpp", "piper", "onnx"],
}
STT_TASKS = {TaskName.transcribe_utterance, TaskName.transcribe_file}  # routed at send time


def test_every_task_belongs_to_exactly_one_kind() -> None:
    owners = [task for tasks in KIND_TASKS.values() for task in tasks]
    assert sorted(owners) == sorted(TaskName)


def test_each_pool_registers_every_task_its_queues_can_bring() -> None:
    for pool, queues in WORKER_POOLS.items():
        routed = {task for task, route in TASK_ROUTES.items() if route["queue"] in queues}
        if any(queue.value.startswith("stt.") for queue in queues):
            routed |= STT_TASKS  # the CPU/GPU switch may send either STT task to any STT queue
        assert routed, pool
        assert routed <= set(KIND_TASKS[POOL_KINDS[pool]]), pool
    assert set(POOL_KINDS) == set(WORKER_POOLS)


@pytest.mark.parametrize("kind", list(WorkerKind))
def test_a_worker_process_imports_only_its_kind(kind: WorkerKind) -> None:
    code = (
        "import json, sys, workers.runtime as r; r.app.loader.import_default_modules(); "
        "print(json.dumps([sorted(n for n in r.app.tasks if not n.startswith('celery.')), "
        f"[m for m in {FOREIGN_RUNTIMES[kind]!r} if m in sys.modules]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "VTUBER_WORKER_KIND": kind.value},
        check=True,
    )
    registered, foreign = json.loads(out.stdout.strip().splitlines()[-1])
    assert registered == sorted(KIND_TASKS[kind])
    assert foreign == []


def probe(heartbeat: Path, max_age: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(HEALTHCHECK), str(max_age)],
        capture_output=True,
        text=True,
        env={**os.environ, "VTUBER_WORKER_HEARTBEAT_FILE": str(heartbeat)},
    )


def test_healthcheck_judges_the_heartbeat_files_age(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    missing = probe(heartbeat, 60)
    assert missing.returncode != 0 and "no heartbeat file" in missing.stdout
    heartbeat.touch()
    assert probe(heartbeat, 60).returncode == 0
    old = time.time() - 120
    os.utime(heartbeat, (old, old))
    stale = probe(heartbeat, 60)
    assert stale.returncode != 0 and "old" in stale.stdout
