"""GptSovitsSynthesizer against a faithful fake of the GPT-SoVITS api_v2.py server, on real Redis."""

import io
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import redis
import soundfile as sf
from pymongo.errors import AutoReconnect

from pipelines import jobs, segments
from pipelines.audio_types import SynthesizedSpeech
from pipelines.errors import StageError
from pipelines.events import job_stream
from pipelines.first_audio import FIRST_AUDIO_MIN_S
from pipelines.settings import Settings
from pipelines.stages.animation import animate_segment
from pipelines.stages.context import StageContext
from pipelines.stages.tts import synthesize_segment
from pipelines.tts_slots import ServerSlots
from schemas.errors import ErrorCode
from schemas.events import EventType, JobEvent
from schemas.persona import GptSovitsReference, GptSovitsVoice, Persona, VoiceSettings
from tests.fakes.gpt_sovits_fake import OOM, SAMPLE_RATE, SECONDS_PER_CHAR, FakeGptSovits
from workers.animation_phonemes import text_phonemes
from workers.tts.gpt_sovits import SLOT_GRACE_S, GptSovitsSynthesizer

DEFAULT_REF = "/srv/refs/hana_neutral.wav"
HAPPY_REF = "/srv/refs/hana_happy.wav"
REFS = {DEFAULT_REF: 5.2, HAPPY_REF: 4.1, "/srv/refs/too_short.wav": 1.5}


@pytest.fixture
def server() -> Iterator[FakeGptSovits]:
    with FakeGptSovits(ref_clips=REFS) as fake:
        yield fake


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    client.close()


def make_persona(language: str = "en", **voice: object) -> Persona:
    fields: dict[str, object] = {
        "ref_audio_path": DEFAULT_REF,
        "prompt_text": "Hello, I'm Hana. Nice to meet you.",
        "prompt_lang": "en",
        "speed_factor": 1.1,
        "emotion_refs": {
            "happy": GptSovitsReference(
                ref_audio_path=HAPPY_REF, prompt_text="やったー！すごく嬉しい！", prompt_lang="ja"
            )
        },
    }
    fields.update(voice)
    return Persona(
        id="hana",
        name="Hana",
        system_prompt="You are Hana.",
        language=language,
        voice=VoiceSettings(gpt_sovits=GptSovitsVoice.model_validate(fields)),
    )


def make_tts(settings: Settings, url: str, **overrides: object) -> GptSovitsSynthesizer:
    values: dict[str, object] = {
        "gpt_sovits_url": url,
        "gpt_sovits_timeout_s": 5.0,
        "gpt_sovits_timeout_per_char_s": 0.0,
        "gpt_sovits_max_retries": 2,
    }
    values.update(overrides)
    return GptSovitsSynthesizer(settings.model_copy(update=values), backoff_base_s=0.01)


def synthesize(
    tts: GptSovitsSynthesizer, text: str, persona: Persona | None = None, emotion: str = "neutral"
) -> SynthesizedSpeech:
    return tts.synthesize(text, persona=persona or make_persona(), emotion=emotion)


def failure(tts: GptSovitsSynthesizer, text: str, persona: Persona | None = None) -> StageError:
    with pytest.raises(StageError) as raised:
        synthesize(tts, text, persona)
    return raised.value


# --- the request and the audio -----------------------------------------------------------------


def test_sends_the_persona_voice_and_decodes_the_wav(settings: Settings, server: FakeGptSovits) -> None:
    text = "Good evening, everyone! Thanks for coming to the stream."
    speech = synthesize(make_tts(settings, server.url), text)

    [sent] = server.requests
    assert sent["_method"] == "POST"
    assert sent["text"] == text
    assert sent["text_lang"] == "en"
    assert sent["ref_audio_path"] == DEFAULT_REF
    assert sent["prompt_text"] == "Hello, I'm Hana. Nice to meet you."
    assert sent["prompt_lang"] == "en"
    assert sent["speed_factor"] == pytest.approx(1.1)
    assert sent["media_type"] == "wav"
    assert sent["streaming_mode"] is False

    assert speech.sample_rate == SAMPLE_RATE
    assert speech.samples.dtype == np.float32 and speech.samples.ndim == 1
    assert speech.duration_s == pytest.approx(len(text) * SECONDS_PER_CHAR / 1.1, abs=0.01)
    assert 0.3 < float(np.abs(speech.samples).max()) <= 1.0
    assert speech.phonemes is None and speech.text_phonemes is None


def test_emotion_switches_the_reference_clip(settings: Settings, server: FakeGptSovits) -> None:
    tts = make_tts(settings, server.url)
    persona = make_persona()
    synthesize(tts, "I'm so happy!", persona, emotion="happy")
    synthesize(tts, "That's a pity.", persona, emotion="sad")  # no clip for sad: the default

    happy, sad = server.requests
    assert (happy["ref_audio_path"], happy["prompt_text"], happy["prompt_lang"]) == (
        HAPPY_REF,
        "やったー！すごく嬉しい！",
        "ja",
    )
    assert happy["text_lang"] == "en"
    assert (sad["ref_audio_path"], sad["prompt_lang"]) == (DEFAULT_REF, "en")


def test_emotion_reference_without_language_keeps_the_default_prompt_lang(
    settings: Settings, server: FakeGptSovits
) -> None:
    persona = make_persona(
        emotion_refs={"happy": GptSovitsReference(ref_audio_path=HAPPY_REF, prompt_text="Yay!")}
    )
    synthesize(make_tts(settings, server.url), "Hooray!", persona, emotion="happy")
    assert server.requests[0]["prompt_lang"] == "en"
    assert server.requests[0]["prompt_text"] == "Yay!"


def test_languages_go_out_lower_case_and_derived_from_the_persona(settings: Settings) -> None:
    """The server's pipeline is case-sensitive: a persona written with EN/JA must still work."""
    with FakeGptSovits(ref_clips={DEFAULT_REF: 5.0}) as fake:
        tts = make_tts(settings, fake.url)
        synthesize(tts, "Hello there.", make_persona(text_lang="EN", prompt_lang=" En "))
        synthesize(
            tts, "こんにちは、みなさん。", make_persona(language="ja", prompt_lang=None, emotion_refs={})
        )
    upper, japanese = fake.requests
    assert (upper["text_lang"], upper["prompt_lang"]) == ("en", "en")
    assert (japanese["text_lang"], japanese["prompt_lang"]) == ("ja", "ja")


@pytest.mark.parametrize(("version", "rate"), [("v1", 32000), ("v2Pro", 32000), ("v3", 24000), ("v4", 48000)])
def test_the_sample_rate_is_the_wavs_own(settings: Settings, version: str, rate: int) -> None:
    text = "Every model version answers at its own rate."
    with FakeGptSovits(ref_clips=REFS, version=version) as fake:
        speech = synthesize(make_tts(settings, fake.url, gpt_sovits_version=version), text)
    assert speech.sample_rate == rate
    assert speech.duration_s == pytest.approx(len(text) * SECONDS_PER_CHAR / 1.1, abs=0.01)


# --- failures and what they mean ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("voice", "text", "expected"),
    [
        (
            {"ref_audio_path": "/srv/refs/missing.wav"},
            "Hello.",
            "tts failed: /srv/refs/missing.wav not exists",
        ),
        ({"ref_audio_path": "/srv/refs/too_short.wav"}, "Hello.", "tts failed: 参考音频在3~10秒范围外"),
        ({"ref_audio_path": ""}, "Hello.", "ref_audio_path is required"),
        ({}, "   ", "tts failed: 请输入有效文本"),
    ],
)
def test_permanent_400_is_final_with_the_server_message(
    settings: Settings, server: FakeGptSovits, voice: dict[str, Any], text: str, expected: str
) -> None:
    error = failure(make_tts(settings, server.url), text, make_persona(**voice))
    assert error.code == ErrorCode.tts_bad_request
    assert expected in error.message
    assert error.retryable is False
    assert len(server.requests) == 1  # never asked again


def test_english_locale_messages_are_classified_the_same(settings: Settings) -> None:
    with FakeGptSovits(ref_clips=REFS, locale="en_US") as fake:
        tts = make_tts(settings, fake.url)
        short = failure(tts, "Hello.", make_persona(ref_audio_path="/srv/refs/too_short.wav"))
        empty = failure(tts, "   ")
    assert "outside the 3-10 second range" in short.message and not short.retryable
    assert "Please enter valid text" in empty.message and not empty.retryable
    assert len(fake.requests) == 2


def test_a_language_the_server_version_does_not_read_is_a_bad_request(settings: Settings) -> None:
    with FakeGptSovits(ref_clips=REFS, version="v1") as fake:
        error = failure(
            make_tts(settings, fake.url), "안녕하세요.", make_persona(language="ko", prompt_lang="ko")
        )
    assert error.code == ErrorCode.tts_bad_request and not error.retryable
    assert "text_lang: ko is not supported in version v1" in error.message


def test_v3_refuses_an_empty_prompt_text_for_good(settings: Settings) -> None:
    with FakeGptSovits(ref_clips=REFS, version="v3") as fake:
        error = failure(
            make_tts(settings, fake.url, gpt_sovits_version="v3"), "Hello.", make_persona(prompt_text="")
        )
    assert error.code == ErrorCode.tts_bad_request and not error.retryable
    assert "prompt_text cannot be empty" in error.message
    assert len(fake.requests) == 1


def test_out_of_memory_is_transient_and_asked_again(settings: Settings, server: FakeGptSovits) -> None:
    server.pipeline_error_next(OOM)
    speech = synthesize(make_tts(settings, server.url), "Back after the memory spike.")
    assert len(server.requests) == 2 and speech.duration_s > 0.3


def test_file_access_errors_after_every_retry_are_retryable_for_the_stage(
    settings: Settings, server: FakeGptSovits
) -> None:
    server.pipeline_error_next("[Errno 5] Input/output error: '/srv/refs/hana_neutral.wav'", times=3)
    error = failure(make_tts(settings, server.url, gpt_sovits_max_retries=2), "Hello.")
    assert (error.code, error.retryable) == (ErrorCode.tts_failed, True)
    assert len(server.requests) == 3


def test_an_unknown_pipeline_failure_is_left_to_the_stage(settings: Settings, server: FakeGptSovits) -> None:
    server.pipeline_error_next("'NoneType' object has no attribute 'shape'")
    error = failure(make_tts(settings, server.url), "Hello.")
    assert (error.code, error.retryable) == (ErrorCode.tts_failed, True)
    assert len(server.requests) == 1  # not in a tight loop here


def test_text_with_nothing_to_pronounce_is_final_silence(settings: Settings, server: FakeGptSovits) -> None:
    error = failure(make_tts(settings, server.url), "🎉✨🎉")
    assert (error.code, error.retryable) == (ErrorCode.tts_silent, False)
    assert len(server.requests) == 1
    assert "nothing to pronounce" in error.message


def test_a_crash_during_inference_is_silence_asked_again(settings: Settings, server: FakeGptSovits) -> None:
    server.crash_next(1)
    speech = synthesize(make_tts(settings, server.url), "The model crashed once.")
    assert len(server.requests) == 2
    assert speech.sample_rate == SAMPLE_RATE and float(np.abs(speech.samples).max()) > 0.3


def test_silence_after_every_retry_is_a_retryable_tts_silent(
    settings: Settings, server: FakeGptSovits
) -> None:
    server.crash_next(3)
    error = failure(make_tts(settings, server.url, gpt_sovits_max_retries=2), "It keeps crashing.")
    assert (error.code, error.retryable) == (ErrorCode.tts_silent, True)
    assert "16000 Hz" in error.message
    assert len(server.requests) == 3


def test_persona_without_gpt_sovits_voice_is_a_bad_request(settings: Settings, server: FakeGptSovits) -> None:
    persona = Persona(id="p", name="P", system_prompt="x")
    error = failure(make_tts(settings, server.url), "Hello.", persona)
    assert error.code == ErrorCode.tts_bad_request
    assert "no GPT-SoVITS voice" in error.message
    assert server.requests == []


def test_5xx_is_retried_then_succeeds(settings: Settings, server: FakeGptSovits) -> None:
    server.fail_next(2)
    speech = synthesize(make_tts(settings, server.url, gpt_sovits_max_retries=2), "Back again.")
    assert len(server.requests) == 3
    assert speech.duration_s > 0.3


def test_5xx_after_all_retries_is_unavailable(settings: Settings, server: FakeGptSovits) -> None:
    server.fail_next(5, status=503)
    error = failure(make_tts(settings, server.url, gpt_sovits_max_retries=2), "Hello.")
    assert error.code == ErrorCode.tts_unavailable
    assert error.retryable is True
    assert len(server.requests) == 3


def test_unreachable_server_is_unavailable(settings: Settings) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failure(make_tts(settings, f"http://127.0.0.1:{port}", gpt_sovits_max_retries=1), "Hello.")
    assert error.code == ErrorCode.tts_unavailable
    assert error.retryable is True
    assert "unreachable" in error.message


def test_read_timeout_is_retried_then_a_timeout(settings: Settings) -> None:
    calls: list[str] = []

    def hang(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ReadTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(hang))
    tts = GptSovitsSynthesizer(
        settings.model_copy(update={"gpt_sovits_max_retries": 2, "gpt_sovits_slots": 0}),
        client,
        backoff_base_s=0.01,
    )
    error = failure(tts, "Hello.")
    assert error.code == ErrorCode.tts_timeout  # it took the request: not "unreachable"
    # Each timeout but the last is followed by a probe of whether the server is free again.
    assert calls == ["/tts", "/control", "/tts", "/control", "/tts"]


# --- one request at a time per server ------------------------------------------------------------


def test_slots_keep_one_request_at_a_time_per_server(settings: Settings) -> None:
    """Four segments at once on two synthesizers (two workers): the server never holds two."""

    def run(slots: int) -> int:
        with FakeGptSovits(ref_clips=REFS, setup_s=0.2) as fake:
            workers = [make_tts(settings, fake.url, gpt_sovits_slots=slots) for _ in range(2)]
            threads = [
                threading.Thread(target=synthesize, args=(workers[i % 2], f"Segment number {i}."))
                for i in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert len(fake.requests) == 4
            return fake.max_in_flight

    assert run(slots=1) == 1
    assert run(slots=0) > 1  # the control: without slots they pile up at the server


def test_a_timed_out_request_is_not_repeated_while_the_server_still_runs_it(
    settings: Settings, server: FakeGptSovits, redis_client: redis.Redis
) -> None:
    # The server works on the first request for 3 s; the client gives up after 2 s and then
    # waits (up to its timeout again) until the server is free before it asks again.
    server.hang(times=1, seconds=3.0)
    tts = make_tts(settings, server.url, gpt_sovits_timeout_s=2.0, gpt_sovits_slot_wait_s=10)
    other_worker = ServerSlots(redis_client, server.url, limit=1)
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(synthesize(tts, "Slow but sure.")))
    thread.start()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(2.5)  # past the client's timeout, while the server still works on it
    assert other_worker.acquire(lease_s=1, wait_s=0) is None, "the slot must stay taken"
    thread.join(timeout=30)
    assert len(outcome) == 1, "synthesis did not finish"
    first, second = server.requests
    assert second["_arrived_busy"] is False  # asked again only once the server was free
    assert second["_received_at"] - first["_received_at"] >= 3.0


def test_a_segment_keeps_its_slot_between_attempts(settings: Settings, server: FakeGptSovits) -> None:
    """Another segment waiting for the server never cuts in between a segment's timeout and retry."""
    server.hang(times=1, seconds=1.5)
    first = make_tts(settings, server.url, gpt_sovits_timeout_s=1.0)
    waiting = make_tts(settings, server.url, gpt_sovits_slot_wait_s=30)
    thread = threading.Thread(target=synthesize, args=(first, "The first segment."))
    thread.start()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    synthesize(waiting, "The second segment.")
    thread.join(timeout=30)
    assert [r["text"] for r in server.requests] == ["The first segment."] * 2 + ["The second segment."]
    assert not any(r["_arrived_busy"] for r in server.requests)


def test_the_last_timeout_leaves_the_slot_taken_until_the_server_may_be_done(
    settings: Settings, server: FakeGptSovits, redis_client: redis.Redis
) -> None:
    server.hang()  # for good
    tts = make_tts(settings, server.url, gpt_sovits_timeout_s=0.5, gpt_sovits_max_retries=0)
    error = failure(tts, "Hello.")
    assert error.code == ErrorCode.tts_timeout and error.retryable
    slots = ServerSlots(redis_client, server.url, limit=1)
    assert slots.holders() == 1 and slots.acquire(lease_s=1, wait_s=0) is None
    lease = slots.acquire(lease_s=1, wait_s=0.5 + SLOT_GRACE_S + 5)
    assert lease is not None, "the abandoned request's slot never expired"
    lease.release()


def test_no_free_slot_in_time_is_a_retryable_timeout_without_a_request(
    settings: Settings, server: FakeGptSovits, redis_client: redis.Redis
) -> None:
    held = ServerSlots(redis_client, server.url, limit=1).acquire(lease_s=30, wait_s=0)
    assert held is not None
    try:
        error = failure(make_tts(settings, server.url, gpt_sovits_slot_wait_s=0.3), "Hello.")
    finally:
        held.release()
    assert (error.code, error.retryable) == (ErrorCode.tts_timeout, True)
    assert "every slot stayed busy" in error.message
    assert server.requests == []


def test_read_timeout_grows_with_the_text(settings: Settings) -> None:
    tts = make_tts(settings, "http://127.0.0.1:9", gpt_sovits_timeout_s=10, gpt_sovits_timeout_per_char_s=0.1)
    assert tts.read_timeout_s("") == pytest.approx(10)
    assert tts.read_timeout_s("x" * 120) == pytest.approx(22)


# --- streaming ---------------------------------------------------------------------------------


def test_streamed_chunks_make_the_same_audio(settings: Settings, server: FakeGptSovits) -> None:
    text = "First sentence here. And a second one."
    whole = synthesize(make_tts(settings, server.url), text)
    chunks: list[tuple[int, int]] = []
    streaming = make_tts(settings, server.url, gpt_sovits_streaming_mode=2)
    streamed = streaming.stream(
        text, persona=make_persona(), emotion="neutral", on_chunk=lambda s, r: chunks.append((len(s), r))
    )
    assert server.requests[1]["streaming_mode"] == 2
    assert server.streamed_chunks[0] > 2 and {rate for _, rate in chunks} == {SAMPLE_RATE}
    assert streamed.sample_rate == whole.sample_rate
    # The same speech, sentence by sentence, each followed by upstream's 0.3 s fragment interval.
    sentences = ["First sentence here.", "And a second one."]
    expected = sum(len(s) * SECONDS_PER_CHAR / 1.1 + 0.3 for s in sentences)
    assert streamed.duration_s == pytest.approx(expected, abs=0.01)
    assert whole.duration_s == pytest.approx(len(text) * SECONDS_PER_CHAR / 1.1, abs=0.01)


@pytest.mark.parametrize(("version", "mode"), [("v3", 2), ("v2", 1)])
def test_per_sentence_streaming(settings: Settings, version: str, mode: int) -> None:
    """Mode 1 streams a chunk per sentence, and v3/v4 fall back to it from token chunks."""
    chunks: list[int] = []
    with FakeGptSovits(ref_clips=REFS, version=version) as fake:
        tts = make_tts(settings, fake.url, gpt_sovits_version=version, gpt_sovits_streaming_mode=mode)
        tts.stream("One. Two words. Three words here.", persona=make_persona(), emotion="neutral",
                   on_chunk=lambda s, r: chunks.append(r))  # fmt: skip
    assert fake.streamed_chunks == [3] and set(chunks) == {fake.sample_rate}


def test_a_cut_stream_is_asked_again_whole(settings: Settings, server: FakeGptSovits) -> None:
    server.crash_next(1, after_chunks=1)
    speech = synthesize(
        make_tts(settings, server.url, gpt_sovits_streaming_mode=2), "A stream cut short. Again."
    )
    assert [r["streaming_mode"] for r in server.requests] == [2, 0]
    assert speech.sample_rate == SAMPLE_RATE and float(np.abs(speech.samples).max()) > 0.3


def test_a_stream_still_cut_at_the_last_try_is_a_retryable_stream_cut(
    settings: Settings, server: FakeGptSovits
) -> None:
    server.crash_next(1, after_chunks=2)
    tts = make_tts(settings, server.url, gpt_sovits_streaming_mode=2, gpt_sovits_max_retries=0)
    error = failure(tts, "A stream cut short. Nobody asks again here.")
    assert (error.code, error.retryable) == (ErrorCode.tts_stream_cut, True)
    assert "cut its audio stream" in error.message and len(server.requests) == 1


def test_a_refusal_hidden_in_a_cut_stream_surfaces_as_its_400(
    settings: Settings, server: FakeGptSovits
) -> None:
    persona = make_persona(ref_audio_path="/srv/refs/missing.wav")
    error = failure(make_tts(settings, server.url, gpt_sovits_streaming_mode=3), "Hello there.", persona)
    assert [r["streaming_mode"] for r in server.requests] == [3, 0]
    assert (error.code, error.retryable) == (ErrorCode.tts_bad_request, False)
    assert "not exists" in error.message


def test_an_empty_stream_is_silence_for_text_without_content(
    settings: Settings, server: FakeGptSovits
) -> None:
    error = failure(make_tts(settings, server.url, gpt_sovits_streaming_mode=2), "🎉!!")
    assert (error.code, error.retryable) == (ErrorCode.tts_silent, False)
    assert len(server.requests) == 1


# --- the fake's own contract, so the tests above can trust it ----------------------------------


def test_fake_rejects_get_requests_like_the_real_server(server: FakeGptSovits) -> None:
    """The fake's GET contract: 400 JSON on bad input, wav on good, GET lower-cases languages."""
    ok = httpx.get(
        f"{server.url}/tts",
        params={"text": "hi there", "text_lang": "EN", "ref_audio_path": DEFAULT_REF, "prompt_lang": "en"},
    )
    assert ok.status_code == 200 and ok.headers["content-type"] == "audio/wav"
    assert ok.content[:4] == b"RIFF"
    bad = httpx.get(
        f"{server.url}/tts",
        params={"text": "hi", "text_lang": "en", "ref_audio_path": DEFAULT_REF, "prompt_lang": "en"}
        | {"media_type": "mp3"},
    )
    assert bad.status_code == 400 and bad.json() == {"message": "media_type: mp3 is not supported"}
    crash = httpx.get(f"{server.url}/tts", params={"text": "hi", "ref_audio_path": DEFAULT_REF})
    assert crash.status_code == 500


def test_fake_post_is_case_sensitive_and_refuses_explicit_nulls(server: FakeGptSovits) -> None:
    body = {"text": "hi there", "text_lang": "EN", "ref_audio_path": DEFAULT_REF, "prompt_lang": "en"}
    upper = httpx.post(f"{server.url}/tts", json=body)
    assert upper.status_code == 400 and upper.json() == {"message": "tts failed", "Exception": ""}
    null = httpx.post(f"{server.url}/tts", json=body | {"text_lang": "en", "aux_ref_audio_paths": None})
    assert null.status_code == 422
    left_out = httpx.post(f"{server.url}/tts", json=body | {"text_lang": "en"})
    assert left_out.status_code == 200


def test_fake_streams_a_zero_size_header_then_raw_pcm(server: FakeGptSovits) -> None:
    body = {"text": "Streaming now. Two sentences.", "text_lang": "en", "ref_audio_path": DEFAULT_REF}
    streamed = httpx.post(f"{server.url}/tts", json=body | {"prompt_lang": "en", "streaming_mode": 2})
    assert streamed.status_code == 200
    header = streamed.content[:44]
    assert header[:4] == b"RIFF" and header[36:40] == b"data"
    assert struct.unpack("<I", header[40:44])[0] == 0  # data size unknown
    assert struct.unpack("<I", header[24:28])[0] == SAMPLE_RATE
    assert (len(streamed.content) - 44) % 2 == 0 and len(streamed.content) > 44 + SAMPLE_RATE


def test_fake_switches_versions_with_weights_and_answers_control(server: FakeGptSovits) -> None:
    server.sovits_weights["/weights/s2Gv4.pth"] = "v4"
    server.gpt_weights.add("/weights/s1v3.ckpt")
    assert httpx.get(f"{server.url}/set_sovits_weights").json() == {
        "message": "sovits weight path is required"
    }
    missing = httpx.get(f"{server.url}/set_gpt_weights", params={"weights_path": "/nope.ckpt"})
    assert missing.status_code == 400 and missing.json()["message"] == "change gpt weight failed"
    assert (
        httpx.get(f"{server.url}/set_gpt_weights", params={"weights_path": "/weights/s1v3.ckpt"}).status_code
        == 200
    )
    switched = httpx.get(f"{server.url}/set_sovits_weights", params={"weights_path": "/weights/s2Gv4.pth"})
    assert switched.json() == {"message": "success"}
    body = {"text": "Now at v4.", "text_lang": "en", "ref_audio_path": DEFAULT_REF, "prompt_lang": "en"}
    no_prompt = httpx.post(f"{server.url}/tts", json=body)
    assert no_prompt.json()["Exception"] == "prompt_text cannot be empty when using SoVITS_V3"
    v4 = httpx.post(f"{server.url}/tts", json=body | {"prompt_text": "Hello there."})
    assert sf.info(io.BytesIO(v4.content)).samplerate == 48000
    assert httpx.get(f"{server.url}/control").status_code == 400  # command is required
    assert httpx.get(f"{server.url}/control", params={"command": "restart"}).status_code == 200
    assert server.version == "v2" and server.controls == ["restart"]


# --- the tts stage: a streamed first segment is announced before its whole ---------------------

STAGE_REFS = {f"/srv/gpt-sovits/refs/hana/{name}.wav": 5.0 for name in ("neutral", "happy")}
FIRST_LINE = "Welcome back, everyone, today we try the puzzle game you picked. It looks hard!"


def put_turn(ctx: StageContext, texts: list[str]) -> str:
    job = jobs.create_job(
        ctx.storage, session_id="s", kind="text", persona="hana", persona_version="1", input_text="x"
    )
    jobs.begin_llm_attempt(ctx.storage, job["_id"])
    for index, text in enumerate(texts):
        segments.put_segment(
            ctx.storage, job_id=job["_id"], attempt=1, index=index, text=text, emotion="neutral", motions=[]
        )
    return str(job["_id"])


def job_events(ctx: StageContext, job_id: str) -> list[JobEvent]:
    entries: Any = ctx.events.client.xrange(job_stream(job_id))
    return [JobEvent.model_validate_json(fields[b"data"]) for _, fields in entries]


def stored_wav(ctx: StageContext, audio_id: str) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(ctx.storage.read_audio(audio_id)), dtype="float32")
    return samples, int(rate)


def test_a_streamed_first_segment_announces_its_start_then_the_whole(stage_context: StageContext) -> None:
    ctx = stage_context
    job_id = put_turn(ctx, [FIRST_LINE])
    with FakeGptSovits(ref_clips=STAGE_REFS) as fake:
        tts = GptSovitsSynthesizer(
            ctx.settings.model_copy(update={"gpt_sovits_url": fake.url, "gpt_sovits_streaming_mode": 2})
        )
        synthesize_segment(ctx, tts, job_id, 1, 0)
        assert fake.streamed_chunks[0] > 2  # the start came from a stream that went on

    events = job_events(ctx, job_id)
    assert [e.type for e in events] == [EventType.segment_audio_started, EventType.segment_audio_ready]
    start, whole = (e.segment for e in events)
    assert start is not None and whole is not None and start.audio_id != whole.audio_id
    assert start.audio_url is not None and start.audio_url.endswith(f"/v1/audio/{start.audio_id}")
    assert start.audio_id is not None and whole.audio_id is not None
    head, head_rate = stored_wav(ctx, start.audio_id)
    audio, rate = stored_wav(ctx, whole.audio_id)
    assert head_rate == rate == SAMPLE_RATE
    assert FIRST_AUDIO_MIN_S <= len(head) / rate == pytest.approx(start.duration_s, abs=1e-3)
    assert len(head) < len(audio) - rate  # a start, well before the end of the segment
    np.testing.assert_array_equal(head, audio[: len(head)])  # the whole's first samples: one timeline
    stored = segments.get_segment(ctx.storage, job_id, 1, 0)
    assert stored is not None and stored["audio_id"] == whole.audio_id  # the segment keeps one wav
    start_file = ctx.storage.audio_info(start.audio_id)
    assert start_file is not None and start_file.metadata["job_id"] == job_id  # erased with the job
    dispatcher: Any = ctx.dispatcher
    assert dispatcher.calls("animate") == [(job_id, 1, 0)]
    animate_segment(ctx, text_phonemes, job_id, 1, 0)
    ready = segments.get_segment(ctx.storage, job_id, 1, 0)
    assert ready is not None and ready["animation"]["duration_s"] == pytest.approx(whole.duration_s, abs=0.02)


def test_only_a_streaming_first_segment_gets_a_start(stage_context: StageContext) -> None:
    ctx = stage_context
    job_id = put_turn(ctx, [FIRST_LINE, FIRST_LINE])
    with FakeGptSovits(ref_clips=STAGE_REFS) as fake:
        url = {"gpt_sovits_url": fake.url}
        streaming = GptSovitsSynthesizer(
            ctx.settings.model_copy(update=url | {"gpt_sovits_streaming_mode": 2})
        )
        synthesize_segment(ctx, streaming, job_id, 1, 1)  # a later segment: voiced while the first plays
        assert fake.requests[0]["streaming_mode"] == 2
        synthesize_segment(ctx, GptSovitsSynthesizer(ctx.settings.model_copy(update=url)), job_id, 1, 0)
    assert [e.type for e in job_events(ctx, job_id)] == [EventType.segment_audio_ready] * 2
    assert ctx.storage.db["audio.files"].count_documents({"metadata.job_id": job_id}) == 2


def test_a_stream_cut_after_the_start_still_stores_the_whole_once(stage_context: StageContext) -> None:
    ctx = stage_context
    job_id = put_turn(ctx, [FIRST_LINE])
    with FakeGptSovits(ref_clips=STAGE_REFS) as fake:
        fake.crash_next(1, after_chunks=3)
        settings = ctx.settings.model_copy(
            update={"gpt_sovits_url": fake.url, "gpt_sovits_streaming_mode": 2}
        )
        synthesize_segment(ctx, GptSovitsSynthesizer(settings, backoff_base_s=0.01), job_id, 1, 0)
        assert [r["streaming_mode"] for r in fake.requests] == [2, 0]  # asked again whole
    events = job_events(ctx, job_id)
    assert [e.type for e in events] == [EventType.segment_audio_started, EventType.segment_audio_ready]
    whole = events[1].segment
    assert whole is not None and whole.audio_id is not None
    audio, rate = stored_wav(ctx, whole.audio_id)
    assert float(np.abs(audio).max()) > 0.3 and whole.duration_s == pytest.approx(len(audio) / rate, abs=1e-3)


def test_a_start_that_cannot_be_stored_leaves_the_segment_to_its_whole(
    stage_context: StageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database failing for a moment mid-stream (the outside world): the start is skipped."""
    ctx = stage_context
    job_id = put_turn(ctx, [FIRST_LINE])
    store = ctx.storage.replace_audio
    failed: list[str] = []

    def fails_for_the_start(data: bytes, *, filename: str, **fields: Any) -> str:
        if filename.endswith(".start.wav"):
            failed.append(filename)
            raise AutoReconnect("primary stepped down")
        return store(data, filename=filename, **fields)

    monkeypatch.setattr(ctx.storage, "replace_audio", fails_for_the_start)
    with FakeGptSovits(ref_clips=STAGE_REFS) as fake:
        settings = ctx.settings.model_copy(
            update={"gpt_sovits_url": fake.url, "gpt_sovits_streaming_mode": 2}
        )
        synthesize_segment(ctx, GptSovitsSynthesizer(settings), job_id, 1, 0)
        assert len(fake.requests) == 1  # the stream went on to its end
    assert len(failed) == 1
    assert [e.type for e in job_events(ctx, job_id)] == [EventType.segment_audio_ready]
