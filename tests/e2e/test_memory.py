"""Long-term memory through the whole stack: a viewer's stated facts are distilled by the memory
worker after the turn, recalled by the LLM worker in a later session, and erased with the viewer
by the key whose viewer it is."""

import json
import time
from collections.abc import Callable

import httpx

from pipelines.memory_store import MemoryStore, sql_string
from schemas.api_keys import Scope
from tests.e2e.conftest import wait_for_job
from tools.stack import Stack

VIEWER = "e2e:zoe"


def say(api: httpx.Client, session_id: str, text: str) -> dict[str, object]:
    body = {"text": text, "viewer_id": VIEWER, "viewer_name": "Zoe"}
    accepted = api.post(f"/v1/sessions/{session_id}/utterances", json=body)
    assert accepted.status_code == 202, accepted.text
    return wait_for_job(api, accepted.json()["job_id"])


def stored(store: MemoryStore) -> list[dict[str, object]]:
    """The viewer's rows under any owner (the client key's id is not known here)."""
    return store.table.search().where(f"viewer_id = {sql_string(VIEWER)}").select(["owner", "text"]).to_list()


def remembered(store: MemoryStore, *, at_least: int, timeout: float = 240) -> list[str]:
    deadline = time.monotonic() + timeout
    texts: list[str] = []
    while time.monotonic() < deadline:
        rows = stored(store)
        texts = sorted(str(row["text"]) for row in rows)
        if len(texts) >= at_least:
            assert len({row["owner"] for row in rows}) == 1, rows  # all under the key that sent the turns
            return texts
        time.sleep(0.5)
    raise AssertionError(f"the memory worker stored {texts} for {VIEWER}, expected {at_least} memories")


def rows_when(
    store: MemoryStore, ready: Callable[[list[dict[str, object]]], bool], timeout: float = 240
) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    rows = stored(store)
    while not ready(rows):
        if time.monotonic() > deadline:
            raise AssertionError(f"the memory worker stored {rows} for {VIEWER}")
        time.sleep(0.5)
        rows = stored(store)
    return rows


def recalled(stack: Stack, job_id: object) -> list[int]:
    """How many memories the LLM worker's recall found for a job (its JSON log lines)."""
    found = []
    for path in stack.run_dir.glob("worker-llm*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"memories recalled"' in line and str(job_id) in line:
                found.append(int(json.loads(line)["recalled"]))
    return found


def test_a_viewer_is_remembered_in_a_later_session_and_erased_with_them(
    stack: Stack, api: httpx.Client
) -> None:
    first = api.post("/v1/sessions", json={}).json()["id"]
    done = say(api, first, "Hi Hana! My name is Zoe and I have a cat named Miso.")
    assert done["status"] == "completed", done
    store = MemoryStore(str(stack.run_dir / "memory"), dimensions=384, read_consistency_s=0)
    texts = remembered(store, at_least=3)  # two facts and the session's summary
    assert "Their name is Zoe." in texts and "They have a cat named Miso." in texts

    zoe_key = {row["owner"] for row in stored(store)}  # one key's (remembered checked)

    later = api.post("/v1/sessions", json={}).json()["id"]
    asked = say(api, later, "do you remember my cat?")
    assert asked["status"] == "completed", asked
    assert max(recalled(stack, asked["id"])) >= 3  # the LLM worker recalled them in the later turn

    # Another key's viewer of the same id is another person: nothing of Zoe is recalled for them.
    other_key = stack.create_key("e2e other streamer", [Scope.client])
    with httpx.Client(
        base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {other_key}"}
    ) as other:
        elsewhere = other.post("/v1/sessions", json={}).json()["id"]
        namesake = say(other, elsewhere, "do you remember my cat?")
        assert namesake["status"] == "completed", namesake
    assert recalled(stack, namesake["id"]) == [0]
    # Both later turns distilled (each a session summary) before the erasure, so none lands after it.
    rows = rows_when(store, lambda rows: sum(row["owner"] in zoe_key for row in rows) >= 4 and len(rows) >= 5)

    erased = api.delete(f"/v1/viewers/{VIEWER}")  # the client key erases its own viewer
    assert erased.status_code == 200, erased.text
    assert erased.json()["deleted"]["memories"] == sum(row["owner"] in zoe_key for row in rows)
    left = stored(store)
    assert left and not any(row["owner"] in zoe_key for row in left)  # the other key's viewer keeps theirs
