"""What a voice may read: a reply segment without markdown, emoji, links or stage directions.

Chat models write for screens: ``**bold**``, bullet lists, ``[a link](https://…)``, emoji and
role-play actions such as ``*waves*``. A voice reads those aloud ("asterisk waves asterisk", a URL
letter by letter) or, for GPT-SoVITS, answers emoji-only text with a second of silence. Segments
are cleaned one at a time after the segmenter closed them, so the result never depends on how the
stream was split. A segment with nothing left to say is dropped by the caller.
"""

import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+", re.IGNORECASE)
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|<\s*>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# *text* is a stage direction ("*waves*") where it stands alone: at the start, or after a
# sentence end; within a sentence it is emphasis ("that's *so* cool") and its words are kept.
_STARRED = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]{1,80})(?<=\S)\*(?![\w*])")
_SENTENCE_END = re.compile(r"(?:^|[.!?…。！？\n])\s*$")
_CODE = re.compile(r"`+([^`\n]*)`+")
_LINE_MARKUP = re.compile(r"(?m)^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+)")
_INNER_MARKS = re.compile(r"(?<=\w)[*_]+(?=\w)")  # snake_case, 5*3: a pause, not a sound
_LEFTOVER_MARKS = re.compile(r"[*_~#`|]+")
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}
_WORD = re.compile(r"\w")


def speakable(text: str) -> str:
    """``text`` as a voice should read it (may be empty: nothing to say)."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = "".join(char for char in text if not _is_pictograph(char))
    text = _STRONG.sub(r"\2", text)
    text = _STARRED.sub(lambda m: "" if _SENTENCE_END.search(text[: m.start()]) else m.group(1), text)
    text = _CODE.sub(r"\1", text)
    text = _LINE_MARKUP.sub("", text)
    text = _INNER_MARKS.sub(" ", text)
    text = _LEFTOVER_MARKS.sub("", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = " ".join(text.split())
    return text if _WORD.search(text) else ""


def _is_pictograph(char: str) -> bool:
    """Emoji and other pictographs (symbol category So), their joiners and skin-tone modifiers."""
    return char in _JOINERS or ord(char) in _SKIN_TONES or unicodedata.category(char) == "So"
