"""The input guards on their own: Content-Disposition for any name, the body cap, id shapes."""

from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from api.body_limit import BodyLimitMiddleware
from api.content_disposition import ascii_fallback, attachment
from api.errors import install_error_handlers
from api.ids import check_path_ids


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("clip.srt", "attachment; filename=\"clip.srt\"; filename*=UTF-8''clip.srt"),
        ("配信.srt", "attachment; filename=\"__.srt\"; filename*=UTF-8''%E9%85%8D%E4%BF%A1.srt"),
        ("방송.vtt", "attachment; filename=\"__.vtt\"; filename*=UTF-8''%EB%B0%A9%EC%86%A1.vtt"),
        ("café.txt", "attachment; filename=\"cafe.txt\"; filename*=UTF-8''caf%C3%A9.txt"),
        ('a"b\\c.json', "attachment; filename=\"a_b_c.json\"; filename*=UTF-8''a%22b%5Cc.json"),
        (
            "x\r\nSet-Cookie: a.txt",
            "attachment; filename=\"x__Set-Cookie: a.txt\"; filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a.txt",
        ),
        ("../../etc.txt", "attachment; filename=\".._.._etc.txt\"; filename*=UTF-8''..%2F..%2Fetc.txt"),
        ("\ud800.txt", "attachment; filename=\"_.txt\"; filename*=UTF-8''%3F.txt"),
    ],
)
def test_attachment_header_is_ascii_with_the_exact_name_encoded(name: str, header: str) -> None:
    assert attachment(name) == header
    header.encode("ascii")


def test_an_empty_name_still_gets_a_fallback() -> None:
    assert ascii_fallback("") == "download"


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI(dependencies=[Depends(check_path_ids)])
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=100, max_multipart_bytes=1000)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: str) -> dict[str, str]:
        return {"id": job_id}

    with TestClient(app) as test_client:
        yield test_client


def chunks(total: int, size: int = 10) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


def test_bodies_up_to_the_cap_pass(client: TestClient) -> None:
    assert client.post("/echo", content=b"x" * 100).json() == {"bytes": 100}
    assert client.post("/echo", content=chunks(100)).json() == {"bytes": 100}


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_over_the_cap_is_413_payload_too_large(client: TestClient, chunked: bool) -> None:
    response = client.post("/echo", content=chunks(110) if chunked else b"x" * 110)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_multipart_bodies_have_their_own_cap(client: TestClient) -> None:
    headers = {"content-type": "multipart/form-data; boundary=b"}
    assert client.post("/echo", content=chunks(1000), headers=headers).json() == {"bytes": 1000}
    assert client.post("/echo", content=chunks(1010), headers=headers).status_code == 413


@pytest.mark.parametrize("bad", ["nope", "A" * 32, "a" * 33, "%00", "配信"])
def test_ids_of_the_wrong_shape_are_404_before_the_route(client: TestClient, bad: str) -> None:
    response = client.get(f"/v1/jobs/{bad}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_well_formed_id_reaches_the_route(client: TestClient) -> None:
    assert client.get(f"/v1/jobs/{'0a' * 16}").json() == {"id": "0a" * 16}
