"""Sending a webhook to a real local HTTP server: connect only to the vetted address, follow a
redirect only to an allowed place, and keep a bounded record of the attempts."""

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from pipelines.callbacks import CallbackRefused, parse_networks
from pipelines.stages.context import StageContext
from pipelines.webhook_sender import MAX_RECORDED, record_attempt, record_outcome, send_webhook
from tests.fakes.server_thread import ServerThread

LOOPBACK = parse_networks(["127.0.0.0/8"])


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.redirect_to = ""
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self.hook, methods=["POST"])

    async def hook(self, path: str, request: Request) -> Response:
        self.calls.append((path, await request.body(), dict(request.headers)))
        if path == "hook":
            return Response(status_code=204)
        if path == "moved":
            return Response(status_code=307, headers={"Location": self.redirect_to})
        if path == "loop":
            return Response(status_code=302, headers={"Location": "/loop"})
        return Response(status_code=404)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    target = Receiver()
    with ServerThread(target.app) as server:
        yield target, server.port


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``hooks.test`` resolves to 127.0.0.1 on the first lookup and to 10.9.9.9 after (rebinding)."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "hooks.test":
            return real(host, port, *args, **kwargs)
        seen.append(host)
        address = "127.0.0.1" if len(seen) == 1 else "10.9.9.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


def test_the_request_goes_to_the_vetted_address_with_the_original_host(
    receiver: tuple[Receiver, int], lookups: list[str]
) -> None:
    target, port = receiver
    answer = send_webhook(
        f"http://hooks.test:{port}/hook", b'{"id": "e1"}', {"X-Test": "1"}, allowed=LOOPBACK, timeout_s=10
    )
    assert answer.status_code == 204 and answer.redirects == 0
    assert lookups == ["hooks.test"]  # resolved once: a second answer (10.9.9.9) was never asked for
    [(path, body, headers)] = target.calls
    assert (path, body) == ("hook", b'{"id": "e1"}')
    assert headers["host"] == f"hooks.test:{port}" and headers["x-test"] == "1"


def test_a_loopback_receiver_is_refused_unless_allowed(receiver: tuple[Receiver, int]) -> None:
    target, port = receiver
    with pytest.raises(CallbackRefused, match="loopback"):
        send_webhook(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout_s=10)
    assert target.calls == []  # refused before connecting


def test_a_redirect_to_an_allowed_place_gets_the_same_post(receiver: tuple[Receiver, int]) -> None:
    target, port = receiver
    target.redirect_to = f"http://127.0.0.1:{port}/hook"
    answer = send_webhook(f"http://127.0.0.1:{port}/moved", b"signed body", {}, allowed=LOOPBACK)
    assert answer.status_code == 204 and answer.redirects == 1 and answer.url.endswith("/hook")
    assert [(path, body) for path, body, _ in target.calls] == [
        ("moved", b"signed body"),
        ("hook", b"signed body"),
    ]


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook", "http://[::1]/hook", "ftp://x/"],
)
def test_a_redirect_to_a_refused_place_is_not_followed(receiver: tuple[Receiver, int], location: str) -> None:
    target, port = receiver
    target.redirect_to = location
    with pytest.raises(CallbackRefused) as refused:
        send_webhook(f"http://127.0.0.1:{port}/moved", b"{}", {}, allowed=LOOPBACK)
    assert not refused.value.transient
    assert [path for path, _, _ in target.calls] == ["moved"]


def test_redirects_stop_after_three_hops(receiver: tuple[Receiver, int]) -> None:
    target, port = receiver
    with pytest.raises(CallbackRefused, match="more than 3 redirects"):
        send_webhook(f"http://127.0.0.1:{port}/loop", b"{}", {}, allowed=LOOPBACK)
    assert [path for path, _, _ in target.calls] == ["loop"] * 4


def test_an_unreachable_receiver_is_a_transport_error_to_retry() -> None:
    from tools.stack import free_port

    with pytest.raises(httpx.ConnectError):
        send_webhook(f"http://127.0.0.1:{free_port()}/hook", b"{}", {}, allowed=LOOPBACK, timeout_s=5)


def test_attempts_are_recorded_and_bounded(stage_context: StageContext) -> None:
    jobs = stage_context.storage.jobs
    jobs.insert_one({"_id": "j1"})
    for attempt in range(1, MAX_RECORDED + 6):
        record_attempt(jobs, "j1", attempt, status_code=503, error=None)
    record_outcome(jobs, "j1", "job.completed:j1", status_code=None, error="callback_not_allowed: nope")
    doc = jobs.find_one({"_id": "j1"})
    assert doc is not None
    attempts = doc["webhook_attempts"]
    assert len(attempts) == MAX_RECORDED and attempts[-1]["attempt"] == MAX_RECORDED + 5
    assert attempts[0]["attempt"] == 6 and attempts[0]["status_code"] == 503
    assert doc["webhook"]["event_id"] == "job.completed:j1" and doc["webhook"]["error"].startswith(
        "callback_not_allowed"
    )
