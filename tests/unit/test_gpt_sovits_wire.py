"""What GPT-SoVITS sends back, read without a server: its 400 messages and its streamed WAV."""

import io
import struct
import wave

import numpy as np
import pytest

from schemas.errors import ErrorCode
from workers.tts.gpt_sovits_errors import classify_400
from workers.tts.wav_stream import WavStream, WavStreamError

# (message, Exception) as api_v2.py answers them, in the server's two locales.
PERMANENT = [
    ("tts failed", "/srv/refs/missing.wav not exists"),
    ("tts failed", "参考音频在3~10秒范围外，请更换！"),
    ("tts failed", "Reference audio is outside the 3-10 second range, please choose another one!"),
    ("tts failed", "请输入有效文本"),
    ("tts failed", "Please enter valid text."),
    ("tts failed", "prompt_text cannot be empty when using SoVITS_V3"),
    ("tts failed", ""),  # a bare assert: e.g. text_lang "EN" in a POST
    ("text_lang: xx is not supported in version v2", None),
    ("ref_audio_path is required", None),
]
TRANSIENT = [
    ("tts failed", "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total capacity)"),
    ("tts failed", "torch.OutOfMemoryError: CUDA out of memory."),
    ("tts failed", "显存不足"),
    ("tts failed", "[Errno 5] Input/output error: '/srv/refs/a.wav'"),
    ("tts failed", "Error opening '/srv/refs/a.wav': System error."),
    ("tts failed", "[Errno 24] Too many open files"),
    ("tts failed", "音频加载失败"),
]


@pytest.mark.parametrize(("message", "exception"), PERMANENT)
def test_permanent_causes_are_final_bad_requests(message: str, exception: str | None) -> None:
    verdict = classify_400(message, exception)
    assert (verdict.code, verdict.retryable, verdict.retry_here) == (ErrorCode.tts_bad_request, False, False)


@pytest.mark.parametrize(("message", "exception"), TRANSIENT)
def test_transient_causes_are_asked_again(message: str, exception: str) -> None:
    verdict = classify_400(message, exception)
    assert (verdict.code, verdict.retryable, verdict.retry_here) == (ErrorCode.tts_failed, True, True)
    assert exception in verdict.message


def test_an_unknown_cause_is_left_to_the_stage() -> None:
    verdict = classify_400("tts failed", "list index out of range")
    assert (verdict.code, verdict.retryable, verdict.retry_here) == (ErrorCode.tts_failed, True, False)


def streamed_wav(samples: np.ndarray, rate: int) -> bytes:
    """What api_v2.py streams: a header written for zero frames, then raw int16 PCM."""
    header = io.BytesIO()
    with wave.open(header, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
    return header.getvalue() + samples.astype("<i2").tobytes()


@pytest.mark.parametrize("piece", [1, 3, 7, 44, 45, 1000])
def test_pcm_split_anywhere_reads_back_whole(piece: int) -> None:
    samples = (np.sin(np.arange(2000) / 7) * 20000).astype(np.int16)
    data = streamed_wav(samples, 24000)
    assert struct.unpack("<I", data[40:44])[0] == 0  # the header says: size unknown
    reader = WavStream()
    out = [reader.feed(data[i : i + piece]) for i in range(0, len(data), piece)]
    assert reader.sample_rate == 24000 and reader.leftover == 0
    np.testing.assert_allclose(np.concatenate(out), samples / 32768.0, atol=1e-6)


def test_a_header_alone_is_no_audio_yet() -> None:
    reader = WavStream()
    assert len(reader.feed(streamed_wav(np.zeros(0, dtype=np.int16), 48000))) == 0
    assert reader.sample_rate == 48000 and reader.samples_read == 0


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"message": "tts failed"}', "not a WAV stream"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00", "fmt"),
    ],
)
def test_what_is_not_a_pcm_wav_stream_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(WavStreamError, match=why):
        WavStream().feed(data)
