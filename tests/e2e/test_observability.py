"""Metrics, logs and dashboards against the running stack and a real Prometheus.

Debian's Prometheus scrapes the API and every worker's /metrics port (the stack lists them in
metrics-targets.json) every second while real turns and a batch run; then every panel query of
every dashboard must return data. The same turns are followed through the JSON logs with one grep.
"""

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from pipelines.settings import PROJECT_ROOT
from tests.e2e.conftest import wait_for_job
from tests.e2e.test_batch import wait_for_batch
from tools.spoken import spoken_wav
from tools.stack import Stack, free_port

pytestmark = pytest.mark.e2e

# Grafana's variables, at fixed windows wide enough for the whole test.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "10m", "$__interval": "5s"}
# Panels of metrics only a GPU produces; on a machine without one their query must still be valid.
GPU_ONLY_METRICS = (
    "vtuber_gpu_memory_allocated_bytes",
    "vtuber_gpu_device_memory_used_bytes",
    "vtuber_gpu_device_memory_total_bytes",
)
UNIQUE_WORDS = "periwinkle xylophone"  # what the viewer "said": must not reach a log line above debug


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: tools/install-system.sh installs Debian's prometheus package"
    home = tmp_path_factory.mktemp("prometheus")
    targets = stack.write_metrics_targets()
    assert json.loads(targets.read_text()), "the stack lists no worker metrics ports"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(PROJECT_ROOT / "grafana" / "alerts.yml")],
        "scrape_configs": [
            {
                "job_name": "vtuber-api",
                "static_configs": [{"targets": [stack.api_url.removeprefix("http://")]}],
            },
            {
                "job_name": "vtuber-workers",
                "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}],
            },
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (home / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT, cwd=home,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not ready(url):
            assert process.poll() is None, (home / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prometheus did not become ready in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def expand(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, query) for every target of every panel."""
    found = []
    for path in sorted((PROJECT_ROOT / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                found.append((dashboard["uid"], panel["title"], expand(target["expr"])))
    return found


def needs_missing_gpu(expr: str) -> bool:
    """A GPU-only panel on a machine without a GPU: its query ran (valid PromQL) and has no data."""
    return not os.path.exists("/dev/nvidia0") and any(metric in expr for metric in GPU_ONLY_METRICS)


def submit_text(api: httpx.Client, session_id: str, text: str) -> str:
    accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": text})
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["job_id"])


def log_lines(stack: Stack) -> dict[str, list[str]]:
    return {path.stem: path.read_text(errors="replace").splitlines() for path in stack.run_dir.glob("*.log")}


def mentions_by_part(logs: dict[str, list[str]], job_id: str) -> dict[str, list[str]]:
    """The lines naming ``job_id``, by part: a pool's replacement workers (``worker-llm-after-redis``,
    started by earlier tests of the suite) count as that pool's."""
    merged: dict[str, list[str]] = {}
    for name, lines in logs.items():
        part = next(
            (pool for pool in ("worker-llm", "worker-tts", "worker-animation") if name.startswith(pool)), name
        )
        merged.setdefault(part, []).extend(line for line in lines if job_id in line)
    return merged


def test_one_grep_follows_a_turn_through_every_process_as_json(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    job = wait_for_job(api, submit_text(api, session_id, f"Say {UNIQUE_WORDS} back to me."))
    assert job["status"] == "completed", job["error"]
    job_id = job["id"]
    # The last lines (a stage's "finished") are written right after the job completes.
    deadline = time.monotonic() + 20
    while True:
        logs = log_lines(stack)
        mentions = mentions_by_part(logs, job_id)
        workers = {"worker-llm", "worker-tts", "worker-animation"}
        if all(any('"stage finished"' in line for line in mentions.get(w, [])) for w in workers):
            break
        assert time.monotonic() < deadline, f"stage lines for {job_id} missing: {mentions}"
        time.sleep(0.2)
    assert mentions.get("api"), "the API logged nothing about the job"
    stages = {"worker-llm": "llm", "worker-tts": "tts", "worker-animation": "animation"}
    for name in ["api", *stages]:
        for line in mentions[name]:
            event = json.loads(line)  # every line that names the job is one JSON object
            assert event["job_id"] == job_id and event["level"] and event["timestamp"], line
            if name in stages:
                assert event["stage"] == stages[name] and event["attempt"] >= 1 and event["task_id"], line
                assert event.get("session_id", session_id) == session_id, line  # bound once read
        assert any('"session_id"' in line for line in mentions[name]), f"{name}: no session id"
    finished = [json.loads(line) for line in mentions["worker-tts"] if '"stage finished"' in line]
    assert all(event["duration_s"] >= 0 and event["outcome"] == "ok" for event in finished)
    assert len({event["segment"] for event in finished}) == job["segments_total"]
    submitted = [json.loads(line) for line in mentions["api"] if '"turn queued"' in line]
    assert submitted and submitted[0]["session_id"] == session_id and submitted[0]["request_id"]
    # Neither what the viewer said nor the reply is logged at info.
    reply_words = (job["reply"]["text"] or "").strip()
    for name, lines in logs.items():
        for line in lines:
            assert UNIQUE_WORDS not in line, f"user text in {name}.log: {line}"
            if len(reply_words) > 20:
                assert reply_words not in line, f"reply text in {name}.log: {line}"


def test_every_dashboard_panel_has_data_in_prometheus(
    api: httpx.Client, session_id: str, stack: Stack, prometheus: str
) -> None:
    # Work for every panel: text and spoken turns, a batch of two files.
    clip = spoken_wav("Hello there, how is the stream going today?")
    jobs = [submit_text(api, session_id, "Tell me a short joke."), submit_text(api, session_id, "Say hi.")]
    spoken = api.post(f"/v1/sessions/{session_id}/utterances", files={"audio": ("u.wav", clip, "audio/wav")})
    assert spoken.status_code == 202, spoken.text
    jobs.append(spoken.json()["job_id"])
    batch = api.post(
        "/v1/transcriptions", files=[("files", (f"f{i}.wav", clip, "audio/wav")) for i in range(2)]
    )
    assert batch.status_code == 202, batch.text
    for job_id in jobs:
        assert wait_for_job(api, job_id)["status"] == "completed"
    assert wait_for_batch(api, batch.json()["batch_id"])["status"] == "completed"

    # Every worker is scraped and up; the last turn's samples have arrived.
    deadline = time.monotonic() + 60
    pools = {pool for name, (pool, _) in stack.metrics_ports.items() if stack.processes[name].poll() is None}
    while True:
        up = query(prometheus, 'up{job="vtuber-workers"} == 1')
        done = query(prometheus, "sum(vtuber_turns_finished_total)")
        if {s["metric"]["pool"] for s in up} >= pools and done and float(done[0]["value"][1]) >= len(jobs):
            break
        assert time.monotonic() < deadline, f"workers up: {up}; turns finished: {done}"
        time.sleep(1)

    assert not query(prometheus, "vtuber_no_such_metric_total")  # the check below can fail
    queries = panel_queries()
    assert len(queries) >= 30
    empty: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + 30  # a counter needs two scrapes before rate() has a value
    while True:
        empty = [
            (uid, title, expr)
            for uid, title, expr in queries
            if not query(prometheus, expr) and not needs_missing_gpu(expr)
        ]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not empty, "panels without data:\n" + "\n".join(f"{u} / {t}: {e}" for u, t, e in empty)

    # What the numbers say is right, not only present: three turns went through every live stage.
    stages = {s["metric"]["stage"] for s in query(prometheus, "vtuber_stage_duration_seconds_count")}
    assert {"stt", "stt_batch", "llm", "tts", "animation"} <= stages
    batch_files = query(prometheus, 'sum(vtuber_batch_files_total{outcome="completed"})')
    assert float(batch_files[0]["value"][1]) >= 2
    assert query(prometheus, 'vtuber_model_load_seconds_count{kind="llm"} > 0')
    assert not query(prometheus, 'ALERTS{alertname="SttGpuRoutingWithoutGpuWorker"}')

    # Every alert is loaded and healthy, and each vtuber_ metric it reads exists (a renamed metric
    # would leave an alert that can never fire).
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 5 and all(rule["health"] == "ok" for rule in rules), rules
    for rule in rules:
        for metric in set(re.findall(r"\b(vtuber_[a-z_]+)", rule["query"])):
            assert query(prometheus, f'count({{__name__="{metric}"}})'), f"{rule['name']} reads {metric}"
