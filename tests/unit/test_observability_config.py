"""Prometheus config, alert rules and Grafana dashboards, checked by promtool and by their shape.

The dashboards' queries are evaluated against a real Prometheus in tests/e2e/test_observability.py.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.settings import PROJECT_ROOT

GRAFANA = PROJECT_ROOT / "grafana"
DASHBOARD_UIDS = {"vtuber-overview", "vtuber-live-latency", "vtuber-queues-workers", "vtuber-batch"}
ALERTS = {
    "QueueBacklogGrowing",
    "WorkerPoolDown",
    "TurnErrorRateHigh",
    "TimeToFirstAudioSlow",
    "SttGpuRoutingWithoutGpuWorker",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: tools/install-system.sh installs Debian's prometheus package"
    return subprocess.run([tool, *args], capture_output=True, text=True, cwd=GRAFANA, timeout=60)


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))]


def test_prometheus_config_is_valid() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alert_rules_are_valid_and_each_has_a_test_case() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = yaml.safe_load((GRAFANA / "alerts.yml").read_text())
    assert {rule["alert"] for group in rules["groups"] for rule in group["rules"]} == ALERTS
    cases = yaml.safe_load((GRAFANA / "alerts_test.yml").read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    assert {check["alertname"] for check in checks if check["exp_alerts"]} == ALERTS  # each fires
    assert {check["alertname"] for check in checks if not check["exp_alerts"]} == ALERTS  # and is quiet


def test_alert_rules_fire_on_their_cases_and_stay_quiet_on_near_misses() -> None:
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_wrong_expectation_fails_the_rule_tests(tmp_path: Path) -> None:
    """The rule tests can fail: the same cases with one expected label changed do."""
    shutil.copy(GRAFANA / "alerts.yml", tmp_path / "alerts.yml")
    cases = (GRAFANA / "alerts_test.yml").read_text().replace("pool: stt-gpu }", "pool: llm-gpu }", 1)
    (tmp_path / "alerts_test.yml").write_text(cases)
    tool = shutil.which("promtool") or "promtool"
    tested = subprocess.run(
        [tool, "test", "rules", "alerts_test.yml"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert tested.returncode != 0 and "WorkerPoolDown" in tested.stdout + tested.stderr


def test_dashboards_have_stable_unique_uids_and_prometheus_queries() -> None:
    found = dashboards()
    assert {d["uid"] for d in found} == DASHBOARD_UIDS and len(found) == len(DASHBOARD_UIDS)
    for dashboard in found:
        assert dashboard["panels"], dashboard["uid"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), dashboard["uid"]
        for panel in dashboard["panels"]:
            assert panel["targets"], (dashboard["uid"], panel["title"])
            for target in panel["targets"]:
                assert target["expr"].strip(), (dashboard["uid"], panel["title"])
                assert target["datasource"]["uid"] == "prometheus"


@pytest.mark.parametrize("kind", ["dashboards", "datasources"])
def test_grafana_provisioning_points_at_the_dashboards_and_prometheus(kind: str) -> None:
    provisioned = [
        yaml.safe_load(path.read_text()) for path in (GRAFANA / "provisioning" / kind).glob("*.yml")
    ]
    assert provisioned
    if kind == "dashboards":
        assert provisioned[0]["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    else:
        assert provisioned[0]["datasources"][0]["uid"] == "prometheus"
