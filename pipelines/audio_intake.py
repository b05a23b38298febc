"""Audio in and out: cheap upload checks for the API, decoding and encoding for the workers.

Everything goes through the ``ffmpeg``/``ffprobe`` programs (one subprocess each) and soundfile:
ffmpeg reads every accepted container, resamples with its own high-quality resampler and writes
float32 straight to a pipe, so audio never takes a detour through 16-bit PCM or temp WAV files as it
would through pydub. No torch here: the API process imports this module.
"""

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from pipelines.errors import StageError
from schemas.errors import ErrorCode

STT_SAMPLE_RATE = 16_000

# ffprobe's format_name -> the name this project reports. Matroska and WebM share one demuxer.
ACCEPTED_FORMATS: dict[str, str] = {
    "wav": "wav",
    "mp3": "mp3",
    "ogg": "ogg",
    "matroska,webm": "webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
    "flac": "flac",
}
# Raw elementary streams have no header with a length: ffprobe guesses it from the bitrate.
_ESTIMATED_DURATION_FORMATS = {"aac"}
_FFPROBE_JSON = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
_PROBE_TIMEOUT_S = 15.0
_SILENCE_FRAME_S = 0.05


class AudioRejected(StageError):
    """Input audio the service refuses; never worth retrying."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(code, message, retryable=False)


@dataclass(frozen=True)
class AudioInfo:
    format: str
    duration_s: float
    sample_rate: int
    channels: int
    codec: str = ""


def _run(args: list[str], stdin: bytes | None = None, timeout: float = _PROBE_TIMEOUT_S) -> bytes:
    """Run ffmpeg/ffprobe; raise ``CalledProcessError`` (with stderr) on failure."""
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
    return done.stdout


def _stderr_tail(exc: subprocess.CalledProcessError, path: Path) -> str:
    """ffmpeg's first complaint (the cause; later lines are advice), without our temp path."""
    text = (exc.stderr or b"").decode("utf-8", "replace").replace(f"{path}: ", "").strip().splitlines()
    return text[0] if text else f"exit status {exc.returncode}"


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the 4 KiB boundary is fine
        return exc.start >= len(head) - 3
    return True


def _packet_duration(path: Path) -> float:
    """Exact length from the packet timestamps: demuxing only, no decoding."""
    out = _run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)]
    )  # fmt: skip
    end = 0.0
    for line in out.decode().splitlines():
        fields = [f for f in line.split(",") if f and f != "N/A"]
        if len(fields) == 2:
            end = max(end, float(fields[0]) + float(fields[1]))
    return end


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _probe(path: Path, data: bytes) -> dict[str, Any]:
    try:
        return json.loads(_run([*_FFPROBE_JSON, str(path)]))
    except subprocess.CalledProcessError as exc:
        if _looks_like_text(data):
            raise AudioRejected(ErrorCode.unsupported_media_type, "the upload is text, not audio") from exc
        raise AudioRejected(ErrorCode.audio_corrupt, f"unreadable audio: {_stderr_tail(exc, path)}") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioRejected(ErrorCode.audio_corrupt, "the audio could not be probed in time") from exc


def inspect_upload(
    data: bytes,
    filename: str | None,
    content_type: str | None,
    *,
    max_bytes: int,
    max_seconds: float,
) -> AudioInfo:
    """Refuse uploads that are too big, empty, not audio, corrupt or too long; describe the rest.

    The decision rests on the bytes (ffprobe), not on the client's filename or content type, which
    browsers and HTTP tools often get wrong (``application/octet-stream``, ``video/webm`` for audio);
    those only make the error messages clearer.
    """
    label = filename or content_type or "upload"
    if not data:
        raise AudioRejected(ErrorCode.audio_empty, f"{label} is empty (0 bytes)")
    if len(data) > max_bytes:
        raise AudioRejected(
            ErrorCode.payload_too_large, f"{label} is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    with tempfile.TemporaryDirectory(prefix="vtuber-probe-") as tmp:
        # A real file, not a pipe: MP4/M4A keep their index at the end and need seeking.
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        probe = _probe(path, data)
        fmt = probe.get("format", {})
        streams = probe.get("streams", [])
        audio = [s for s in streams if s.get("codec_type") == "audio"]
        video = [
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ]
        format_name = str(fmt.get("format_name", ""))
        if not audio:
            kind = "image or video" if video else format_name or "unknown data"
            raise AudioRejected(ErrorCode.unsupported_media_type, f"{label} has no audio stream ({kind})")
        if format_name not in ACCEPTED_FORMATS:
            accepted = ", ".join(sorted(set(ACCEPTED_FORMATS.values())))
            raise AudioRejected(
                ErrorCode.unsupported_media_type,
                f"{label}: format {format_name!r} is not accepted ({accepted})",
            )
        stream = audio[0]
        duration = _float_or_none(fmt.get("duration")) or _float_or_none(stream.get("duration"))
        if duration is None or format_name in _ESTIMATED_DURATION_FORMATS:
            duration = _packet_duration(path)
    sample_rate = int(_float_or_none(stream.get("sample_rate")) or 0)
    if duration <= 0 or sample_rate <= 0:
        raise AudioRejected(ErrorCode.audio_empty, f"{label} contains no audio samples")
    if duration > max_seconds:
        raise AudioRejected(
            ErrorCode.audio_too_long, f"{label} lasts {duration:.1f} s; the limit is {max_seconds:g} s"
        )
    return AudioInfo(
        format=ACCEPTED_FORMATS[format_name],
        duration_s=duration,
        sample_rate=sample_rate,
        channels=int(stream.get("channels") or 0),
        codec=str(stream.get("codec_name", "")),
    )


def decode_to_16k_mono(
    data: bytes, *, max_seconds: float | None = None, timeout_s: float = 600.0
) -> np.ndarray:
    """Decode any accepted format to float32 mono at 16 kHz in [-1, 1] (Whisper's input).

    ``max_seconds`` re-checks the length on the exact decoded samples: the API's probe only
    estimates some formats (raw AAC, VBR MP3 without a header).
    """
    if not data:
        raise AudioRejected(ErrorCode.audio_empty, "the audio is empty (0 bytes)")
    with tempfile.TemporaryDirectory(prefix="vtuber-decode-") as tmp:
        path = Path(tmp) / "audio"
        path.write_bytes(data)
        try:
            raw = _run(
                ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
                 "-ar", str(STT_SAMPLE_RATE), "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"],
                timeout=timeout_s,
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise AudioRejected(
                ErrorCode.audio_corrupt, f"undecodable audio: {_stderr_tail(exc, path)}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise AudioRejected(ErrorCode.audio_corrupt, f"decoding took over {timeout_s:g} s") from exc
    # One copy only (clip into a new array): a 3 h batch file is about 700 MB of float32.
    samples = np.clip(np.frombuffer(raw, dtype="<f4"), -1.0, 1.0).astype(np.float32, copy=False)
    del raw
    if samples.size == 0:
        raise AudioRejected(ErrorCode.audio_empty, "the audio contains no samples")
    duration = samples.size / STT_SAMPLE_RATE
    if max_seconds is not None and duration > max_seconds:
        raise AudioRejected(
            ErrorCode.audio_too_long, f"the audio lasts {duration:.1f} s; the limit is {max_seconds:g} s"
        )
    return samples


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
    """Encode float32 mono samples: 16-bit WAV, MP3 (in-process via libsndfile) or Ogg Opus.

    Ogg carries Opus (what browsers' MediaRecorder produces, and the best speech codec at low
    bitrates) through ffmpeg: Opus only takes 8/12/16/24/48 kHz, TTS voices run at others (Piper:
    22.05 kHz), and ffmpeg resamples on the way.
    """
    mono = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if fmt == "ogg":
        return _run(
            ["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(sample_rate), "-ac", "1",
             "-i", "pipe:0", "-c:a", "libopus", "-b:a", "48k", "-f", "ogg", "pipe:1"],
            stdin=mono.astype("<f4").tobytes(),
        )  # fmt: skip
    buffer = BytesIO()
    if fmt == "wav":
        sf.write(buffer, mono, sample_rate, format="WAV", subtype="PCM_16")
    elif fmt == "mp3":
        sf.write(buffer, mono, sample_rate, format="MP3", subtype="MPEG_LAYER_III")
    else:
        raise ValueError(f"unsupported output format {fmt!r} (wav, ogg, mp3)")
    return buffer.getvalue()
