"""deploy/k8s renders with kubectl kustomize, every object validates (core objects against the
Kubernetes API schemas, KEDA objects against KEDA's CRDs), and the objects agree with the code:
queue names, worker kinds, time limits, GPU placement."""

import copy
import shutil
import subprocess
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from pipelines.queues import (
    KIND_TASKS,
    TASK_ROUTES,
    Queue,
    TaskName,
    WorkerKind,
    batch_stt_queue,
    live_stt_queue,
)
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.time_limits import TimeLimits

K8S = PROJECT_ROOT / "deploy" / "k8s"
KEDA_CRDS = PROJECT_ROOT / "tests" / "data" / "keda"
KUBERNETES_VERSION = "1.32.0"  # the kubectl on these machines; kubernetes-validate ships its schemas
OVERLAYS = ["cpu-only", "gpu"]
GPU_POOLS = {"worker-stt-live", "worker-stt-batch", "worker-tts"}
WORKER_POOLS = {
    "worker-stt-live",
    "worker-stt-batch",
    "worker-llm",
    "worker-tts",
    "worker-animation",
    "worker-notify",
    "worker-memory",
    "worker-chat",
}
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """Each overlay as `kubectl kustomize` renders it, with the example secrets filled in."""
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is missing: run tools/install-system.sh")
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    shutil.copy(tree / "base" / "secrets.env.example", tree / "base" / "secrets.env")
    out = {}
    for overlay in OVERLAYS:
        result = subprocess.run(
            ["kubectl", "kustomize", str(tree / "overlays" / overlay)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def container(deployment: Doc) -> Doc:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(deployment: Doc) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(deployment)["env"]}


def consumed_queues(deployment: Doc) -> list[str]:
    args = container(deployment)["args"]
    return list(args[args.index("-Q") + 1].split(","))


def is_keda(doc: Doc) -> bool:
    return str(doc["apiVersion"]).startswith("keda.sh/")


# --- validation ------------------------------------------------------------------------------------
def strict_crd_schema(kind_file: str) -> Doc:
    """The CRD's v1alpha1 schema as JSON Schema, refusing unknown fields as `kubectl apply
    --validate=strict` does (the API server would prune them silently)."""
    crd = yaml.safe_load((KEDA_CRDS / kind_file).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def tighten(node: Any) -> None:
        if isinstance(node, dict):
            if node.pop("x-kubernetes-int-or-string", False):
                node.pop("type", None)
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                tighten(value)
        elif isinstance(node, list):
            for value in node:
                tighten(value)

    tighten(schema)
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked by the API server
    return schema


KEDA_SCHEMAS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
}


def validate(doc: Doc) -> None:
    if is_keda(doc):
        jsonschema.validate(doc, strict_crd_schema(KEDA_SCHEMAS[doc["kind"]]))
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(rendered: dict[str, list[Doc]], overlay: str) -> None:
    for doc in rendered[overlay]:
        validate(doc)


def test_the_validators_refuse_an_unknown_field(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["gpu"]
    deployment = copy.deepcopy(of_kind(docs, "Deployment")["api"])
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = copy.deepcopy(of_kind(docs, "ScaledObject")["worker-tts"])
    scaled["spec"]["minReplicas"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    scaled = copy.deepcopy(of_kind(docs, "ScaledObject")["worker-tts"])
    del scaled["spec"]["scaleTargetRef"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


# --- shape ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_deployment_per_worker_pool_and_every_queue_consumed(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    deployments = of_kind(rendered[overlay], "Deployment")
    workers = {name: d for name, d in deployments.items() if name.startswith("worker-")}
    assert set(workers) == WORKER_POOLS
    consumed = {queue for d in workers.values() for queue in consumed_queues(d)}
    assert consumed <= {queue.value for queue in Queue}
    expected = {q.value for q in Queue} - (
        {"stt.live.gpu", "stt.batch.gpu"} if overlay == "cpu-only" else set()
    )
    assert consumed == expected
    for name, deployment in workers.items():
        kind = WorkerKind(env_of(deployment)["VTUBER_WORKER_KIND"])
        routed = {task for queue in consumed_queues(deployment) for task in tasks_of_queue(queue)}
        assert routed <= set(KIND_TASKS[kind]), name
        assert container(deployment)["image"].startswith(f"vtuber-worker-{kind.value}"), name
    notify = workers["worker-notify"]["spec"]
    assert notify["replicas"] == 1 and notify["strategy"]["type"] == "Recreate"  # one beat, never two


def tasks_of_queue(queue: str) -> set[TaskName]:
    """Tasks that can arrive on ``queue``: fixed routes, and the STT switch's CPU/GPU choice."""
    tasks = {TaskName(task) for task, route in TASK_ROUTES.items() if route["queue"] == queue}
    if queue in (live_stt_queue(True), live_stt_queue(False)):
        tasks.add(TaskName.transcribe_utterance)
    if queue in (batch_stt_queue(True), batch_stt_queue(False)):
        tasks.add(TaskName.transcribe_file)
    return tasks


def longest_hard_limit_s(queues: list[str]) -> float:
    settings = Settings()
    limits = TimeLimits(settings)
    hard = [limits.for_task(task).hard_s for queue in queues for task in tasks_of_queue(queue)]
    if any(TaskName.transcribe_file in tasks_of_queue(queue) for queue in queues):
        hard.append(limits.for_batch_file(settings.max_batch_audio_seconds).hard_s)
    return max(hard)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_probe_their_heartbeat_export_metrics_and_outlive_their_longest_task(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for name, deployment in of_kind(rendered[overlay], "Deployment").items():
        if not name.startswith("worker-"):
            continue
        spec = container(deployment)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert spec[probe]["exec"]["command"][:2] == ["sh", "/app/workers/healthcheck.sh"], (name, probe)
        env = env_of(deployment)
        assert env["VTUBER_WORKER_HEARTBEAT_FILE"] and env["VTUBER_METRICS_PORT"] == "9100"
        assert {"name": "metrics", "containerPort": 9100} in spec["ports"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == "9100", name
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > longest_hard_limit_s(consumed_queues(deployment)), name


def test_the_api_is_probed_served_and_exposed(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["cpu-only"]
    api = of_kind(docs, "Deployment")["api"]
    spec = container(api)
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = of_kind(docs, "Service")["api"]
    assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    backend = of_kind(docs, "Ingress")["api"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "api"
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    budgets = list(of_kind(docs, "PodDisruptionBudget").values())
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets), name


# --- GPUs and KEDA ------------------------------------------------------------------------------
def gpus(deployment: Doc) -> object:
    return container(deployment).get("resources", {}).get("limits", {}).get("nvidia.com/gpu")


def test_gpu_pools_request_gpus_only_in_the_gpu_overlay(rendered: dict[str, list[Doc]]) -> None:
    for name, deployment in of_kind(rendered["gpu"], "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        if name in GPU_POOLS:
            assert gpus(deployment) == 1, name
            assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
                "tolerations"
            ]
            assert container(deployment)["image"].endswith("-gpu:latest"), name
            assert "replicas" not in deployment["spec"], f"{name}: KEDA owns its replica count"
        else:
            assert gpus(deployment) is None and "nodeSelector" not in pod, name
    for name, deployment in of_kind(rendered["cpu-only"], "Deployment").items():
        assert gpus(deployment) is None, name
    assert not [doc for doc in rendered["cpu-only"] if is_keda(doc)], "cpu-only must not need KEDA"


def test_scaled_objects_scale_gpu_pools_on_their_real_queues(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["gpu"]
    deployments = of_kind(docs, "Deployment")
    scaled = of_kind(docs, "ScaledObject")
    auths = of_kind(docs, "TriggerAuthentication")
    secrets = of_kind(docs, "Secret")
    assert set(scaled) == GPU_POOLS
    for name, obj in scaled.items():
        target = obj["spec"]["scaleTargetRef"]["name"]
        assert target in deployments, name
        queues = consumed_queues(deployments[target])
        listed = []
        for trigger in obj["spec"]["triggers"]:
            assert trigger["type"] == "redis"
            list_name = trigger["metadata"]["listName"]
            assert list_name in {queue.value for queue in Queue}, list_name
            assert list_name in queues, f"{name} scales on {list_name}, which it does not consume"
            assert int(trigger["metadata"]["listLength"]) >= 1
            listed.append(list_name)
            auth = auths[trigger["authenticationRef"]["name"]]
            refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
            assert set(refs) == {"address", "password"}
            for ref in refs.values():
                assert ref["key"] in secrets[ref["name"]]["data"], ref  # the generated (hashed) name
        assert sorted(listed) == sorted(queues), f"{name}: a trigger per queue it consumes"
    assert scaled["worker-stt-batch"]["spec"]["minReplicaCount"] == 0
    assert scaled["worker-stt-live"]["spec"]["minReplicaCount"] >= 1
    assert scaled["worker-tts"]["spec"]["minReplicaCount"] >= 1


# --- secrets --------------------------------------------------------------------------------------
def test_secrets_come_from_an_ignored_env_file_with_an_example(rendered: dict[str, list[Doc]]) -> None:
    example = K8S / "base" / "secrets.env.example"
    names = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    for overlay in OVERLAYS:
        (secret,) = of_kind(rendered[overlay], "Secret").values()
        assert set(secret["data"]) == names
        for deployment in of_kind(rendered[overlay], "Deployment").values():
            for item in container(deployment).get("env", []):
                if item["name"] in names:  # a secret is never written into a manifest
                    assert "value" not in item, item["name"]
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in names
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(K8S / "base" / "secrets.env")], cwd=PROJECT_ROOT
    )
    assert ignored.returncode == 0, "deploy/k8s/base/secrets.env must be ignored by git"
