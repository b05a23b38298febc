"""Audio intake on the real FFmpeg (program and libraries) and libsndfile: every accepted format
is inspected and decodes, every bad input gets its code."""

import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipelines.audio_codec import decode_to_16k_mono, encode_audio, ensure_not_silent, peak_frame_dbfs
from pipelines.audio_probe import AudioInfo, inspect_upload
from pipelines.errors import AudioRejected, StageError
from schemas.errors import ErrorCode

MAX_BYTES, MAX_SECONDS = 25 * 1024 * 1024, 60.0
# ffmpeg arguments producing each accepted format from a WAV on stdin.
ENCODINGS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
    "ogg": ["-c:a", "libopus", "-f", "ogg"],  # .opus files are Ogg Opus as well
    "webm": ["-c:a", "libopus", "-f", "webm"],
    # As a browser's MediaRecorder writes it: no duration in the header, so it is read off packets.
    "webm-live": ["-c:a", "libopus", "-live", "1", "-f", "webm"],
    "m4a": ["-c:a", "aac", "-f", "ipod"],
    "aac": ["-c:a", "aac", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
}


def ffmpeg(args: list[str], stdin: bytes | None = None) -> bytes:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", *args] if stdin is None else ["ffmpeg", "-v", "error", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, check=True).stdout


def convert(wav: bytes, codec_args: list[str]) -> bytes:
    """Encode into a real file: MP4 and AIFF need a seekable output to write their headers."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip"
        ffmpeg(["-y", "-i", "pipe:0", *codec_args, str(out)], stdin=wav)
        return out.read_bytes()


def check_upload(
    data: bytes,
    name: str | None,
    ctype: str | None,
    max_bytes: int = MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
) -> AudioInfo:
    return inspect_upload(data, name, ctype, max_bytes=max_bytes, max_seconds=max_seconds)


def code_of(excinfo: pytest.ExceptionInfo[AudioRejected]) -> ErrorCode:
    return excinfo.value.code


@pytest.fixture(scope="module")
def speech_wav() -> bytes:
    """About 3 s of speech from espeak-ng at 22.05 kHz, converted to 44.1 kHz stereo so decoding
    has to both resample and downmix."""
    mono = subprocess.run(
        ["espeak-ng", "-v", "en-us", "--stdout", "Hello, this is a short test of the audio intake."],
        capture_output=True,
        check=True,
    ).stdout
    return ffmpeg(["-i", "pipe:0", "-ac", "2", "-ar", "44100", "-f", "wav", "pipe:1"], stdin=mono)


@pytest.fixture(scope="module")
def speech_seconds(speech_wav: bytes) -> float:
    return float(sf.info(io.BytesIO(speech_wav)).duration)


@pytest.fixture(scope="module")
def encoded(speech_wav: bytes) -> dict[str, bytes]:
    return {fmt: convert(speech_wav, args) for fmt, args in ENCODINGS.items()}


@pytest.mark.parametrize("fmt", list(ENCODINGS))
def test_every_accepted_format_is_inspected_and_decodes_to_16k_mono(
    fmt: str, encoded: dict[str, bytes], speech_seconds: float
) -> None:
    data = encoded[fmt]
    info = check_upload(data, f"clip.{fmt}", None)
    assert info.format == fmt.removesuffix("-live")
    assert info.duration_s == pytest.approx(speech_seconds, abs=0.1)
    assert info.channels == 2
    assert info.sample_rate in (44100, 48000)  # Opus always runs at 48 kHz

    samples = decode_to_16k_mono(data)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size / 16000 == pytest.approx(speech_seconds, abs=0.1)
    assert float(np.abs(samples).max()) <= 1.0
    ensure_not_silent(samples, -55.0)  # speech survived the round trip


def test_empty_upload_is_audio_empty() -> None:
    with pytest.raises(AudioRejected) as exc:
        check_upload(b"", "a.wav", "audio/wav")
    assert code_of(exc) == ErrorCode.audio_empty


def test_wav_without_samples_is_audio_empty() -> None:
    header_only = encode_audio(np.zeros(0, dtype=np.float32), 16000, "wav")
    with pytest.raises(AudioRejected) as exc:
        check_upload(header_only, "a.wav", "audio/wav")
    assert code_of(exc) == ErrorCode.audio_empty


def test_random_bytes_are_audio_corrupt() -> None:
    garbage = np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    with pytest.raises(AudioRejected) as exc:
        check_upload(garbage, "a.mp3", "audio/mpeg")
    assert code_of(exc) == ErrorCode.audio_corrupt
    with pytest.raises(AudioRejected) as exc:
        decode_to_16k_mono(garbage)
    assert code_of(exc) == ErrorCode.audio_corrupt


def test_png_is_unsupported_media_type() -> None:
    png = ffmpeg(["-f", "lavfi", "-i", "testsrc=size=32x32:rate=1", "-frames:v", "1", "-f", "image2pipe",
                  "-c:v", "png", "pipe:1"])  # fmt: skip
    assert png.startswith(b"\x89PNG")
    with pytest.raises(AudioRejected) as exc:
        check_upload(png, "a.png", "image/png")
    assert code_of(exc) == ErrorCode.unsupported_media_type


def test_text_is_unsupported_media_type() -> None:
    text = ("Not audio at all, just some notes. " * 40).encode()
    with pytest.raises(AudioRejected) as exc:
        check_upload(text, "notes.txt", "text/plain")
    assert code_of(exc) == ErrorCode.unsupported_media_type


def test_video_without_audio_is_unsupported_media_type() -> None:
    video = ffmpeg(["-f", "lavfi", "-i", "testsrc=size=32x32:rate=5", "-t", "1", "-c:v", "libvpx",
                    "-f", "webm", "pipe:1"])  # fmt: skip
    with pytest.raises(AudioRejected) as exc:
        check_upload(video, "clip.webm", "video/webm")
    assert code_of(exc) == ErrorCode.unsupported_media_type


def test_audio_in_a_container_outside_the_list_is_unsupported_media_type(speech_wav: bytes) -> None:
    aiff = convert(speech_wav, ["-f", "aiff"])
    with pytest.raises(AudioRejected) as exc:
        check_upload(aiff, "clip.aiff", "audio/aiff")
    assert code_of(exc) == ErrorCode.unsupported_media_type
    assert "not accepted" in exc.value.message


def test_too_large_payload_is_rejected_before_probing(speech_wav: bytes) -> None:
    with pytest.raises(AudioRejected) as exc:
        check_upload(speech_wav, "a.wav", "audio/wav", max_bytes=len(speech_wav) - 1)
    assert code_of(exc) == ErrorCode.payload_too_large


def test_too_long_clip_is_rejected_at_the_api_and_at_the_worker(encoded: dict[str, bytes]) -> None:
    with pytest.raises(AudioRejected) as exc:
        check_upload(encoded["mp3"], "a.mp3", "audio/mpeg", max_seconds=1.0)
    assert code_of(exc) == ErrorCode.audio_too_long
    with pytest.raises(AudioRejected) as exc:
        decode_to_16k_mono(encoded["aac"], max_seconds=1.0)
    assert code_of(exc) == ErrorCode.audio_too_long


def test_silent_and_near_silent_clips_are_audio_silent() -> None:
    rng = np.random.default_rng(1)
    for samples in (
        np.zeros(32000, np.float32),
        (rng.standard_normal(32000) * 10 ** (-70 / 20)).astype(np.float32),
    ):
        wav = encode_audio(samples, 16000, "wav")
        check_upload(wav, "quiet.wav", "audio/wav")  # silence is well-formed audio...
        with pytest.raises(AudioRejected) as exc:
            ensure_not_silent(decode_to_16k_mono(wav), -55.0)  # ...refused once decoded
        assert code_of(exc) == ErrorCode.audio_silent


def test_one_short_word_in_a_long_quiet_recording_is_not_silent(encoded: dict[str, bytes]) -> None:
    word = 0.1 * decode_to_16k_mono(encoded["flac"])[8000:12000]  # a quarter second, spoken softly
    recording = np.concatenate([np.zeros(16000 * 20, np.float32), word, np.zeros(16000 * 20, np.float32)])
    average_dbfs = 10 * np.log10(np.mean(recording.astype(np.float64) ** 2))
    assert average_dbfs < -55.0  # the average alone would have called this silence
    assert peak_frame_dbfs(recording) > -55.0
    ensure_not_silent(recording, -55.0)


def test_rejections_are_non_retryable_stage_errors() -> None:
    with pytest.raises(StageError) as exc:
        decode_to_16k_mono(b"")
    assert exc.value.retryable is False
    assert exc.value.code == ErrorCode.audio_empty


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg"])
def test_encoded_output_is_accepted_back_with_its_length(fmt: str) -> None:
    t = np.arange(int(22050 * 1.5)) / 22050
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    data = encode_audio(tone, 22050, fmt)  # type: ignore[arg-type]
    info = check_upload(data, None, None)
    assert info.format == fmt
    assert info.channels == 1
    assert info.duration_s == pytest.approx(1.5, abs=0.1)
    assert decode_to_16k_mono(data).size / 16000 == pytest.approx(1.5, abs=0.1)


def test_an_ogg_encoding_failure_is_the_codecs_own_error() -> None:
    """The tts stage keeps going without a browser copy on this error; anything else would fail the job."""
    from pipelines.audio_codec import AudioEncodeError

    with pytest.raises(AudioEncodeError):
        encode_audio(np.zeros(100, dtype=np.float32), 0, "ogg")
