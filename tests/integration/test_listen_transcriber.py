"""The listen's worker side on real Redis, MongoDB, Silero VAD and Whisper tiny.en, without Celery:
a listener that loses its lease mid-utterance is replaced by one that hears the whole utterance from
the checkpoint, and the final becomes one turn, cutting off the session's reply when asked to."""

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import redis

from pipelines.backends import SpeechToText
from pipelines.jobs import create_job
from pipelines.listen_streams import ListenChannel, ListenMeta, new_listen_id
from pipelines.listen_transcriber import Listener, ListenTuning
from pipelines.listen_turns import submit_listened
from pipelines.stages.context import StageContext
from schemas.listen import SAMPLE_RATE
from schemas.transcription import Transcript
from tests.listen_audio import frames, silence, speech, to_pcm
from tests.wer import wer
from workers.backends import speech_to_text
from workers.stt.silero_stream import SileroStream

LINE = "Hello Hana, what game are we playing today on the stream?"


def open_listen(ctx: StageContext, *, interrupt: bool = False) -> tuple[ListenChannel, ListenMeta]:
    client = redis.Redis.from_url(ctx.settings.redis_url)
    channel = ListenChannel(client, new_listen_id())
    meta = ListenMeta("s" * 32, "owner", "hana", "1", "en", "bundled:tiny.en", interrupt)
    client.hset(channel.keys.meta, mapping=meta.fields())  # type: ignore[arg-type]
    client.set(channel.keys.client, b"1", ex=60)
    return channel, meta


def listener(
    ctx: StageContext, channel: ListenChannel, meta: ListenMeta, lost: Callable[[], bool]
) -> Listener:
    return Listener(
        channel,
        speech_to_text(ctx.settings, "bundled:tiny.en"),
        SileroStream(),
        lambda utterance, text: submit_listened(ctx, channel, meta, utterance, text),
        language="en",
        tuning=ListenTuning(),
        lost=lost,
    )


def output(channel: ListenChannel) -> list[dict[str, Any]]:
    import json

    entries: Any = channel.client.xrange(channel.keys.output)
    return [json.loads(fields[b"frame"]) for _, fields in entries]


def test_a_listener_that_loses_its_lease_mid_utterance_is_replaced_without_losing_it(
    stage_context: StageContext,
) -> None:
    channel, meta = open_listen(stage_context)
    pcm = frames(to_pcm(np.concatenate([silence(2.5), speech(LINE), silence(1.0)])))
    for frame in pcm:
        channel.client.xadd(channel.keys.input, {"pcm": frame})
    channel.client.xadd(channel.keys.input, {"end": "end"})

    holder: list[Listener] = []
    midway = len(b"".join(pcm)) // 2 // 2  # half of the samples: inside the sentence

    def lost_midway() -> bool:
        first = holder[0]
        return first.endpointer.in_speech and first.vad_sample > midway

    first = listener(stage_context, channel, meta, lost_midway)
    holder.append(first)
    assert first.run() is None  # it stopped without ending the listen
    assert first.utterance == 0 and [f["type"] for f in output(channel)] == ["speech_started"]
    # idle audio was let go of, the utterance's start was not
    assert 0 < channel.checkpoint().sample <= first.region_start

    second = listener(stage_context, channel, meta, lambda: False)
    assert second.run() == "end"
    finals = [f for f in output(channel) if f["type"] == "final"]
    assert len(finals) == 1, output(channel)
    assert wer([(LINE, finals[0]["text"])]) <= 0.2, finals[0]["text"]
    assert 2.2 < finals[0]["start_s"] < 2.6 and finals[0]["end_s"] * SAMPLE_RATE <= second.end_sample
    jobs = list(stage_context.storage.jobs.find({"listen_id": channel.keys.listen_id}))
    assert [(j["_id"], j["input_text"], j["kind"]) for j in jobs] == [
        (finals[0]["job_id"], finals[0]["text"], "text")
    ]
    assert stage_context.dispatcher.calls("reply") == [(finals[0]["job_id"],)]  # type: ignore[attr-defined]


def test_a_final_is_one_turn_however_often_it_is_submitted_and_cuts_off_the_reply_when_asked(
    stage_context: StageContext,
) -> None:
    channel, meta = open_listen(stage_context, interrupt=True)
    talking = create_job(
        stage_context.storage, session_id=meta.session_id, kind="text", persona="hana", persona_version="1",
        input_text="Tell me a story.",
    )  # fmt: skip
    job_id = submit_listened(stage_context, channel, meta, 0, "Wait, stop!")
    assert submit_listened(stage_context, channel, meta, 0, "Wait, stop!") == job_id  # a replaced worker
    assert stage_context.storage.jobs.count_documents({"listen_id": channel.keys.listen_id}) == 1
    assert stage_context.storage.jobs.find_one({"_id": talking["_id"]})["status"] == "interrupted"  # type: ignore[index]
    assert stage_context.storage.jobs.find_one({"_id": job_id})["status"] == "queued"  # type: ignore[index]
    assert submit_listened(stage_context, channel, meta, 1, "And now?") != job_id


class CountingSTT:
    """The real backend, counted: how many Whisper calls a listen made."""

    def __init__(self, inner: SpeechToText) -> None:
        self.inner, self.calls, self.name = inner, 0, inner.name

    def transcribe(self, samples: np.ndarray, **options: Any) -> Transcript:
        self.calls += 1
        return self.inner.transcribe(samples, **options)


def test_a_pause_is_transcribed_at_once_and_if_it_ends_the_speech_that_text_is_the_final(
    stage_context: StageContext,
) -> None:
    channel, meta = open_listen(stage_context)
    for frame in frames(to_pcm(np.concatenate([silence(0.5), speech(LINE), silence(0.4)]))):
        channel.client.xadd(channel.keys.input, {"pcm": frame})
    stt = CountingSTT(speech_to_text(stage_context.settings, "bundled:tiny.en"))
    listener = Listener(
        channel,
        stt,
        SileroStream(),
        lambda utterance, text: submit_listened(stage_context, channel, meta, utterance, text),
        language="en",
        tuning=ListenTuning(),
    )
    serving = threading.Thread(target=listener.run, daemon=True)
    serving.start()
    deadline = time.monotonic() + 120
    while not [f for f in output(channel) if f["type"] == "partial"]:  # the pause was heard
        assert time.monotonic() < deadline, f"no partial for the pause: {output(channel)}"
        time.sleep(0.05)
    calls = stt.calls
    for frame in frames(to_pcm(silence(1.0))):  # the pause was the end of the speech
        channel.client.xadd(channel.keys.input, {"pcm": frame})
    channel.client.xadd(channel.keys.input, {"end": "end"})
    serving.join(timeout=120)
    partial, final = ([f for f in output(channel) if f["type"] == kind][-1] for kind in ("partial", "final"))
    assert final["text"] == partial["text"] and wer([(LINE, final["text"])]) <= 0.2, output(channel)
    assert stt.calls == calls  # the final cost no Whisper call of its own
