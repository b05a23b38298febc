"""Speech to text with faster-whisper (CTranslate2): the default backend.

int8 on the CPU (a quarter of float32's weight memory, faster, practically the same accuracy) and
float16 on a GPU, both overridable. The model loads on first use, not at import or in the parent of a
prefork pool, and at most once per process for a given (weights, device, compute type).
"""

import threading
from typing import TYPE_CHECKING

import numpy as np

from pipelines.backends import WhisperTask
from pipelines.errors import StageError
from pipelines.metrics import MODEL_LOAD_SECONDS
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from schemas.transcription import Transcript, TranscriptSegment, Word
from workers.assets import AssetError, whisper_model_dir
from workers.device import ctranslate2_compute_type, ctranslate2_device
from workers.stt.transcript import (
    build_transcript,
    clamp_time,
    normalize_language,
    refuse_translation_without_languages,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
# Whisper reads 30 s windows. Longer audio is a recording (batch), not a live utterance; see vad_filter.
VAD_AUTO_MIN_SECONDS = 30.0

_loaded: dict[tuple[str, str, str], "WhisperModel"] = {}
_load_lock = threading.Lock()


def _load_model(path: str, device: str, compute_type: str) -> "WhisperModel":
    """One model per process and configuration, shared by every backend instance and thread."""
    key = (path, device, compute_type)
    with _load_lock:
        if key not in _loaded:
            from faster_whisper import WhisperModel

            try:
                # num_workers=1: CTranslate2 queues concurrent calls on one replica, which is safe
                # and keeps memory flat; parallelism comes from worker processes.
                with MODEL_LOAD_SECONDS.labels("stt", "faster_whisper").time():
                    _loaded[key] = WhisperModel(path, device=device, compute_type=compute_type, num_workers=1)
            except (RuntimeError, ValueError, OSError) as exc:
                raise StageError(
                    ErrorCode.stt_failed,
                    f"cannot load Whisper model {path!r} on {device}/{compute_type}: {exc}",
                ) from exc
        return _loaded[key]


class FasterWhisperSTT:
    """``pipelines.backends.SpeechToText`` on faster-whisper."""

    name = "faster_whisper"

    def __init__(
        self, settings: Settings, model: str | None = None, *, vad_filter: bool | None = None
    ) -> None:
        """``vad_filter=None`` (auto) runs Silero VAD only on audio longer than 30 s.

        Speed does not decide it (Silero costs about 10 ms on a 3 s clip); failure modes do. A live
        utterance arrives end-pointed by the client, and VAD can drop a soft one-word reply
        entirely. Long recordings have pauses where Whisper tends to invent text; skipping them
        saves compute and kept segment starts closer to the speech (0.07-0.15 s off instead of
        0.15-0.33 s on a 34 s test recording), so batch-length audio gets it.
        """
        self.model_spec = model or settings.stt_model
        self.device = ctranslate2_device(settings.stt_device)
        self.compute_type = ctranslate2_compute_type(self.device, settings.stt_compute_type)
        self.beam_size = max(1, settings.stt_beam_size)
        self.vad_filter = vad_filter
        self._path: str | None = None

    def load(self) -> "WhisperModel":
        """Load (once) and return the model; call it to warm a worker up before its first task."""
        if self._path is None:
            try:
                self._path = whisper_model_dir(self.model_spec)
            except AssetError as exc:
                raise StageError(ErrorCode.stt_failed, str(exc)) from exc
        return _load_model(self._path, self.device, self.compute_type)

    @property
    def supported_languages(self) -> list[str]:
        return list(self.load().supported_languages)

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        task: WhisperTask = "transcribe",
        prompt: str | None = None,
        temperature: float | None = None,
    ) -> Transcript:
        """Transcribe (or translate into English) 16 kHz mono float32 samples."""
        model = self.load()
        code = normalize_language(language, list(model.supported_languages), self.model_spec)
        refuse_translation_without_languages(task, model.model.is_multilingual, self.model_spec)
        sampling = {"temperature": temperature} if temperature else {}  # else Whisper's fallback
        audio = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        duration = audio.size / SAMPLE_RATE
        vad = self.vad_filter if self.vad_filter is not None else duration > VAD_AUTO_MIN_SECONDS
        try:
            generator, info = model.transcribe(
                audio,
                language=code,
                beam_size=self.beam_size,
                word_timestamps=word_timestamps,
                vad_filter=vad,
                task=task,
                initial_prompt=prompt or None,
                **sampling,
            )
            pieces = list(generator)  # decoding happens here, lazily
            segments = [
                TranscriptSegment(
                    id=i,
                    start=clamp_time(seg.start, duration),
                    end=clamp_time(seg.end, duration),
                    text=seg.text.strip(),
                    words=[
                        Word(
                            word=w.word.strip(),
                            start=clamp_time(w.start, duration),
                            end=clamp_time(w.end, duration),
                            probability=round(float(w.probability), 4),
                        )
                        for w in seg.words or []
                    ],
                )
                for i, seg in enumerate(pieces)
            ]
        except (RuntimeError, ValueError) as exc:
            raise StageError(ErrorCode.stt_failed, f"faster-whisper failed: {exc}") from exc
        return build_transcript(
            "".join(seg.text for seg in pieces),
            segments,
            language=info.language,
            probability=round(float(info.language_probability), 4),
            duration=duration,
            backend=self.name,
            model=self.model_spec,
        )
