"""Read a streamed WAV as it arrives: a header whose sizes are unknown (0), then raw PCM chunks.

api_v2.py streams ``media_type=wav`` as one 44-byte header written for zero frames, followed by
16-bit mono PCM in chunks of any length (a chunk may end in the middle of a sample). Nothing in the
header tells where the audio ends, so only the transport can say the stream is complete.
"""

import struct

import numpy as np


class WavStreamError(ValueError):
    """The bytes are not a PCM WAV stream."""


class WavStream:
    def __init__(self) -> None:
        self._pending = b""
        self.sample_rate: int | None = None
        self.channels = 1
        self.samples_read = 0

    def feed(self, data: bytes) -> np.ndarray:
        """The float32 samples (mono) completed by ``data``; empty until the header is read."""
        self._pending += data
        if self.sample_rate is None and not self._read_header():
            return np.zeros(0, dtype=np.float32)
        frame = 2 * self.channels
        usable = len(self._pending) - len(self._pending) % frame
        raw, self._pending = self._pending[:usable], self._pending[usable:]
        pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if self.channels > 1:
            pcm = pcm.reshape(-1, self.channels).mean(axis=1)
        self.samples_read += len(pcm)
        return pcm

    @property
    def leftover(self) -> int:
        """Bytes held back: part of a sample, or a header not yet complete."""
        return len(self._pending)

    def _read_header(self) -> bool:
        """Walk the RIFF chunks up to ``data``; False while the header is still incomplete."""
        data = self._pending
        if len(data) < 12:
            return False
        if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
            raise WavStreamError(f"not a WAV stream (starts with {data[:12]!r})")
        offset, rate = 12, None
        while len(data) >= offset + 8:
            chunk_id = data[offset : offset + 4]
            size = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
            body = offset + 8
            if chunk_id == b"data":  # its size is 0 (unknown) in a stream: the rest is audio
                if rate is None:
                    raise WavStreamError("WAV stream without a fmt chunk before its data")
                self.sample_rate, self._pending = rate, data[body:]
                return True
            if len(data) < body + size:
                return False
            if chunk_id == b"fmt ":
                fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
                if fmt != 1 or bits != 16:
                    raise WavStreamError(f"expected 16-bit PCM, got format {fmt} with {bits} bits")
                self.channels = channels
            offset = body + size + (size & 1)
        return False
