"""The workers' audio: decode any accepted upload to Whisper's input, refuse silence, encode speech.

Decoding and the Ogg/Opus encoding run in-process through PyAV (FFmpeg's libraries: the same
demuxers, decoders and resampler as the ``ffmpeg`` program, without a process spawn, which cost
about 0.09 s per call on the live turn's path). WAV and MP3 are written by libsndfile.
"""

import math
from io import BytesIO
from typing import Literal

import numpy as np
import soundfile as sf

from pipelines.errors import AudioRejected
from schemas.errors import ErrorCode

STT_SAMPLE_RATE = 16_000
OPUS_RATE = 48_000  # Opus takes 8/12/16/24/48 kHz; voices run at others (Piper: 22.05 kHz)
_SILENCE_FRAME_S = 0.05


class AudioEncodeError(RuntimeError):
    """FFmpeg could not encode the audio (a codec missing from the build, bad parameters)."""


def decode_to_16k_mono(data: bytes, *, max_seconds: float | None = None) -> np.ndarray:
    """Decode any accepted format to float32 mono at 16 kHz in [-1, 1] (Whisper's input).

    ``max_seconds`` re-checks the length on the decoded samples (the API's probe only estimates
    some formats) and stops decoding as soon as it is exceeded.
    """
    if not data:
        raise AudioRejected(ErrorCode.audio_empty, "the audio is empty (0 bytes)")
    import av  # FFmpeg's libraries: a worker dependency (faster-whisper brings it)

    limit = None if max_seconds is None else int(max_seconds * STT_SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    decoded = 0
    try:
        with av.open(BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioRejected(ErrorCode.audio_corrupt, "the file has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=STT_SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                frame.pts = None  # resample by sample count: broken timestamps must not add gaps
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
                    decoded += pieces[-1].size
                if limit is not None and decoded > limit:
                    raise _too_long(decoded, max_seconds)
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.FFmpegError as exc:
        raise AudioRejected(ErrorCode.audio_corrupt, f"undecodable audio: {exc}") from exc
    samples = np.clip(np.concatenate(pieces) if pieces else np.zeros(0, np.float32), -1.0, 1.0)
    if samples.size == 0:
        raise AudioRejected(ErrorCode.audio_empty, "the audio contains no samples")
    if limit is not None and samples.size > limit:
        raise _too_long(samples.size, max_seconds)
    return samples.astype(np.float32, copy=False)


def _too_long(samples: int, max_seconds: float | None) -> AudioRejected:
    return AudioRejected(
        ErrorCode.audio_too_long,
        f"the audio lasts over {samples / STT_SAMPLE_RATE:.1f} s; the limit is {max_seconds:g} s",
    )


def peak_frame_dbfs(samples: np.ndarray, sample_rate: int = STT_SAMPLE_RATE) -> float:
    """Loudness (RMS, dBFS) of the loudest 50 ms frame; -inf for digital silence."""
    if samples.size == 0:
        return -math.inf
    frame = max(1, int(sample_rate * _SILENCE_FRAME_S))
    padded = np.pad(samples.astype(np.float64), (0, (-samples.size) % frame))
    rms = np.sqrt(np.mean(padded.reshape(-1, frame) ** 2, axis=1)).max()
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def ensure_not_silent(samples: np.ndarray, threshold_dbfs: float, sample_rate: int = STT_SAMPLE_RATE) -> None:
    """Refuse audio whose loudest moment stays under the threshold.

    The loudest frame, not the average, decides: one short word in a long quiet recording is speech,
    yet its average level can be as low as line noise.
    """
    level = peak_frame_dbfs(samples, sample_rate)
    if level < threshold_dbfs:
        shown = "-inf" if math.isinf(level) else f"{level:.1f}"
        raise AudioRejected(
            ErrorCode.audio_silent,
            f"the audio is silent (loudest frame {shown} dBFS < {threshold_dbfs:g} dBFS)",
        )


EncodedFormat = Literal["wav", "ogg", "mp3"]
MEDIA_TYPES: dict[str, str] = {"wav": "audio/wav", "ogg": "audio/ogg", "mp3": "audio/mpeg"}


def encode_audio(samples: np.ndarray, sample_rate: int, fmt: EncodedFormat = "wav") -> bytes:
    """Encode float32 mono samples: 16-bit WAV or MP3 (libsndfile), or Ogg Opus (PyAV, 48 kHz).

    Ogg carries Opus: what browsers' MediaRecorder produces, and the best speech codec at low
    bitrates.
    """
    mono = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if fmt == "ogg":
        return _ogg_opus(mono, sample_rate)
    buffer = BytesIO()
    if fmt == "wav":
        sf.write(buffer, mono, sample_rate, format="WAV", subtype="PCM_16")
    elif fmt == "mp3":
        sf.write(buffer, mono, sample_rate, format="MP3", subtype="MPEG_LAYER_III")
    else:
        raise ValueError(f"unsupported output format {fmt!r} (wav, ogg, mp3)")
    return buffer.getvalue()


def _ogg_opus(mono: np.ndarray, sample_rate: int, bitrate: int = 48_000) -> bytes:
    import av

    buffer = BytesIO()
    try:
        with av.open(buffer, mode="w", format="ogg") as container:
            stream = container.add_stream("libopus", rate=OPUS_RATE, layout="mono")
            stream.bit_rate = bitrate
            frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
            for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
                for packet in stream.encode(resampled):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    except av.FFmpegError as exc:
        raise AudioEncodeError(f"Ogg/Opus encoding failed: {exc}") from exc
    return buffer.getvalue()
