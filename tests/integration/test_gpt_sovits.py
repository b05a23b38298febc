"""GptSovitsSynthesizer against a faithful fake of the GPT-SoVITS api_v2.py server."""

import socket
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from pipelines.errors import StageError
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from schemas.persona import GptSovitsReference, GptSovitsVoice, Persona, VoiceSettings
from tests.fakes.gpt_sovits_fake import SAMPLE_RATE, SECONDS_PER_CHAR, FakeGptSovits
from workers.tts.gpt_sovits import GptSovitsSynthesizer

DEFAULT_REF = "/srv/refs/hana_neutral.wav"
HAPPY_REF = "/srv/refs/hana_happy.wav"


@pytest.fixture
def server() -> Iterator[FakeGptSovits]:
    with FakeGptSovits(ref_clips={DEFAULT_REF: 5.2, HAPPY_REF: 4.1, "/srv/refs/too_short.wav": 1.5}) as fake:
        yield fake


def make_persona(**voice: object) -> Persona:
    fields: dict[str, object] = {
        "ref_audio_path": DEFAULT_REF,
        "prompt_text": "Hello, I'm Hana. Nice to meet you.",
        "prompt_lang": "en",
        "text_lang": "en",
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
        voice=VoiceSettings(gpt_sovits=GptSovitsVoice.model_validate(fields)),
    )


def make_tts(url: str, **overrides: object) -> GptSovitsSynthesizer:
    values: dict[str, object] = {
        "gpt_sovits_url": url,
        "gpt_sovits_timeout_s": 5.0,
        "gpt_sovits_max_retries": 2,
    }
    values.update(overrides)
    return GptSovitsSynthesizer(Settings().model_copy(update=values), backoff_base_s=0.01)


def test_sends_the_persona_voice_and_decodes_the_wav(server: FakeGptSovits) -> None:
    text = "Good evening, everyone! Thanks for coming to the stream."
    speech = make_tts(server.url).synthesize(text, persona=make_persona(), emotion="neutral")

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


def test_emotion_switches_the_reference_clip(server: FakeGptSovits) -> None:
    tts = make_tts(server.url)
    persona = make_persona()
    tts.synthesize("I'm so happy!", persona=persona, emotion="happy")
    tts.synthesize("That's a pity.", persona=persona, emotion="sad")  # no clip for sad: the default

    happy, sad = server.requests
    assert (happy["ref_audio_path"], happy["prompt_text"], happy["prompt_lang"]) == (
        HAPPY_REF,
        "やったー！すごく嬉しい！",
        "ja",
    )
    assert happy["text_lang"] == "en"
    assert (sad["ref_audio_path"], sad["prompt_lang"]) == (DEFAULT_REF, "en")


def test_emotion_reference_without_language_keeps_the_default_prompt_lang(server: FakeGptSovits) -> None:
    persona = make_persona(
        emotion_refs={"happy": GptSovitsReference(ref_audio_path=HAPPY_REF, prompt_text="Yay!")}
    )
    make_tts(server.url).synthesize("Hooray!", persona=persona, emotion="happy")
    assert server.requests[0]["prompt_lang"] == "en"
    assert server.requests[0]["prompt_text"] == "Yay!"


@pytest.mark.parametrize(
    ("voice", "expected"),
    [
        ({"text_lang": "xx"}, "text_lang: xx is not supported in version v2"),
        ({"ref_audio_path": "/srv/refs/missing.wav"}, "tts failed: /srv/refs/missing.wav not exists"),
        ({"ref_audio_path": "/srv/refs/too_short.wav"}, "tts failed: 参考音频在3~10秒范围外"),
        ({"ref_audio_path": ""}, "ref_audio_path is required"),
    ],
)
def test_400_becomes_a_final_bad_request_with_the_server_message(
    server: FakeGptSovits, voice: dict[str, object], expected: str
) -> None:
    with pytest.raises(StageError) as raised:
        make_tts(server.url).synthesize("Hello.", persona=make_persona(**voice), emotion="neutral")
    assert raised.value.code == ErrorCode.tts_bad_request
    assert expected in raised.value.message
    assert raised.value.retryable is False
    assert len(server.requests) == 1  # a 400 is not retried


def test_persona_without_gpt_sovits_voice_is_a_bad_request(server: FakeGptSovits) -> None:
    persona = Persona(id="p", name="P", system_prompt="x")
    with pytest.raises(StageError) as raised:
        make_tts(server.url).synthesize("Hello.", persona=persona, emotion="neutral")
    assert raised.value.code == ErrorCode.tts_bad_request
    assert "no GPT-SoVITS voice" in raised.value.message
    assert server.requests == []


def test_5xx_is_retried_then_succeeds(server: FakeGptSovits) -> None:
    server.fail_next(2)
    speech = make_tts(server.url, gpt_sovits_max_retries=2).synthesize(
        "Back again.", persona=make_persona(), emotion="neutral"
    )
    assert len(server.requests) == 3
    assert speech.duration_s > 0.3


def test_5xx_after_all_retries_is_unavailable(server: FakeGptSovits) -> None:
    server.fail_next(5, status=503)
    with pytest.raises(StageError) as raised:
        make_tts(server.url, gpt_sovits_max_retries=2).synthesize(
            "Hello.", persona=make_persona(), emotion="neutral"
        )
    assert raised.value.code == ErrorCode.tts_unavailable
    assert raised.value.retryable is True
    assert len(server.requests) == 3


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StageError) as raised:
        make_tts(f"http://127.0.0.1:{port}", gpt_sovits_max_retries=1).synthesize(
            "Hello.", persona=make_persona(), emotion="neutral"
        )
    assert raised.value.code == ErrorCode.tts_unavailable
    assert raised.value.retryable is True
    assert "unreachable" in raised.value.message


def test_read_timeout_is_retried_then_a_timeout() -> None:
    calls = 0

    def hang(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(hang))
    tts = GptSovitsSynthesizer(
        Settings().model_copy(update={"gpt_sovits_max_retries": 2}),
        client,
        backoff_base_s=0.01,
    )
    with pytest.raises(StageError) as raised:
        tts.synthesize("Hello.", persona=make_persona(), emotion="neutral")
    assert raised.value.code == ErrorCode.tts_timeout  # it took the request: not "unreachable"
    assert calls == 3


def test_fake_rejects_get_requests_like_the_real_server(server: FakeGptSovits) -> None:
    """The fake's GET contract, so other tests can trust it: 400 JSON on bad input, wav on good."""
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
