"""Encode speech while it is being synthesized: PCM in, mp3/opus/aac/flac/wav/pcm bytes out.

One ``ffmpeg`` process per request, fed float samples sentence by sentence on stdin; a thread
hands each piece of its stdout on as soon as FFmpeg writes it (``-flush_packets 1``), so the first
audio leaves before the last sentence is synthesized. ``speed`` is FFmpeg's ``atempo`` (pitch kept).
Formats follow OpenAI's speech API: 24 kHz, and ``pcm`` is raw signed 16-bit little-endian mono.
"""

import contextlib
import io
import math
import subprocess
import threading
from collections.abc import Callable

import numpy as np

from pipelines.audio_codec import AudioEncodeError

OUTPUT_RATE = 24_000
_READ_BYTES = 16 * 1024

FORMAT_ARGS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "opus": ["-c:a", "libopus", "-b:a", "32k", "-page_duration", "100000", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "pcm": ["-c:a", "pcm_s16le", "-f", "s16le"],
}
MEDIA_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def tempo_filter(speed: float) -> list[str]:
    """``atempo`` steps for ``speed`` (each step takes 0.5-2.0 on every FFmpeg version)."""
    if math.isclose(speed, 1.0):
        return []
    steps = max(1, math.ceil(abs(math.log2(speed))))
    factor = speed ** (1 / steps)
    return ["-filter:a", ",".join([f"atempo={factor:.6f}"] * steps)]


class StreamingEncoder:
    """Feed samples with ``write``; ``on_bytes`` receives the encoded stream in order, from a
    reader thread. ``close`` waits for the tail; ``abort`` stops at once (the listener left)."""

    def __init__(self, fmt: str, input_rate: int, *, speed: float, on_bytes: Callable[[bytes], None]) -> None:
        if fmt not in FORMAT_ARGS:
            raise ValueError(f"unsupported speech format {fmt!r}")
        command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
        command += ["-f", "f32le", "-ar", str(input_rate), "-ac", "1", "-i", "pipe:0"]
        command += [*tempo_filter(speed), "-ar", str(OUTPUT_RATE), "-ac", "1"]
        command += [*FORMAT_ARGS[fmt], "-flush_packets", "1", "pipe:1"]
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise AudioEncodeError(f"cannot start ffmpeg: {exc}") from exc
        self._on_bytes = on_bytes
        self._failure: BaseException | None = None
        self._reader = threading.Thread(target=self._pump, name="speech-encoder", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        stdout = self._process.stdout
        assert isinstance(stdout, io.BufferedReader)
        try:
            while chunk := stdout.read1(_READ_BYTES):
                self._on_bytes(chunk)
        except BaseException as exc:  # a publish that failed: reported by close()
            self._failure = exc
            self._process.kill()

    def write(self, samples: np.ndarray) -> None:
        data = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0).astype("<f4").tobytes()
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(data)
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise self._error(f"ffmpeg stopped taking audio: {exc}") from exc

    def close(self, timeout_s: float = 30) -> None:
        """Finish the stream: every encoded byte has been handed on when this returns."""
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # ffmpeg died: its exit code says why
            self._process.stdin.close()
        self._reader.join(timeout_s)
        try:
            code = self._process.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.abort()
            raise AudioEncodeError("ffmpeg did not finish the stream in time") from exc
        if self._failure is not None:
            raise self._failure
        if code != 0:
            raise self._error(f"ffmpeg exited with {code}")

    def abort(self) -> None:
        self._process.kill()
        self._process.wait()
        self._reader.join(5)

    def _error(self, message: str) -> AudioEncodeError:
        stderr = self._process.stderr.read().decode(errors="replace")[-500:] if self._process.stderr else ""
        return AudioEncodeError(f"{message}: {stderr.strip()}" if stderr.strip() else message)
