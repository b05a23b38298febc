"""The `vtuber` CLI without a stack: it imports none of the backend, and a request that cannot
succeed ends with one line and an exit code (the commands against the stack: tests/e2e/test_vtuber_cli.py)."""

import socket
import subprocess
import sys

import httpx
from typer.testing import CliRunner

from tools.vtuber.app import app
from tools.vtuber.client import EXIT_REFUSED, EXIT_UNAVAILABLE, failure_from

BACKEND_PACKAGES = ("pipelines", "workers", "api", "schemas", "torch", "celery", "pymongo", "redis")


def test_the_cli_imports_nothing_of_the_backend() -> None:
    probe = (
        "import sys, tools.vtuber.app; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, *BACKEND_PACKAGES], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]", run.stdout


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_api_that_does_not_answer_is_one_line_and_exit_code_3() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(app, ["--api-url", url, "--api-key", "vtk_x", "job", "0" * 32])
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    assert result.stderr.startswith(f"error: unreachable: no answer from {url}: "), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_say_needs_text_or_audio_before_any_request() -> None:
    result = CliRunner().invoke(app, ["--api-url", f"http://127.0.0.1:{closed_port()}", "say"])
    assert result.exit_code == 2, result.output
    assert "give either TEXT or --audio FILE" in result.output


def test_failures_keep_the_api_code_or_name_the_status() -> None:
    refusal = httpx.Response(
        429,
        headers={"Retry-After": "3"},
        json={"error": {"code": "rate_limited", "message": "too many requests", "details": None}},
    )
    failure = failure_from(refusal)
    assert failure.line() == "error: rate_limited: too many requests; retry after 3 s (HTTP 429)"
    assert failure.exit_code == EXIT_REFUSED
    invalid = httpx.Response(
        422,
        json={
            "error": {
                "code": "validation_error",
                "message": "the request is not valid",
                "details": [{"loc": ["body", "name"], "msg": "too short", "type": "string_too_short"}] * 2,
            }
        },
    )
    assert failure_from(invalid).message == "the request is not valid (body.name: too short and 1 more)"
    proxy = failure_from(httpx.Response(502, text="<html>\n  Bad Gateway\n</html>"))
    assert (proxy.code, proxy.message, proxy.exit_code) == ("http_502", "<html> Bad Gateway </html>", 3)
