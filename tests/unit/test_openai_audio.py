"""The OpenAI-compatible audio API's plain parts: response formats, names, the streaming encoder."""

import json
import math
import subprocess

import numpy as np
import pytest

from pipelines.audio_probe import inspect_upload
from pipelines.openai_formats import render
from pipelines.openai_names import NameRefused, persona_for_voice, stt_model_for
from pipelines.settings import Settings
from pipelines.speech_encoder import StreamingEncoder, tempo_filter
from schemas.transcription import Transcript, TranscriptSegment, Word

TRANSCRIPT = Transcript(
    text="Hello there. Good game.",
    language="en",
    duration_s=3.2,
    segments=[
        TranscriptSegment(
            id=0,
            start=0.0,
            end=1.4,
            text="Hello there.",
            words=[Word(word="Hello", start=0.0, end=0.6), Word(word="there.", start=0.7, end=1.4)],
        ),
        TranscriptSegment(
            id=1, start=1.9, end=3.1, text="Good game.", words=[Word(word="Good", start=1.9, end=2.3)]
        ),
    ],
)


def test_json_and_text_carry_only_the_text() -> None:
    assert json.loads(render(TRANSCRIPT, "json")) == {"text": "Hello there. Good game."}
    assert render(TRANSCRIPT, "text") == "Hello there. Good game.\n"


def test_subtitles_are_timed_per_segment() -> None:
    assert render(TRANSCRIPT, "srt").splitlines()[:3] == [
        "1",
        "00:00:00,000 --> 00:00:01,400",
        "Hello there.",
    ]
    assert render(TRANSCRIPT, "vtt").splitlines()[5:7] == ["00:00:01.900 --> 00:00:03.100", "Good game."]


def test_verbose_json_lists_what_the_granularities_ask_for() -> None:
    default = json.loads(render(TRANSCRIPT, "verbose_json", temperature=0.2))
    assert default["language"] == "english" and default["duration"] == 3.2 and default["task"] == "transcribe"
    assert [s["text"] for s in default["segments"]] == [
        "Hello there.",
        "Good game.",
    ] and "words" not in default
    assert default["segments"][1] == {
        "id": 1,
        "start": 1.9,
        "end": 3.1,
        "text": "Good game.",
        "temperature": 0.2,
    }
    words = json.loads(render(TRANSCRIPT, "verbose_json", granularities=frozenset({"word"})))
    assert [w["word"] for w in words["words"]] == ["Hello", "there.", "Good"] and "segments" not in words
    both = json.loads(render(TRANSCRIPT, "verbose_json", granularities=frozenset({"word", "segment"})))
    assert len(both["segments"]) == 2 and len(both["words"]) == 3


def test_a_translation_reports_english() -> None:
    japanese = TRANSCRIPT.model_copy(update={"language": "ja"})
    assert json.loads(render(japanese, "verbose_json", task="translate"))["language"] == "english"
    assert json.loads(render(japanese, "verbose_json"))["language"] == "japanese"


def test_model_names_map_to_the_configured_models() -> None:
    settings = Settings(stt_model="bundled:tiny.en", stt_multilingual_model="bundled:base")
    assert stt_model_for(settings, "whisper-1", task="transcribe", language=None) == "bundled:tiny.en"
    assert stt_model_for(settings, "whisper-1", task="transcribe", language="en-US") == "bundled:tiny.en"
    # the English-only model cannot hear Japanese or translate: the multilingual one does
    assert stt_model_for(settings, "whisper-1", task="transcribe", language="ja") == "bundled:base"
    assert stt_model_for(settings, "whisper-1", task="translate", language=None) == "bundled:base"
    assert stt_model_for(settings, "bundled:base", task="transcribe", language=None) == "bundled:base"
    with pytest.raises(NameRefused) as unknown:
        stt_model_for(settings, "whisper-2", task="transcribe", language=None)
    assert (unknown.value.code, unknown.value.param) == ("unknown_model", "model")
    english_only = Settings(stt_model="bundled:tiny.en", stt_multilingual_model="")
    with pytest.raises(NameRefused) as deaf:
        stt_model_for(english_only, "whisper-1", task="translate", language=None)
    assert deaf.value.code == "language_unsupported"


def test_voices_map_to_personas_the_voice_can_speak() -> None:
    settings = Settings(tts_backend="piper")
    assert persona_for_voice(settings, "alloy") == "hana"
    assert persona_for_voice(settings, "hana") == "hana"  # a persona id is a voice too
    with pytest.raises(NameRefused) as unknown:
        persona_for_voice(settings, "darth")
    assert (unknown.value.code, unknown.value.param) == ("unknown_voice", "voice")
    with pytest.raises(NameRefused) as foreign:
        persona_for_voice(settings, "yuki")  # Japanese; the Piper voice speaks English only
    assert foreign.value.code == "language_unsupported"


@pytest.mark.parametrize(("speed", "steps"), [(1.0, 0), (2.0, 1), (4.0, 2), (0.25, 2), (0.7, 1)])
def test_speed_is_split_into_atempo_steps_ffmpeg_accepts(speed: float, steps: int) -> None:
    arguments = tempo_filter(speed)
    factors = [float(step.removeprefix("atempo=")) for step in arguments[1].split(",")] if arguments else []
    assert len(factors) == steps and all(0.5 <= f <= 2.0 for f in factors)
    assert math.prod(factors) == pytest.approx(speed, rel=1e-4)


def decoded_seconds(data: bytes) -> float:
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return len(pcm) / 2 / 24_000


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
def test_the_encoder_streams_every_sentence_and_applies_the_speed(fmt: str) -> None:
    rate = 22_050
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    pieces: list[bytes] = []
    encoder = StreamingEncoder(fmt, rate, speed=2.0, on_bytes=pieces.append)
    for _ in range(4):  # four one-second sentences
        encoder.write(tone)
    encoder.close()
    assert len(pieces) > 1  # handed on in pieces, not as one file at the end
    assert decoded_seconds(b"".join(pieces)) == pytest.approx(2.0, abs=0.1)


def test_a_streamed_flac_is_measured_by_ffmpeg_not_its_open_header() -> None:
    """A streamed FLAC header leaves the length open (libsndfile reports its maximum count)."""
    rate = 22_050
    pieces: list[bytes] = []
    encoder = StreamingEncoder("flac", rate, speed=1.0, on_bytes=pieces.append)
    encoder.write(np.full(rate * 3, 0.1, np.float32))
    encoder.close()
    info = inspect_upload(b"".join(pieces), "speech.flac", None, max_bytes=10**7, max_seconds=60)
    assert info.format == "flac" and info.duration_s == pytest.approx(3.0, abs=0.05)
