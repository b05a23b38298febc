"""Raw Opus packets from a listen client decoded to the listen's PCM (libopus through PyAV)."""

import numpy as np
import pytest

from pipelines.opus_frames import NotOpus, OpusToPcm
from tests.listen_audio import SAMPLE_RATE, opus_packets, speech


def loudness(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@pytest.mark.parametrize("rate", [48_000, 16_000])  # WebCodecs encodes at the microphone's rate
def test_speech_sent_as_opus_arrives_as_16k_pcm_of_the_same_length_and_level(rate: int) -> None:
    said = speech("Hello Hana, what game are we playing today?")
    packets = opus_packets(said, rate=rate)
    assert sum(map(len, packets)) < said.size * 2 / 5  # what the client saves on its uplink
    decoder = OpusToPcm()
    pcm = b"".join(decoder.decode(packet) for packet in packets)
    heard = np.frombuffer(pcm, "<i2").astype(np.float32) / 32767
    assert abs(heard.size - said.size) < 0.06 * SAMPLE_RATE  # the encoder's look-ahead, no more
    assert abs(loudness(heard) - loudness(said)) < 0.2 * loudness(said)


def test_a_frame_that_is_not_opus_is_refused_and_an_empty_one_is_nothing() -> None:
    decoder = OpusToPcm()
    assert decoder.decode(b"") == b""
    with pytest.raises(NotOpus):
        decoder.decode(b"\xff\x00 not an opus packet " * 8)
