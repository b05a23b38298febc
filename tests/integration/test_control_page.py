"""The control panel's page and scripts as the web router serves them, and its view logic under node's
test runner (control_view.test.mjs). The page in a browser: tests/e2e/test_control_panel.py."""

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.routes import web
from tests.integration.test_web_player import imported_modules, needs_node, run_node, tap_counts

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(web.router)
    return TestClient(app)


@needs_node
def test_control_view_passes_its_tests() -> None:
    output = run_node("--test", "--test-reporter=tap", str(STATIC / "control_view.test.mjs"))
    counts = tap_counts(output)
    assert counts["pass"] >= 10 and counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, output


@needs_node
def test_control_script_is_a_valid_module() -> None:
    run_node("--input-type=module", "--check", stdin=(STATIC / "control.js").read_text())


def test_control_page_loads_its_script_by_a_relative_url(client: TestClient) -> None:
    page = client.get("/control")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="static/control.js">' in page.text
    for element in ("key", "stt-mode", "routing", "queues", "pools", "jobs", "batches", "link-flower"):
        assert f'id="{element}"' in page.text, element
    for name in ("control.js", "control_view.mjs"):
        assert not re.search(r"""["'`]/v1/""", (STATIC / name).read_text()), f"{name}: absolute API path"


def test_every_module_the_control_page_imports_is_served_as_javascript(client: TestClient) -> None:
    imported = imported_modules("control.js")
    assert imported == {"control_view.mjs"}
    for name in imported | {"control.js"}:
        module = client.get(f"/static/{name}")
        assert module.status_code == 200, name
        assert module.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("name", ["control.html", "control_view.test.mjs"])
def test_the_page_and_its_tests_are_not_served_as_scripts(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
