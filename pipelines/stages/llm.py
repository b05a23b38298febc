"""The reply: persona prompt + short-term context → streamed text, cut into speakable segments.

Each segment is stored and sent to tts the moment the segmenter closes it, so the avatar starts
speaking while the model is still generating.
"""

import logging
import time
import zlib
from collections.abc import Iterator
from typing import Any

from pipelines.backends import ChatMessage, ChatModel
from pipelines.errors import StageError
from pipelines.interrupts import is_cancelled
from pipelines.job_views import segment_out
from pipelines.jobs import begin_llm_attempt, finish_reply, is_active, is_current_attempt
from pipelines.logging_setup import bind
from pipelines.memory_recall import MemoryRecall
from pipelines.personas import get_persona
from pipelines.prompting import build_messages
from pipelines.reply_guard import guard_first_sentence, until_off_character
from pipelines.reply_stream import ReplyStreamer, TaggedSegment
from pipelines.segment_work import segment_work
from pipelines.segments import drop_attempt, drop_older_attempts, put_segment, update_segment
from pipelines.settings import Settings
from pipelines.stages.completion import complete_when_ready
from pipelines.stages.context import StageContext
from pipelines.turn_state import open_reply, record_total
from pipelines.verbatim import may_hold_lines, release_held_lines
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import Stage

log = logging.getLogger(__name__)


def stable_seed(job_id: str) -> int:
    """Same job, same seed: a regenerated reply after a crash reads the same where the model allows."""
    return zlib.crc32(job_id.encode()) & 0x7FFFFFFF


def close_stream(stream: Iterator[str]) -> None:
    """Stop the model now (a generator left open keeps a local model busy until collected)."""
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def recall_memories(
    memories: MemoryRecall | None, job: dict[str, Any], user_text: str, chat: ChatModel
) -> ChatMessage | None:
    """The viewer's memories as a message; a store that fails is logged and the turn goes on."""
    if memories is None or not job.get("viewer_id"):
        return None
    try:
        return memories.message_for(job, user_text, chat.count_tokens)
    except Exception:
        log.exception("memories not recalled", extra={"job_id": job["_id"]})
        return None


def let_the_first_sentence_be_voiced(ctx: StageContext, job_id: str, after: str) -> None:
    """Pause generating until the first sentence's audio is stored (``llm_first_audio_wait_s``).

    The viewer hears nothing before that audio. Where the model and the voice share cores, every
    token generated meanwhile slows the voice down (measured: Piper 2-3x slower beside llama.cpp);
    the next sentences are needed only once the first one has been heard, seconds later.
    """
    wait_s = ctx.settings.llm_first_audio_wait_s
    if wait_s > 0:
        ctx.events.wait_for(
            job_id,
            after,
            lambda e: (
                e.type == EventType.segment_audio_ready and e.segment is not None and e.segment.index == 0
            ),
            wait_s,
        )


def model_used(settings: Settings, chat: ChatModel, persona_model: str | None) -> dict[str, str]:
    """Which backend and model answer: the local backend runs its configured file whatever the
    persona asks for; a remote one the persona's model (a fine-tune) or the configured default."""
    if chat.name == "local":
        return {"backend": chat.name, "model": settings.llm_local_model}
    return {"backend": chat.name, "model": persona_model or settings.openai_model}


def generate_reply(
    ctx: StageContext, chat: ChatModel, job_id: str, memories: MemoryRecall | None = None
) -> None:
    """``memories``: the viewer's long-term memories to recall into the prompt (None: memory off)."""
    job = begin_llm_attempt(ctx.storage, job_id)
    if job is None:
        return  # finished, failed, or the reply is already final
    attempt = int(job["llm_attempt"])
    bind(session_id=job["session_id"], reply_attempt=attempt)
    if attempt > 1:
        drop_older_attempts(ctx.storage, job_id, attempt)
    open_reply(ctx.events.client, job_id, attempt)
    ctx.events.emit(EventType.stage_started, job, stage=Stage.llm, attempt=attempt)
    persona = get_persona(job["persona"])
    user_text = job.get("input_text") or (job.get("transcript") or {}).get("text") or ""
    messages = build_messages(
        persona,
        ctx.context.recent(job["session_id"]),
        user_text,
        count_tokens=chat.count_tokens,
        token_budget=ctx.settings.context_token_budget,
        memories=recall_memories(memories, job, user_text, chat),
    )
    streamer = ReplyStreamer.for_persona(persona)
    pending: list[TaggedSegment] = []
    spoken: list[TaggedSegment] = []
    emitted = 0

    def emit(segments: list[TaggedSegment], *, closing: bool = False) -> None:
        nonlocal emitted
        for position, segment in enumerate(segments):
            doc = put_segment(
                ctx.storage,
                job_id=job_id,
                attempt=attempt,
                index=emitted,
                text=segment.text,
                emotion=segment.emotion,
                motions=list(segment.motions),
                final=closing and position == len(segments) - 1,
                previous_emotion=spoken[-1].emotion if spoken else None,
            )
            announced = ctx.events.emit(
                EventType.segment_queued, job, attempt=attempt, segment=segment_out(ctx.settings, doc)
            )
            ctx.dispatcher.synthesize(job_id, attempt, emitted, work=segment_work(job, doc))
            if emitted == 0 and not closing:
                let_the_first_sentence_be_voiced(ctx, job_id, announced)
            spoken.append(segment)
            emitted += 1

    def open_stream(retry: int) -> Iterator[str]:
        return chat.stream_chat(
            messages,
            max_tokens=ctx.settings.llm_max_tokens,
            temperature=ctx.settings.llm_temperature,
            seed=stable_seed(job_id) + retry,
            model=persona.llm_model,
        )

    started = time.perf_counter()
    if ctx.settings.llm_reply_guard:  # a parroting or help-desk first sentence is asked for again
        stream = guard_first_sentence(
            open_stream,
            ReplyStreamer.for_persona(persona),
            user_text,
            on_retry=lambda reason: log.info("llm reply retried", extra={"job_id": job_id, "reason": reason}),
            persona=persona,
        )
    else:
        stream = open_stream(0)
    limit = ctx.settings.llm_max_segments
    cut_short = False
    try:
        for delta in stream:
            if is_cancelled(ctx.events.client, job_id):
                return  # the viewer interrupted: not one more token
            ready = streamer.push(delta)
            if ctx.settings.llm_reply_guard:
                ready, cut_short = until_off_character(
                    user_text, ready, index=emitted + len(pending), persona=persona
                )
            room = limit - emitted - len(pending)
            if limit and len(ready) >= room:  # live chat stays short: stop at a sentence end
                ready, cut_short = ready[:room], True
            if ctx.settings.llm_streaming:
                # From the second sentence on (the first one's path stays free of it), check that
                # this attempt still counts: the job may have failed or been interrupted (stop), or
                # an overlapping delivery may have started a newer attempt (stop, and take back
                # what this attempt wrote: only the newer attempt's segments may remain).
                if ready and emitted and not is_current_attempt(ctx.storage, job_id, attempt):
                    if is_active(ctx.storage, job_id):
                        drop_attempt(ctx.storage, job_id, attempt)
                    return
                emit(ready)
            else:
                pending.extend(ready)
            if cut_short:
                break
    finally:
        close_stream(stream)
    if not cut_short:
        last = streamer.finish()
        if ctx.settings.llm_reply_guard:
            last, _ = until_off_character(user_text, last, index=emitted + len(pending), persona=persona)
        pending.extend(last)
    emit(pending, closing=True)
    if not pending and emitted:  # the last sentence already went out while streaming
        update_segment(ctx.storage, job_id, attempt, emitted - 1, {"final": True})
    if emitted == 0:
        raise StageError(ErrorCode.llm_failed, "the model returned an empty reply")
    seconds = time.perf_counter() - started
    reply = {
        "text": " ".join(segment.text for segment in spoken),
        "emotion": streamer.dominant_emotion,
        "motions": [motion for segment in spoken for motion in segment.motions],
        "done": True,
    }
    if not finish_reply(
        ctx.storage,
        job_id,
        attempt,
        seconds=seconds,
        reply=reply,
        total=emitted,
        model=model_used(ctx.settings, chat, persona.llm_model),
    ):
        return  # failed meanwhile, or a newer attempt took over: its reply counts, not this one
    # Every segment of this reply is in the tts queue now: a verbatim line held behind it may follow.
    if may_hold_lines(ctx.events.client, job["session_id"]):
        release_held_lines(ctx.storage, ctx.dispatcher, job["session_id"])
    ctx.events.emit(
        EventType.stage_finished,
        job,
        stage=Stage.llm,
        seconds=round(seconds, 4),
        attempt=attempt,
        reply=reply,
        segments_total=emitted,
    )
    tracks_ready = record_total(ctx.events.client, job_id, attempt, emitted)
    complete_when_ready(ctx, job_id, attempt, ready=tracks_ready, total=emitted)
