"""Raw Opus packets from a listen client → the 16 kHz mono s16le PCM the listen stream carries.

Browsers' WebCodecs ``AudioEncoder`` and native Opus encoders hand out one packet per 20 ms (or
10–60 ms) of speech: a tenth of the PCM's bytes on a phone's uplink. The API decodes each packet as
it arrives (libopus through PyAV, well under a millisecond a packet), so the listen stream, the
worker and its checkpoints stay PCM and know nothing of the client's encoding.
"""

from dataclasses import dataclass, field
from typing import Any

PCM_RATE = 16_000
OPUS_RATE = 48_000  # the decoder's output rate; Opus decodes any packet at any of its rates


class NotOpus(ValueError):
    """The frame is not an Opus packet libopus can decode."""


@dataclass
class OpusToPcm:
    """One client's decoder: Opus packets keep state across frames (prediction, packet-loss concealment)."""

    _decoder: Any = field(init=False)
    _resampler: Any = field(init=False)

    def __post_init__(self) -> None:
        import av  # FFmpeg's libraries: the API's own extra (pyproject: api)

        self._decoder = av.CodecContext.create("libopus", "r")
        self._decoder.sample_rate = OPUS_RATE
        self._decoder.layout = "mono"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=PCM_RATE)

    def decode(self, packet: bytes) -> bytes:
        """The PCM of one packet (may be empty while the resampler fills up)."""
        import av

        if not packet:
            return b""
        try:
            frames = self._decoder.decode(av.Packet(packet))
            return b"".join(
                bytes(out.planes[0])[: out.samples * 2] for f in frames for out in self._resample(f)
            )
        except (av.FFmpegError, ValueError) as exc:
            raise NotOpus(f"not an Opus packet: {exc}") from exc

    def _resample(self, frame: Any) -> list[Any]:
        frame.pts = None  # by sample count: a packet lost on the way leaves no gap to fill
        return list(self._resampler.resample(frame))
