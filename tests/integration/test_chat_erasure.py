"""Erasing a session or a viewer erases what its platform chat said (pipelines/chat_erasure.py)."""

from datetime import timedelta

import redis

from pipelines.chat_erasure import expire_chat_lines
from pipelines.chat_selector import ChatSelector
from pipelines.chat_sources import attach, chat_messages, sources
from pipelines.erasure import ErasureContext, erase_sessions, erase_viewer
from pipelines.jobs import utcnow
from pipelines.stages.context import StageContext
from schemas.chat import ChatPlatform, SourceCreate
from tests.integration.test_chat_selection import line, make_session, push


def chat_of(context: StageContext, rclient: redis.Redis, owner: str) -> str:
    """A session of ``owner`` with a Twitch source and three lines: aki's answered, ben's and aki's
    second passed over."""
    session_id = make_session(context)
    context.storage.sessions.update_one({"_id": session_id}, {"$set": {"owner": owner}})
    attach(context.storage, session_id, owner, SourceCreate(platform=ChatPlatform.twitch, channel="hana"))
    push(context, session_id, line("Hana, how are you today?", "aki"), line("ok", "ben"), line("hm", "aki"))
    config = context.settings.model_copy(update={"chat_min_reply_interval_s": 0.0})
    chooser = ChatSelector(context.storage, rclient, context.events, context.dispatcher, config)
    assert chooser.run_pass(session_id).answered is not None
    return session_id


def test_erasing_a_session_or_a_viewer_erases_their_chat(
    stage_context: StageContext, rclient: redis.Redis
) -> None:
    ctx = ErasureContext(stage_context.storage, rclient, stage_context.settings)
    lines = chat_messages(stage_context.storage)
    first, second = chat_of(stage_context, rclient, "owner-1"), chat_of(stage_context, rclient, "owner-2")

    erased = erase_viewer(ctx, "twitch:aki", "owner-1")  # aki of owner-1, not owner-2's aki
    assert erased["chat_lines"] == 2 and erased["turns"] == 1
    assert sorted(d["viewer_name"] for d in lines.find({"session_id": first})) == ["ben"]
    assert lines.count_documents({"session_id": second, "viewer_id": "twitch:aki"}) == 2

    assert erase_sessions(ctx, [second])["chat_lines"] == 3
    assert lines.count_documents({"session_id": second}) == 0
    assert sources(stage_context.storage).count_documents({"session_id": second}) == 0
    assert not rclient.exists(f"chat:lines:{second}", f"chat:cursor:{second}")
    assert sources(stage_context.storage).count_documents({"session_id": first}) == 1

    # retention of lines no turn answered, by age
    assert expire_chat_lines(stage_context.storage, utcnow() - timedelta(days=1)) == 0
    assert expire_chat_lines(stage_context.storage, utcnow() + timedelta(seconds=1)) == 1
