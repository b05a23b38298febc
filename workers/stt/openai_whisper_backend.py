"""Speech to text with openai-whisper (PyTorch), the reference implementation.

Use it where torch is the runtime already (a GPU box shared with other torch models) or to check
faster-whisper against the original. No registry ships its ``.pt`` checkpoints, so a ``bundled:``
spec (or any CTranslate2 directory) is converted once into the model cache with
``workers.stt.checkpoint_conversion`` and reused while its stamp matches the source.
"""

import fcntl
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipelines.backends import WhisperTask
from pipelines.errors import StageError
from pipelines.metrics import MODEL_LOAD_SECONDS
from pipelines.settings import Settings, get_settings
from schemas.errors import ErrorCode
from schemas.transcription import Transcript, TranscriptSegment, Word
from workers.assets import BUNDLED_PREFIX, AssetError, whisper_model_dir
from workers.device import torch_device
from workers.stt.checkpoint_conversion import ConversionError, convert_ct2_to_openai_whisper
from workers.stt.transcript import (
    build_transcript,
    clamp_time,
    normalize_language,
    refuse_translation_without_languages,
)

if TYPE_CHECKING:
    import whisper

SAMPLE_RATE = 16_000
# Bump when checkpoint_conversion writes something different: cached checkpoints are then redone.
CONVERTER_REVISION = 1


def ensure_converted_checkpoint(spec: str, cache_dir: Path | None = None) -> Path:
    """The openai-whisper checkpoint for a ``bundled:`` spec or a CTranslate2 directory.

    Converted on first use into ``<model_cache_dir>/openai-whisper/``; later calls (and other worker
    processes, serialized by a file lock) reuse it while the stamp (source size, mtime, converter
    revision) still matches.
    """
    try:
        ct2_dir = Path(whisper_model_dir(spec))
    except AssetError as exc:
        raise StageError(ErrorCode.stt_failed, str(exc)) from exc
    source = (ct2_dir / "model.bin").resolve()
    if not source.is_file():
        raise StageError(ErrorCode.stt_failed, f"{ct2_dir} is not a CTranslate2 Whisper model (no model.bin)")
    info = source.stat()
    fingerprint = json.dumps(
        {
            "source": str(source),
            "size": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "converter": CONVERTER_REVISION,
        }
    )
    if spec.startswith(BUNDLED_PREFIX):
        stem = spec.removeprefix(BUNDLED_PREFIX)
    else:
        stem = f"{ct2_dir.name}-{hashlib.sha256(str(source).encode()).hexdigest()[:12]}"
    target_dir = (cache_dir or get_settings().model_cache_dir) / "openai-whisper"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{stem}.pt"
    stamp = target_dir / f"{stem}.pt.stamp"
    with (target_dir / f"{stem}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and stamp.is_file() and stamp.read_text() == fingerprint:
            return target
        try:
            convert_ct2_to_openai_whisper(ct2_dir, target)
        except ConversionError as exc:
            raise StageError(ErrorCode.stt_failed, f"cannot convert {spec}: {exc}") from exc
        stamp.write_text(fingerprint)
    return target


@dataclass
class _Loaded:
    model: "whisper.Whisper"
    # openai-whisper installs its kv-cache hooks on the shared modules for each decode, so two
    # concurrent decodes on one model would corrupt each other: one at a time per model.
    lock: threading.Lock


_loaded: dict[tuple[str, str], _Loaded] = {}
_load_lock = threading.Lock()


def _load_model(name_or_path: str, device: str, download_root: Path) -> _Loaded:
    key = (name_or_path, device)
    with _load_lock:
        if key not in _loaded:
            import torch
            import whisper

            try:
                with MODEL_LOAD_SECONDS.labels("stt", "openai_whisper").time():
                    model = whisper.load_model(name_or_path, device=device, download_root=str(download_root))
            except (RuntimeError, OSError, KeyError, ValueError) as exc:
                raise StageError(
                    ErrorCode.stt_failed, f"cannot load Whisper model {name_or_path!r}: {exc}"
                ) from exc
            if Path(name_or_path).is_file():
                # Converted checkpoints carry the tuned alignment heads (load_model keeps its generic
                # default for files); mmap reads just that key, not the weights again.
                heads = torch.load(name_or_path, map_location="cpu", weights_only=True, mmap=True).get(
                    "alignment_heads"
                )
                if heads:
                    model.set_alignment_heads(heads.encode("ascii"))
            _loaded[key] = _Loaded(model=model, lock=threading.Lock())
        return _loaded[key]


class OpenAIWhisperSTT:
    """``pipelines.backends.SpeechToText`` on openai-whisper."""

    name = "openai_whisper"

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        self.model_spec = model or settings.stt_model
        self.device = torch_device(settings.stt_device)
        # Half precision only where it is fast and supported: CUDA (the CPU path would fall back).
        self.fp16 = self.device == "cuda" and settings.stt_compute_type in ("auto", "float16")
        self.beam_size = max(1, settings.stt_beam_size)
        self.cache_dir = settings.model_cache_dir
        self._checkpoint: str | None = None

    def _resolve(self) -> str:
        """A checkpoint file, or an official model name that load_model downloads (outside this box)."""
        spec = self.model_spec
        path = Path(spec).expanduser()
        if spec.startswith(BUNDLED_PREFIX) or (path / "model.bin").is_file():
            return str(ensure_converted_checkpoint(spec, self.cache_dir))
        return str(path) if path.is_file() else spec

    def load(self) -> "whisper.Whisper":
        """Load (once per process) and return the model; call it to warm a worker up."""
        return self._loaded().model

    def _loaded(self) -> _Loaded:
        if self._checkpoint is None:
            self._checkpoint = self._resolve()
        return _load_model(self._checkpoint, self.device, self.cache_dir / "whisper")

    @property
    def supported_languages(self) -> list[str]:
        from whisper.tokenizer import LANGUAGES

        model = self.load()
        return list(LANGUAGES)[: model.num_languages] if model.is_multilingual else ["en"]

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
        """Transcribe (or translate into English) 16 kHz mono float32 samples (fed as an array:
        no ffmpeg involved)."""
        loaded = self._loaded()
        model = loaded.model
        code = normalize_language(language, self.supported_languages, self.model_spec)
        refuse_translation_without_languages(task, model.is_multilingual, self.model_spec)
        sampling = {"temperature": temperature} if temperature else {}  # else Whisper's fallback
        audio = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        duration = audio.size / SAMPLE_RATE
        try:
            with loaded.lock:
                result = model.transcribe(
                    audio,
                    language=code,
                    word_timestamps=word_timestamps,
                    fp16=self.fp16,
                    beam_size=self.beam_size if self.beam_size > 1 else None,  # None = greedy
                    verbose=None,
                    task=task,
                    initial_prompt=prompt or None,
                    **sampling,
                )
        except (RuntimeError, ValueError) as exc:
            raise StageError(ErrorCode.stt_failed, f"openai-whisper failed: {exc}") from exc
        segments = [
            TranscriptSegment(
                id=i,
                start=clamp_time(seg["start"], duration),
                end=clamp_time(seg["end"], duration),
                text=str(seg["text"]).strip(),
                words=[
                    Word(
                        word=str(w["word"]).strip(),
                        start=clamp_time(w["start"], duration),
                        end=clamp_time(w["end"], duration),
                        probability=round(float(w["probability"]), 4),
                    )
                    for w in seg.get("words", [])
                ],
            )
            for i, seg in enumerate(result["segments"])
        ]
        # transcribe() does not report the detection confidence; a given or implied language is certain.
        certain = code is not None or not model.is_multilingual
        return build_transcript(
            str(result["text"]),
            segments,
            language=str(result["language"]),
            probability=1.0 if certain else None,
            duration=duration,
            backend=self.name,
            model=self.model_spec,
        )
