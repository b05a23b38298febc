"""Silero VAD over a live stream, one 32 ms window at a time, with the ONNX model that ships inside
faster-whisper (no download).

faster-whisper runs the model over a whole file at once; a live stream needs the model's recurrent
state (and the 64 samples of context it reads before each window) carried from one call to the
next. Given the same audio, the probabilities are the same as the whole-file pass.
"""

import functools
import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

WINDOW = 512  # samples at 16 kHz: the window Silero VAD v5/v6 is trained on
CONTEXT = 64


@functools.lru_cache(maxsize=1)
def _session() -> "onnxruntime.InferenceSession":
    """One ONNX session per process, shared by every stream (each keeps its own state)."""
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        os.path.join(get_assets_path(), "silero_vad_v6.onnx"),
        providers=["CPUExecutionProvider"],
        sess_options=options,
    )


class SileroStream:
    """``pipelines.listen_endpointing.VoiceActivity``: speech probability per window of a stream."""

    window = WINDOW

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        """The speech probability of the next ``WINDOW`` samples (float32 in [-1, 1])."""
        samples = np.asarray(window, dtype=np.float32).reshape(1, WINDOW)
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([self._context, samples], axis=1), "h": self._h, "c": self._c}
        )
        self._context = samples[:, -CONTEXT:]
        return float(np.asarray(out).reshape(-1)[0])
