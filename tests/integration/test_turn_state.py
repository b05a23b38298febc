"""A turn run from its task messages: the segment work they carry, and Redis deciding completion.

The tts and animation tasks get the turn and the segment in their message (pipelines/segment_work.py)
and Redis counts the ready segments (pipelines/turn_state.py); MongoDB stays the record and the
fence. Real MongoDB-protocol server and Redis; a scripted chat model and a tone for a voice, so
the cases are exact (the real models run in the e2e suite).
"""

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis

from pipelines import jobs, segments, turn_state
from pipelines.audio_types import PhonemeTiming, SynthesizedSpeech
from pipelines.stages.animation import animate_segment
from pipelines.stages.context import StageContext
from pipelines.stages.llm import generate_reply
from pipelines.stages.tts import synthesize_segment
from schemas.persona import Persona
from workers.animation_phonemes import text_phonemes

REPLY = "[happy] Hi there, welcome in! [sad] It is raining here today. *sighs*"


class ScriptedChat:
    name = "scripted"

    def stream_chat(self, messages: Any, **_: Any) -> Iterator[str]:
        yield from (REPLY[start : start + 4] for start in range(0, len(REPLY), 4))

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


class ToneVoice:
    name = "tone"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def synthesize(self, text: str, *, persona: Persona, emotion: str) -> SynthesizedSpeech:
        self.lines.append(text)
        rate, seconds = 16000, 0.5
        samples = 0.3 * np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(rate * seconds)))
        return SynthesizedSpeech(
            samples=samples.astype(np.float32),
            sample_rate=rate,
            phonemes=[PhonemeTiming("a", 0.0, seconds)],
        )


@pytest.fixture
def context(stage_context: StageContext) -> StageContext:
    stage_context.settings = stage_context.settings.model_copy(update={"llm_first_audio_wait_s": 0})
    return stage_context


def new_turn(context: StageContext) -> str:
    job = jobs.create_job(
        context.storage, session_id="s", kind="text", persona="hana", persona_version="1", input_text="hi"
    )
    return str(job["_id"])


def voice_and_animate(context: StageContext, voice: ToneVoice) -> None:
    """Run every tts message the LLM sent, then every animation message the tts sent, each with
    the work its message carries (as the workers run them)."""
    dispatcher: Any = context.dispatcher
    for args, work in dispatcher.sends("synthesize"):
        assert work is not None  # the LLM stage sends the segment with its message
        synthesize_segment(context, voice, args[0], args[1], args[2], work)
    for args, work in dispatcher.sends("animate"):
        assert work is not None and work["segment"]["audio_id"]  # and the tts stage its audio
        animate_segment(context, text_phonemes, args[0], args[1], args[2], work)


def test_a_turn_completes_from_its_messages(context: StageContext) -> None:
    job_id = new_turn(context)
    generate_reply(context, ScriptedChat(), job_id)
    voice = ToneVoice()
    voice_and_animate(context, voice)

    job = jobs.get_job(context.storage, job_id) or {}
    assert job["status"] == "completed" and job["followups"] == []
    assert voice.lines == ["Hi there, welcome in!", "It is raining here today."]
    stored = segments.list_segments(context.storage, job_id, 1)
    assert [s["ready"] for s in stored] == [True, True] and all(s["audio_id"] for s in stored)
    # The last sentence went out before the reply was known to end there (a stage direction came
    # after it, never voiced); its face still fades out at the end, the first one's holds.
    first, last = (s["animation"]["expressions"] for s in stored)
    assert first["happy"][-1]["w"] > 0 and last["sad"][-1]["w"] == 0
    assert [turn.assistant for turn in context.context.recent("s")] == [job["reply"]["text"]]


def test_a_completion_is_decided_once_by_whoever_comes_last(
    context: StageContext, rclient: redis.Redis
) -> None:
    job_id = new_turn(context)
    turn_state.open_reply(rclient, job_id, 1)
    assert turn_state.record_ready(rclient, job_id, 1, 0) == (1, turn_state.REPLY_OPEN)
    assert turn_state.record_ready(rclient, job_id, 1, 0) == (1, turn_state.REPLY_OPEN)  # redelivered
    assert turn_state.record_total(rclient, job_id, 1, 2) == 1  # the reply ends: one track missing
    assert turn_state.record_ready(rclient, job_id, 1, 1) == (2, 2)  # this caller completes
    assert turn_state.reply_total(rclient, job_id, 1) == 2
    assert turn_state.reply_total(rclient, job_id, 2) is None  # another attempt counts apart


def test_tasks_of_an_ended_turn_do_no_work(context: StageContext, rclient: redis.Redis) -> None:
    job_id = new_turn(context)
    generate_reply(context, ScriptedChat(), job_id)
    jobs.fail_job(context.storage, job_id, code=jobs.ErrorCode.internal_error, message="x", stage=None)
    turn_state.mark_ended(rclient, job_id)
    voice = ToneVoice()
    for args, work in context.dispatcher.sends("synthesize"):  # type: ignore[attr-defined]
        synthesize_segment(context, voice, args[0], args[1], args[2], work)
    assert voice.lines == []  # no voice spent on a turn nobody hears
    assert not any(s.get("audio_id") for s in segments.list_segments(context.storage, job_id, 1))


def test_without_its_redis_keys_a_turn_still_completes(context: StageContext, rclient: redis.Redis) -> None:
    """Redis restarted empty mid-turn: MongoDB answers whether every segment is ready."""
    job_id = new_turn(context)
    generate_reply(context, ScriptedChat(), job_id)
    rclient.delete(turn_state.total_key(job_id, 1), turn_state.ready_key(job_id, 1))
    voice_and_animate(context, ToneVoice())
    assert (jobs.get_job(context.storage, job_id) or {})["status"] == "completed"
