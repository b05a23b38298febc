"""Which chat line the avatar answers, on real Redis and the MongoDB-protocol server.

Lines go in through the session's chat stream as a connector writes them; a pass of the selector
stores each with its fate and may submit one as a text turn (the dispatcher only records the send).
"""

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from pipelines.chat_ranking import LlmRanker, Moderator
from pipelines.chat_selector import ChatSelector
from pipelines.chat_sources import chat_messages
from pipelines.chat_stream import append
from pipelines.jobs import new_id, utcnow
from pipelines.stages.context import StageContext
from schemas.chat import ChatKind, ChatMessage, ChatPlatform
from tests.fakes.moderation_fake import FakeModeration
from tests.fakes.openai_fake import FakeOpenAI, reply

SOURCE = "c" * 32
ids = itertools.count(1)


def make_session(context: StageContext) -> str:
    session_id = new_id()
    context.storage.sessions.insert_one(
        {
            "_id": session_id,
            "owner": "key-1",
            "persona": "hana",
            "persona_version": "1",
            "created_at": utcnow(),
        }
    )
    return session_id


def line(text: str, viewer: str = "", **fields: Any) -> ChatMessage:
    n = next(ids)
    viewer = viewer or f"v{n}"
    return ChatMessage(
        platform=ChatPlatform.twitch,
        source_id=fields.pop("source_id", SOURCE),
        message_id=fields.pop("message_id", f"m{n}"),
        viewer_id=f"twitch:{viewer}",
        viewer_name=viewer,
        text=text,
        **fields,
    )


def push(context: StageContext, session_id: str, *messages: ChatMessage) -> None:
    async def write() -> None:
        client = aioredis.Redis.from_url(context.settings.redis_url)
        try:
            await append(client, session_id, list(messages), max_len=10_000)
        finally:
            await client.aclose()

    asyncio.run(write())


def selector(context: StageContext, rclient: redis.Redis, **settings: Any) -> ChatSelector:
    config = context.settings.model_copy(
        update={"chat_min_reply_interval_s": 0.0, "chat_max_turns_in_flight": 1000, **settings}
    )
    return ChatSelector(context.storage, rclient, context.events, context.dispatcher, config)


def decided(fate: str, reason: str) -> float:
    value = REGISTRY.get_sample_value("vtuber_chat_lines_decided_total", {"fate": fate, "reason": reason})
    return value or 0.0


def fates(context: StageContext, session_id: str) -> dict[str, tuple[str, str | None]]:
    found = chat_messages(context.storage).find({"session_id": session_id})
    return {doc["text"]: (doc["fate"], doc["reason"]) for doc in found}


def answered_job(context: StageContext, job_id: str | None) -> dict[str, Any]:
    job = context.storage.jobs.find_one({"_id": job_id})
    assert job is not None
    return job


def test_paid_lines_jump_the_line_then_members_then_the_most_interesting(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    session_id = make_session(stage_context)
    chooser = selector(stage_context, rclient)
    push(stage_context, session_id, line("what game is next, Hana?"), line("so cozy here"))
    push(stage_context, session_id, line("take my bits!", "rin", kind=ChatKind.cheer, bits=100))
    super_chat = line(
        "love the stream", "mika", kind=ChatKind.super_chat, amount_micros=5_000_000, currency="USD"
    )
    push(stage_context, session_id, super_chat)
    first = chooser.run_pass(session_id)
    job = answered_job(stage_context, first.job_id)
    assert job["input_text"] == "(cheered 100 bits) take my bits!"
    assert (job["viewer_id"], job["viewer_name"], job["kind"]) == ("twitch:rin", "rin", "text")
    assert job["chat_message_id"] == first.answered and job["owner"] == "key-1"
    assert stage_context.dispatcher.calls("reply") == [(first.job_id,)]  # type: ignore[attr-defined]
    second = chooser.run_pass(session_id)
    assert answered_job(stage_context, second.job_id)["input_text"] == "(Super Chat 5.00 USD) love the stream"
    # the unpaid lines the cheer was chosen over are passed over, not queued behind it
    assert fates(stage_context, session_id)["what game is next, Hana?"] == ("skipped", "not_chosen")

    push(
        stage_context,
        session_id,
        line("nice"),
        line("I am a member!", member=True),
        line("how was your day, Hana?"),
    )
    third = chooser.run_pass(session_id)
    assert answered_job(stage_context, third.job_id)["input_text"] == "I am a member!"
    push(stage_context, session_id, line("ok"), line("Hana, which song do you like best?"), line("lol"))
    fourth = chooser.run_pass(session_id)
    assert answered_job(stage_context, fourth.job_id)["input_text"] == "Hana, which song do you like best?"


def test_duplicates_blocks_cooldowns_and_empty_lines_are_skipped_with_their_reason(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    session_id = make_session(stage_context)
    chooser = selector(
        stage_context,
        rclient,
        chat_blocked_viewers=["troll"],
        chat_blocked_words=["spoiler"],
        chat_viewer_cooldown_s=600.0,
    )
    counted = {reason: decided("skipped", reason) for reason in ("duplicate", "blocked", "cooldown", "empty")}
    answered_before = decided("answered", "")
    first = line("hello hana how are you", "aki")
    push(
        stage_context,
        session_id,
        first,
        line("Hello, HANA! How are you??", "ben"),  # the same line again
        line("you are all wrong", "Troll"),
        line("huge SPOILER: the boss dies", "cho"),
        line("   ", "dan"),
    )
    push(stage_context, session_id, first)  # the platform gave the same line twice (a re-read page)
    assert chooser.run_pass(session_id).answered == f"{SOURCE}:{first.message_id}"
    push(stage_context, session_id, line("me again, any plans for tonight?", "aki"), line("hi", "eve"))
    second = chooser.run_pass(session_id)
    assert answered_job(stage_context, second.job_id)["viewer_id"] == "twitch:eve"
    assert fates(stage_context, session_id) == {
        "hello hana how are you": ("answered", None),
        "Hello, HANA! How are you??": ("skipped", "duplicate"),
        "you are all wrong": ("skipped", "blocked"),
        "huge SPOILER: the boss dies": ("skipped", "blocked"),
        "   ": ("skipped", "empty"),
        "me again, any plans for tonight?": ("skipped", "cooldown"),
        "hi": ("answered", None),
    }
    assert chat_messages(stage_context.storage).count_documents({"session_id": session_id}) == 7
    expected = {"duplicate": 1, "blocked": 2, "cooldown": 1, "empty": 1}
    assert {reason: decided("skipped", reason) - count for reason, count in counted.items()} == expected
    assert decided("answered", "") - answered_before == 2  # vtuber_chat_lines_decided_total on /metrics


def test_the_avatar_never_answers_faster_than_the_configured_interval(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    interval = 0.4
    session_id = make_session(stage_context)
    chooser = selector(stage_context, rclient, chat_min_reply_interval_s=interval)
    deadline = time.monotonic() + 60
    answered = 0
    while answered < 4:  # passes as fast as they come, with a new line before each
        assert time.monotonic() < deadline, "four answers did not come within 60 s"
        push(stage_context, session_id, line(f"question number {next(ids)}?"))
        answered += chooser.run_pass(session_id).answered is not None
    decided = [
        doc["decided_at"]
        for doc in chat_messages(stage_context.storage)
        .find({"session_id": session_id, "fate": "answered"})
        .sort("decided_at", 1)
    ]
    assert len(decided) == 4
    minimum = timedelta(seconds=interval)  # stored to the millisecond, compared exactly
    assert all(later - earlier >= minimum for earlier, later in itertools.pairwise(decided)), decided
    skipped = chat_messages(stage_context.storage).count_documents(
        {"session_id": session_id, "fate": "skipped"}
    )
    assert skipped > 0  # lines came faster than answers; those not chosen are recorded as such


def test_at_most_the_configured_chat_turns_are_unfinished(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    session_id = make_session(stage_context)
    chooser = selector(stage_context, rclient, chat_max_turns_in_flight=1)
    push(stage_context, session_id, line("first question?"))
    first = chooser.run_pass(session_id)
    assert first.answered is not None
    push(stage_context, session_id, line("paid", kind=ChatKind.cheer, bits=5))
    assert chooser.run_pass(session_id).answered is None  # the first turn is still queued
    stage_context.storage.jobs.update_one({"_id": first.job_id}, {"$set": {"status": "completed"}})
    assert chooser.run_pass(session_id).answered is not None  # the paid line waited its turn


def test_a_flagged_line_is_skipped_and_the_next_answered_and_moderation_down_answers_nothing(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    session_id = make_session(stage_context)
    with FakeModeration({"idiot"}) as fake:
        chooser = selector(stage_context, rclient)
        chooser.moderator = Moderator(fake.base_url)
        push(
            stage_context,
            session_id,
            line("Hana, you idiot, why?", "x"),
            line("what is your favorite food?", "y"),
        )
        result = chooser.run_pass(session_id)
        assert answered_job(stage_context, result.job_id)["viewer_id"] == "twitch:y"
        assert fates(stage_context, session_id)["Hana, you idiot, why?"] == ("skipped", "moderated")
        fake.down = True
        push(stage_context, session_id, line("a kind question for you?", "z"))
        assert chooser.run_pass(session_id).answered is None  # fails closed: nothing unchecked is said
        assert fates(stage_context, session_id)["a kind question for you?"] == ("skipped", "moderated")
    assert fake.inputs[:2] == ["Hana, you idiot, why?", "what is your favorite food?"]


def test_when_chat_is_calm_the_llm_ranker_picks_the_line(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    session_id = make_session(stage_context)
    with FakeOpenAI(api_key="sk-test") as fake:
        fake.script(reply("2"))
        chooser = selector(stage_context, rclient)
        chooser.ranker = LlmRanker(fake.base_url, "gpt-4-turbo", "sk-test")
        # the heuristic prefers the question; the model's pick (line 2) wins
        question, story = line("Hana, what are we playing today?"), line("my cat just sneezed on my keyboard")
        push(stage_context, session_id, question, story)
        result = chooser.run_pass(session_id)
        assert (
            answered_job(stage_context, result.job_id)["input_text"] == "my cat just sneezed on my keyboard"
        )
        prompt = fake.requests[0].body["messages"][-1]["content"]
        assert "1. Hana, what are we playing today?" in prompt and "2. my cat" in prompt
        fake.script(reply("no idea"))  # an unusable answer: the heuristic decides
        push(stage_context, session_id, line("ok"), line("Hana, do you like rainy days?"))
        result = chooser.run_pass(session_id)
        assert answered_job(stage_context, result.job_id)["input_text"] == "Hana, do you like rainy days?"


@pytest.mark.parametrize("bad", [b"not json", b'{"platform": "myspace"}'])
def test_an_unreadable_stream_entry_is_skipped(
    stage_context: StageContext, rclient: redis.Redis, bad: bytes
) -> None:
    session_id = make_session(stage_context)
    rclient.xadd(f"chat:lines:{session_id}", {"m": bad})
    push(stage_context, session_id, line("still here?"))
    result = selector(stage_context, rclient).run_pass(session_id)
    assert result.stored == 2 and result.answered is not None


def test_history_older_than_a_line_may_wait_is_stale_on_arrival(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    """A YouTube chat's first page is its history: the avatar does not answer the past."""
    session_id = make_session(stage_context)
    now = datetime.now(UTC)
    push(
        stage_context,
        session_id,
        line("an hour-old question?", sent_at=now - timedelta(hours=1)),
        line("old thanks", kind=ChatKind.cheer, bits=10, sent_at=now - timedelta(minutes=20)),
        line("recent thanks", kind=ChatKind.cheer, bits=10, sent_at=now - timedelta(minutes=2)),
    )
    result = selector(stage_context, rclient).run_pass(session_id)
    assert answered_job(stage_context, result.job_id)["input_text"] == "(cheered 10 bits) recent thanks"
    stale = ("skipped", "stale")
    assert fates(stage_context, session_id) == {
        "an hour-old question?": stale,
        "old thanks": stale,
        "recent thanks": ("answered", None),
    }
