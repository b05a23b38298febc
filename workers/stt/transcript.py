"""What both Whisper backends share: language codes, time clamping, the Transcript they return."""

from pipelines.errors import StageError
from schemas.errors import ErrorCode
from schemas.transcription import Transcript, TranscriptSegment


def normalize_language(requested: str | None, supported: list[str], model: str) -> str | None:
    """A Whisper language code from ``ja`` / ``EN`` / ``en-US``; a clear error otherwise.

    An English-only model (``*.en``) would silently render other speech as made-up English, so
    asking it for another language is a request error rather than something to ignore.
    """
    if requested is None or not requested.strip():
        return None
    code = requested.strip().replace("_", "-").split("-")[0].lower()
    if code not in supported:
        hint = "it is English-only" if supported == ["en"] else "unknown language code"
        raise StageError(
            ErrorCode.validation_error, f"language {requested!r} is not supported by model {model} ({hint})"
        )
    return code


def refuse_translation_without_languages(task: str, multilingual: bool, model: str) -> None:
    """An English-only model cannot translate: it would return its English guess as the text."""
    if task == "translate" and not multilingual:
        raise StageError(ErrorCode.validation_error, f"model {model} is English-only and cannot translate")


def build_transcript(
    text: str,
    segments: list[TranscriptSegment],
    *,
    language: str | None,
    probability: float | None,
    duration: float,
    backend: str,
    model: str,
) -> Transcript:
    """``text`` is Whisper's own concatenation: segments carry their spacing (none in Chinese/Japanese)."""
    return Transcript(
        text=text.strip(),
        language=language,
        language_probability=probability,
        duration_s=round(duration, 3),
        segments=segments,
        backend=backend,
        model=model,
    )


def clamp_time(value: float, duration: float) -> float:
    """Seconds rounded to the millisecond and kept inside the audio (Whisper can overshoot its end)."""
    return round(min(max(float(value), 0.0), duration), 3)
