"""The OpenAI-compatible audio routes, driven by the official ``openai`` Python client.

Real speech in (the bundled Piper voice; Japanese from espeak-ng), the real stack's STT and TTS
workers behind the routes. Transcripts are judged by word error rate, synthesized speech by
decoding it with FFmpeg and transcribing it again.
"""

import io
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import redis
import soundfile as sf
from openai import OpenAI

from pipelines.audio_codec import encode_audio
from tests.e2e.test_batch import wait_for_batch
from tests.wer import wer
from tools.spoken import spoken_wav
from tools.stack import Stack

pytestmark = pytest.mark.e2e

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
TIMESTAMP = re.compile(r"(\d\d:\d\d:\d\d[,.]\d\d\d) --> (\d\d:\d\d:\d\d[,.]\d\d\d)")
SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]


@pytest.fixture(scope="module")
def client(stack: Stack, api: httpx.Client) -> Iterator[OpenAI]:
    """The official client with the e2e client-scope key, pointed at the service."""
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    with OpenAI(api_key=key, base_url=f"{stack.api_url}/v1", max_retries=0, timeout=240) as openai_client:
        yield openai_client


@pytest.fixture(scope="module")
def clip() -> bytes:
    return spoken_wav(SENTENCE)


def stt(client: OpenAI) -> Any:
    """The SDK's overloads type each response_format apart; the tests check the bodies themselves."""
    return client.audio.transcriptions


def translations(client: OpenAI) -> Any:
    return client.audio.translations


def tts(client: OpenAI) -> Any:
    return client.audio.speech


def decoded_seconds(data: bytes, fmt: str) -> float:
    """Decode with FFmpeg (``pcm``: raw 24 kHz s16le, OpenAI's layout) and measure the audio."""
    if fmt == "pcm":
        return len(data) / 2 / 24_000
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return len(pcm) / 2 / 24_000


def cue_times(subtitles: str) -> list[tuple[float, float]]:
    def seconds(clock: str) -> float:
        hours, minutes, rest = clock.replace(",", ".").split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(rest)

    return [(seconds(a), seconds(b)) for a, b in TIMESTAMP.findall(subtitles)]


def test_a_clip_is_transcribed_in_every_response_format(client: OpenAI, clip: bytes) -> None:
    def transcribe(fmt: str, **extra: Any) -> Any:
        return stt(client).create(
            model="whisper-1",
            file=("fox.wav", clip),
            response_format=fmt,
            **extra,
        )

    as_json = transcribe("json")
    as_text = transcribe("text")
    assert wer([(SENTENCE, as_json.text), (SENTENCE, str(as_text))]) <= 0.2, (as_json.text, as_text)

    for fmt in ("srt", "vtt"):
        subtitles = str(transcribe(fmt))
        cues = cue_times(subtitles)
        assert cues and all(0 <= start < end <= 6 for start, end in cues), subtitles
        assert fmt != "vtt" or subtitles.startswith("WEBVTT"), subtitles
        spoken = TIMESTAMP.sub(" ", re.sub(r"^\d+$|WEBVTT", " ", subtitles, flags=re.M))
        assert wer([(SENTENCE, spoken)]) <= 0.2, subtitles

    verbose = transcribe("verbose_json", timestamp_granularities=["word", "segment"])
    assert verbose.task == "transcribe" and verbose.language == "english", verbose
    assert 3 < verbose.duration < 7 and wer([(SENTENCE, verbose.text)]) <= 0.2, verbose
    assert verbose.segments and verbose.words, verbose
    starts = [word.start for word in verbose.words]
    assert starts == sorted(starts) and all(w.start <= w.end <= verbose.duration for w in verbose.words)
    assert {"fox", "dog"} <= {w.word.strip(".,").lower() for w in verbose.words}, verbose.words


def test_japanese_speech_is_translated_into_english(client: OpenAI, tmp_path: Path) -> None:
    """Whisper's translate task on the multilingual model (the configured model is English-only)."""
    wav = tmp_path / "ja.wav"
    line = "きょうは いい てんきですね。いっしょに げーむを しましょう。"  # "Nice day. Let us play a game."
    subprocess.run(["espeak-ng", "-v", "ja", "-s", "130", "-w", str(wav), line], check=True)
    translation = translations(client).create(
        model="whisper-1", file=("ja.wav", wav.read_bytes()), response_format="verbose_json"
    )
    text = translation.text
    assert translation.task == "translate" and translation.language == "english", translation
    assert text and sum(c.isascii() for c in text) / len(text) > 0.95, text
    assert "game" in text.lower(), text


def test_silence_gives_an_empty_transcript(client: OpenAI) -> None:
    silence = encode_audio(np.zeros(16_000 * 2, np.float32), 16_000, "wav")
    result = stt(client).create(model="whisper-1", file=("quiet.wav", silence))
    assert result.text == ""


@pytest.mark.parametrize("fmt", SPEECH_FORMATS)
def test_speech_streams_in_every_format(client: OpenAI, fmt: str) -> None:
    line = "Thanks for watching the stream tonight. See you all tomorrow!"
    with tts(client).with_streaming_response.create(
        model="tts-1",
        voice="alloy",
        input=line,
        response_format=fmt,
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked", response.headers  # no length: streamed
        data = b"".join(response.iter_bytes())
    seconds = decoded_seconds(data, fmt)
    assert 2.0 < seconds < 8.0, (fmt, seconds, len(data))
    if fmt in ("wav", "flac", "pcm"):  # lossless: transcribe what was said, back through the API
        wav = (
            encode_audio(np.frombuffer(data, "<i2").astype(np.float32) / 32768, 24_000, "wav")
            if fmt == "pcm"
            else data
        )
        if fmt == "wav":
            samples, rate = sf.read(io.BytesIO(wav))
            assert rate == 24_000 and len(samples) / rate == pytest.approx(seconds, abs=0.05)
        heard = stt(client).create(model="whisper-1", file=(f"line.{fmt}", wav))
        assert wer([(line, heard.text)]) <= 0.25, heard.text


def test_a_listener_that_leaves_stops_the_synthesis(client: OpenAI, stack: Stack) -> None:
    """The worker checks between sentences and stops; its ``stopped`` entry says how many it skipped."""
    rclient = redis.Redis.from_url(stack.redis_url)
    before = set(rclient.scan_iter(match="speech:stream:*"))
    story = " ".join(f"This is sentence number {n} of a long story for the stream." for n in range(1, 41))
    with tts(client).with_streaming_response.create(
        model="tts-1", voice="alloy", input=story, response_format="mp3"
    ) as response:
        assert next(response.iter_bytes())  # the first sentence arrived; now leave

    def skipped() -> int | None:
        for key in set(rclient.scan_iter(match="speech:stream:*")) - before:
            entries: Any = rclient.xrange(key)
            for _, fields in entries:
                if fields[b"kind"] == b"stopped":
                    return int(fields[b"sentences_left"])
        return None

    deadline = time.monotonic() + 60
    while (left := skipped()) is None:
        assert time.monotonic() < deadline, "the worker never reported stopping"
        time.sleep(0.1)
    assert 0 < left < 40, left


def test_speed_changes_the_length_of_the_speech(client: OpenAI) -> None:
    def seconds(speed: float) -> float:
        response = tts(client).create(
            model="tts-1",
            voice="nova",
            input="One, two, three, four, five.",
            response_format="wav",
            speed=speed,
        )
        return decoded_seconds(response.content, "wav")

    normal, fast = seconds(1.0), seconds(2.0)
    assert 0.4 < fast / normal < 0.6, (normal, fast)


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return dict(body["error"])


@pytest.mark.parametrize(
    ("call", "status", "code", "param"),
    [
        ("transcribe-unknown-model", 400, "unknown_model", "model"),
        ("transcribe-bad-format", 400, "validation_error", "response_format"),
        ("transcribe-bad-temperature", 400, "validation_error", "temperature"),
        ("transcribe-unknown-language", 400, "validation_error", "language"),
        ("transcribe-not-audio", 415, "unsupported_media_type", "file"),
        ("transcribe-empty-file", 400, "audio_empty", "file"),
        ("speech-unknown-voice", 400, "unknown_voice", "voice"),
        ("speech-unknown-model", 400, "unknown_model", "model"),
        ("speech-empty-input", 400, "validation_error", "input"),
        ("speech-blank-input", 400, "validation_error", "input"),
        ("speech-bad-format", 400, "validation_error", "response_format"),
        ("speech-too-fast", 400, "validation_error", "speed"),
        ("speech-voice-in-another-language", 422, "language_unsupported", "voice"),
    ],
)
def test_bad_input_gets_an_openai_error(
    client: OpenAI, clip: bytes, call: str, status: int, code: str, param: str
) -> None:
    speech: dict[str, Any] = {"model": "tts-1", "voice": "alloy", "input": "Hello there."}
    calls: dict[str, Any] = {
        "transcribe-unknown-model": lambda: stt(client).create(model="whisper-9", file=("a.wav", clip)),
        "transcribe-bad-format": lambda: stt(client).create(
            model="whisper-1",
            file=("a.wav", clip),
            response_format="docx",
        ),
        "transcribe-bad-temperature": lambda: stt(client).create(
            model="whisper-1", file=("a.wav", clip), temperature=3
        ),
        "transcribe-unknown-language": lambda: stt(client).create(
            model="whisper-1", file=("a.wav", clip), language="klingon"
        ),
        "transcribe-not-audio": lambda: stt(client).create(
            model="whisper-1", file=("a.wav", b"just some text, not audio at all\n" * 20)
        ),
        "transcribe-empty-file": lambda: stt(client).create(model="whisper-1", file=("a.wav", b"")),
        "speech-unknown-voice": lambda: tts(client).create(**{**speech, "voice": "darth"}),
        "speech-unknown-model": lambda: tts(client).create(**{**speech, "model": "tts-9"}),
        "speech-empty-input": lambda: tts(client).create(**{**speech, "input": ""}),
        "speech-blank-input": lambda: tts(client).create(**{**speech, "input": "   "}),
        "speech-bad-format": lambda: tts(client).create(**{**speech, "response_format": "midi"}),
        "speech-too-fast": lambda: tts(client).create(**{**speech, "speed": 9}),
        # yuki speaks Japanese; the embedded stack's Piper voice speaks only English
        "speech-voice-in-another-language": lambda: tts(client).create(**{**speech, "voice": "yuki"}),
    }
    with pytest.raises(openai.APIStatusError) as refused:
        calls[call]()
    assert refused.value.status_code == status, refused.value.response.text
    error = error_of(refused.value)
    assert (error["code"], error["param"]) == (code, param), error
    assert error["type"] == "invalid_request_error" and error["message"], error


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(client: OpenAI) -> None:
    too_big = b"\0" * (25 * 1024 * 1024 + 1)  # VTUBER_MAX_UPLOAD_BYTES is 25 MiB
    with pytest.raises(openai.APIStatusError) as refused:
        stt(client).create(model="whisper-1", file=("big.wav", too_big))
    assert refused.value.status_code == 413
    assert error_of(refused.value)["code"] == "payload_too_large"


def test_a_missing_key_gets_an_openai_authentication_error(stack: Stack) -> None:
    stranger = OpenAI(api_key="vtk_not-a-key", base_url=f"{stack.api_url}/v1", max_retries=0)
    with stranger, pytest.raises(openai.AuthenticationError) as refused:
        stranger.audio.speech.create(model="tts-1", voice="alloy", input="hi")
    error = error_of(refused.value)
    assert (error["type"], error["code"]) == ("authentication_error", "unauthorized"), error


def test_a_long_file_is_accepted_as_a_batch(client: OpenAI, api: httpx.Client, clip: bytes) -> None:
    """Over VTUBER_OPENAI_SYNC_MAX_SECONDS (120 s): a 202 with the batch, whose transcript follows."""
    speech, rate = sf.read(io.BytesIO(clip), dtype="float32")
    quiet = np.zeros(int(rate * 118), np.float32)
    long_wav = encode_audio(np.concatenate([speech, quiet, speech]), rate, "wav")
    response = stt(client).with_raw_response.create(
        model="whisper-1", file=("long.wav", long_wav), response_format="srt"
    )
    assert response.status_code == 202, response.http_response.text
    accepted = json.loads(response.http_response.text)
    batch = wait_for_batch(api, accepted["batch_id"])
    assert batch["status"] == "completed" and batch["options"]["formats"] == ["srt"], batch
    transcript = batch["files"][0]["transcript"]
    assert wer([(f"{SENTENCE} {SENTENCE}", transcript["text"])]) <= 0.2, transcript["text"]
    assert api.get(batch["files"][0]["downloads"]["srt"]).status_code == 200
