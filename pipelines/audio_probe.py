"""The API's upload check: is this audio we accept, how long is it — decided on the bytes.

WAV, FLAC and Ogg (what most clients send besides browser WebM) are read in-process by libsndfile,
which knows their exact length from the header in microseconds; everything else goes to ``ffprobe``
(one subprocess, about 0.1 s). No model runtime here: the API process imports this module.
"""

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import soundfile as sf

from pipelines.errors import AudioRejected
from schemas.errors import ErrorCode

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
# libsndfile's major format -> the name this project reports (lengths exact from the header).
_SNDFILE_FORMATS = {"WAV": "wav", "WAVEX": "wav", "FLAC": "flac", "OGG": "ogg"}


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
    known = _sndfile_info(data, label, max_seconds)
    if known is not None:
        return known
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


_SF_COUNT_MAX = 2**63 - 1  # libsndfile's frame count when a header does not give the length


def _sndfile_info(data: bytes, label: str, max_seconds: float) -> AudioInfo | None:
    """The upload described by libsndfile, or None when it is not a format it reads exactly."""
    try:
        info = sf.info(BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None
    fmt = _SNDFILE_FORMATS.get(info.format)
    if fmt is None or info.samplerate <= 0 or info.frames >= _SF_COUNT_MAX:
        return None  # the maximum count: a streamed header that left the length open; FFmpeg counts
    duration = info.frames / info.samplerate
    if duration <= 0:
        raise AudioRejected(ErrorCode.audio_empty, f"{label} contains no audio samples")
    if duration > max_seconds:
        raise AudioRejected(
            ErrorCode.audio_too_long, f"{label} lasts {duration:.1f} s; the limit is {max_seconds:g} s"
        )
    return AudioInfo(
        format=fmt,
        duration_s=duration,
        sample_rate=info.samplerate,
        channels=info.channels,
        codec=info.subtype,
    )
