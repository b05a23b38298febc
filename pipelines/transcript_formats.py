"""Transcript downloads: json, plain text, SubRip (srt) and WebVTT (vtt)."""

from collections.abc import Callable

from schemas.transcription import Transcript


def _clock(seconds: float, decimal: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def to_json(transcript: Transcript) -> str:
    return transcript.model_dump_json(indent=2) + "\n"


def to_txt(transcript: Transcript) -> str:
    return transcript.text.strip() + "\n"


def to_srt(transcript: Transcript) -> str:
    cues = [
        f"{number}\n{_clock(seg.start, ',')} --> {_clock(seg.end, ',')}\n{seg.text.strip()}\n"
        for number, seg in enumerate((s for s in transcript.segments if s.text.strip()), start=1)
    ]
    return "\n".join(cues)


def to_vtt(transcript: Transcript) -> str:
    cues = [
        f"{_clock(seg.start, '.')} --> {_clock(seg.end, '.')}\n{seg.text.strip()}\n"
        for seg in transcript.segments
        if seg.text.strip()
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


FORMATS: dict[str, tuple[str, Callable[[Transcript], str]]] = {
    "json": ("application/json", to_json),
    "txt": ("text/plain; charset=utf-8", to_txt),
    "srt": ("application/x-subrip; charset=utf-8", to_srt),
    "vtt": ("text/vtt; charset=utf-8", to_vtt),
}
