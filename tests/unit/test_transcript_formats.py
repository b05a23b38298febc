"""srt/vtt/txt/json renderings of a transcript."""

import re

from pipelines.transcript_formats import FORMATS, to_srt, to_txt, to_vtt
from schemas.transcription import Transcript, TranscriptSegment

TRANSCRIPT = Transcript(
    text=" Hello there. General Kenobi!",
    language="en",
    segments=[
        TranscriptSegment(id=0, start=0.0, end=1.25, text=" Hello there."),
        TranscriptSegment(id=1, start=1.25, end=3661.5, text=" General Kenobi!"),
    ],
)
SRT_TIME = r"\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d"


def test_srt_cues_are_numbered_and_timed() -> None:
    blocks = to_srt(TRANSCRIPT).strip().split("\n\n")
    assert len(blocks) == 2
    number, timing, text = blocks[1].split("\n")
    assert number == "2" and re.fullmatch(SRT_TIME, timing) and text == "General Kenobi!"
    assert timing == "00:00:01,250 --> 01:01:01,500"


def test_vtt_has_header_and_dot_millis() -> None:
    vtt = to_vtt(TRANSCRIPT)
    assert vtt.startswith("WEBVTT\n\n")
    assert "00:00:00.000 --> 00:00:01.250\nHello there." in vtt


def test_txt_and_json_and_registry() -> None:
    assert to_txt(TRANSCRIPT) == "Hello there. General Kenobi!\n"
    assert Transcript.model_validate_json(FORMATS["json"][1](TRANSCRIPT)) == TRANSCRIPT
    assert set(FORMATS) == {"json", "txt", "srt", "vtt"}
