"""Long-term memory on real MongoDB, Redis, LanceDB and the bundled all-MiniLM-L6-v2.

Recall is checked on the stored memories themselves (what the LLM is given), not on how a small
model words its reply.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines import jobs
from pipelines.backends import TextEmbedder
from pipelines.followups import run_job_followups
from pipelines.memory_distill import distill_turn
from pipelines.memory_recall import MemoryRecall
from pipelines.memory_store import MemoryStore
from pipelines.personas import get_persona
from pipelines.prompting import example_exchange, system_prompt
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from pipelines.stages.llm import generate_reply
from tests.integration.test_llm_stage import ScriptedChat
from workers.embedding import OnnxEmbedder, load_embedder

ALICE_SAYS = "Hi Hana! My name is Alice. I have a dog named Biscuit and my favourite game is Hollow Knight."
BOB_SAYS = "hey, call me Bob. my cat is called Pixel and my favorite game is Tetris"
OWNER = "key-streamer-a"  # the API key whose viewers these are


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    """What the workers run: the bundled model through onnxruntime."""
    loaded = load_embedder(Settings())
    assert isinstance(loaded, OnnxEmbedder)
    return loaded


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(str(tmp_path / "memory"), dimensions=384, read_consistency_s=0)


@pytest.fixture
def context(stage_context: StageContext, tmp_path: Path) -> Iterator[StageContext]:
    stage_context.settings = stage_context.settings.model_copy(
        update={"llm_first_audio_wait_s": 0, "memory_store_uri": str(tmp_path / "memory")}
    )
    yield stage_context


def finished_turn(
    ctx: StageContext, session_id: str, viewer_id: str | None, text: str, owner: str = OWNER, **extra: Any
) -> str:
    job = jobs.create_job(
        ctx.storage,
        session_id=session_id,
        kind="text",
        persona="hana",
        persona_version="1",
        input_text=text,
        owner=owner,
        extra={"viewer_id": viewer_id, **extra},
    )
    ctx.storage.jobs.update_one({"_id": job["_id"]}, {"$set": {"status": "completed"}})
    return str(job["_id"])


def remembered(store: MemoryStore, viewer_id: str, owner: str = OWNER) -> list[str]:
    return sorted(m.text for m in store.search(owner, "hana", viewer_id, None, limit=100))


def test_name_pet_and_favourite_game_are_recalled_in_a_new_session(
    context: StageContext, store: MemoryStore, embedder: TextEmbedder
) -> None:
    alice = finished_turn(context, "stream-1", "alice", ALICE_SAYS)
    bob = finished_turn(context, "stream-1", "bob", BOB_SAYS)
    assert distill_turn(context.storage, store, embedder, alice, summary_lines=4) == 4  # 3 facts, 1 summary
    assert distill_turn(context.storage, store, embedder, bob, summary_lines=4) == 4

    # Weeks later, another stream: what is recalled for Alice's question is hers, nearest first.
    [nearest] = store.search(OWNER, "hana", "alice", embedder.embed(["what was my dog called?"])[0], limit=1)
    assert nearest.text == "They have a dog named Biscuit."
    recall = MemoryRecall(store=lambda: store, embedder=lambda: embedder, limit=8, token_budget=160)
    later = {"_id": "j", "owner": OWNER, "persona": "hana", "session_id": "stream-9", "viewer_id": "alice"}
    message = recall.message_for(later, "do you still remember me?", lambda text: len(text) // 4 + 1)
    assert message is not None and message.role == "system"
    for fact in (
        "Their name is Alice.",
        "They have a dog named Biscuit.",
        "Their favourite game is Hollow Knight.",
    ):
        assert fact in message.content
    assert "Hollow Knight" in message.content and "In a stream on" in message.content  # the summary
    assert not any(word in message.content for word in ("Bob", "Pixel", "Tetris"))
    # More memories than the recall limit: the ones nearest to what she asks are recalled.
    asked = MemoryRecall(
        store=lambda: store,
        embedder=lambda: embedder,
        limit=1,
        token_budget=160,
        embed_timeout_s=60,  # this checks the ranking, not the live path's patience on a loaded machine
    )
    pet = asked.message_for(later, "what was my dog called again?", lambda text: len(text) // 4 + 1)
    assert pet is not None and pet.content.splitlines()[1:] == ["- They have a dog named Biscuit."]
    game = asked.message_for(later, "which video game do I love most?", lambda text: len(text) // 4 + 1)
    assert game is not None and game.content.splitlines()[1:] == ["- Their favourite game is Hollow Knight."]
    # Memory is per persona too: another persona knows nothing of Alice.
    assert store.search(OWNER, "other-persona", "alice", None, limit=10) == []


def test_a_redelivered_task_stores_nothing_twice_and_a_restated_fact_replaces_the_old(
    context: StageContext, store: MemoryStore, embedder: TextEmbedder
) -> None:
    first = finished_turn(context, "stream-1", "alice", ALICE_SAYS)
    for _ in range(3):  # the task delivered three times
        distill_turn(context.storage, store, embedder, first, summary_lines=4)
    assert store.count(owner=OWNER, viewer_id="alice") == 4
    changed = finished_turn(context, "stream-2", "alice", "my favourite game is Celeste now")
    distill_turn(context.storage, store, embedder, changed, summary_lines=4)
    facts = remembered(store, "alice")
    assert "Their favourite game is Celeste." in facts
    assert "Their favourite game is Hollow Knight." not in facts
    assert store.count(owner=OWNER, viewer_id="alice") == 5  # the same 3 facts, a summary for each stream
    # Without a query vector the facts come before the (newer) summaries.
    assert {m.kind for m in store.search(OWNER, "hana", "alice", None, limit=3)} == {"fact"}


def test_turns_without_a_viewer_or_unfinished_teach_nothing(
    context: StageContext, store: MemoryStore, embedder: TextEmbedder
) -> None:
    anonymous = finished_turn(context, "stream-1", None, ALICE_SAYS)
    failed = finished_turn(context, "stream-1", "alice", ALICE_SAYS)
    context.storage.jobs.update_one({"_id": failed}, {"$set": {"status": "failed"}})
    assert distill_turn(context.storage, store, embedder, anonymous, summary_lines=4) == 0
    assert distill_turn(context.storage, store, embedder, failed, summary_lines=4) == 0
    assert store.count() == 0


def test_the_llm_is_given_this_viewer_s_memories_after_the_unchanged_persona_prefix(
    context: StageContext, store: MemoryStore, embedder: TextEmbedder
) -> None:
    for viewer_id, text in [("alice", ALICE_SAYS), ("bob", BOB_SAYS)]:
        job_id = finished_turn(context, "stream-1", viewer_id, text)
        distill_turn(context.storage, store, embedder, job_id, summary_lines=4)
    recall = MemoryRecall(store=lambda: store, embedder=lambda: embedder, limit=8, token_budget=160)
    asking = jobs.create_job(
        context.storage,
        session_id="stream-2",
        kind="text",
        persona="hana",
        persona_version="1",
        input_text="hey, do you remember my pet?",
        owner=OWNER,
        extra={"viewer_id": "alice", "viewer_name": "AliceInChat"},
    )
    chat = ScriptedChat("[happy] Of course I do!")
    generate_reply(context, chat, asking["_id"], recall)
    messages = chat.calls[0]
    persona = get_persona("hana")
    prefix = [message.content for message in messages[: 1 + len(example_exchange(persona))]]
    assert prefix[0] == system_prompt(persona)  # byte-identical and first: llama.cpp's cached prefix
    assert prefix[1:] == [m.content for m in example_exchange(persona)]
    memory = messages[1 + len(example_exchange(persona))]
    assert memory.role == "system"
    assert "Biscuit" in memory.content and "AliceInChat" in memory.content
    assert not any(word in m.content for m in messages for word in ("Bob", "Pixel", "Tetris"))
    assert messages[-1].content == "hey, do you remember my pet?"

    # Another viewer's turn gets theirs; a turn without a viewer gets no memory message at all.
    others: list[tuple[str | None, str | None]] = [("bob", "Pixel"), (None, None)]
    for other, expected in others:
        job = jobs.create_job(
            context.storage, session_id="stream-2", kind="text", persona="hana", persona_version="1",
            input_text="hi again", owner=OWNER, extra={"viewer_id": other},
        )  # fmt: skip
        chat = ScriptedChat("[happy] Hi!")
        generate_reply(context, chat, job["_id"], recall)
        contents = " ".join(m.content for m in chat.calls[0])
        assert "Biscuit" not in contents and "Alice" not in contents
        systems = [m.content for m in chat.calls[0] if m.role == "system"]
        assert systems[0] == system_prompt(persona)
        assert (len(systems) == 2 and expected in systems[1]) if expected else len(systems) == 1


def test_a_finished_turn_with_a_viewer_owes_its_distillation(context: StageContext) -> None:
    with_viewer = finished_turn(context, "stream-1", "alice", ALICE_SAYS, followups=[jobs.FOLLOWUP_MEMORY])
    without = finished_turn(context, "stream-1", None, ALICE_SAYS, followups=[jobs.FOLLOWUP_MEMORY])
    for job_id in (with_viewer, without):
        run_job_followups(context, jobs.get_job(context.storage, job_id) or {})
        assert (jobs.get_job(context.storage, job_id) or {})["followups"] == []
    assert context.dispatcher.calls("distill_memories") == [(with_viewer,)]  # type: ignore[attr-defined]
    assert jobs.FOLLOWUP_MEMORY in jobs.JOB_COMPLETED_FOLLOWUPS


def test_two_owners_viewers_of_the_same_id_never_share_memories(
    context: StageContext, store: MemoryStore, embedder: TextEmbedder
) -> None:
    other_owner = "key-streamer-b"
    theirs = finished_turn(
        context, "stream-b", "alice", "I'm called Carol and my favourite game is Tetris", owner=other_owner
    )
    ours = finished_turn(context, "stream-a", "alice", ALICE_SAYS)
    for job_id in (theirs, ours):
        distill_turn(context.storage, store, embedder, job_id, summary_lines=4)
    # Same viewer id, same persona, same fact slots: neither overwrites the other's rows.
    assert "Their favourite game is Hollow Knight." in remembered(store, "alice")
    assert "Their favourite game is Tetris." in remembered(store, "alice", other_owner)
    recall = MemoryRecall(store=lambda: store, embedder=lambda: embedder, limit=8, token_budget=160)
    for owner, mine, not_mine in [(OWNER, "Biscuit", "Carol"), (other_owner, "Carol", "Biscuit")]:
        job = {"_id": "j", "owner": owner, "persona": "hana", "session_id": "later", "viewer_id": "alice"}
        message = recall.message_for(job, "remember me?", lambda text: len(text) // 4 + 1)
        assert message is not None and mine in message.content and not_mine not in message.content
    # A key nobody gave memories to (or a turn with no owner) recalls nothing of either.
    stranger = {"_id": "j", "owner": "key-c", "persona": "hana", "session_id": "later", "viewer_id": "alice"}
    assert recall.message_for(stranger, "remember me?", lambda text: len(text) // 4 + 1) is None
    # Erasing one owner's alice leaves the other's.
    store.delete_viewer(OWNER, "alice")
    assert remembered(store, "alice") == []
    assert len(remembered(store, "alice", other_owner)) == 3  # name, game, summary
