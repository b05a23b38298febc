"""Audio for the realtime listen tests: real speech (the bundled Piper voice), silence and noise, as
the 16 kHz mono s16le PCM a listen client streams."""

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000


def to_pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


@lru_cache
def speech(text: str) -> np.ndarray:
    """``text`` read aloud, as float32 samples at 16 kHz."""
    from pipelines.audio_codec import decode_to_16k_mono
    from tools.spoken import spoken_wav

    return decode_to_16k_mono(spoken_wav(text))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def noise(seconds: float, *, level: float = 0.05, seed: int = 7) -> np.ndarray:
    """White noise at about -26 dBFS RMS: a fan, a hiss; loud enough for the silence gate."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * SAMPLE_RATE)) * level).astype(np.float32)


def spoken_pcm(*texts: str, gap_s: float = 1.0) -> bytes:
    """The texts read one after another with ``gap_s`` of silence around each."""
    parts = [silence(gap_s / 2)]
    for text in texts:
        parts += [speech(text), silence(gap_s)]
    return to_pcm(np.concatenate(parts))


def frames(pcm: bytes, frame_ms: int = 20) -> list[bytes]:
    step = SAMPLE_RATE * 2 * frame_ms // 1000
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


def opus_packets(samples: np.ndarray, *, rate: int = 48_000) -> list[bytes]:
    """``samples`` (16 kHz) as the raw Opus packets a WebCodecs ``AudioEncoder`` sends, 20 ms each."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format, encoder.bit_rate = rate, "mono", "s16", 24_000
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(to_pcm(samples), "<i2").reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = SAMPLE_RATE
    packets = []
    for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
        packets += [bytes(packet) for packet in encoder.encode(resampled)]
    return packets + [bytes(packet) for packet in encoder.encode(None)]
