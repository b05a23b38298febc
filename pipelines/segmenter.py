"""Split streamed LLM text into speakable segments, so speech can start before the reply is done.

A segment ends at a sentence end (``. ! ? …`` and the CJK ``。！？``), at a line break, optionally
at an early first clause (so the avatar starts talking sooner), or is force-split when a run grows
past ``max_chars``. A full stop is not a sentence end in ``Mr. Smith``, ``e.g. this``, ``3.14`` or
``example.com``; deciding that needs the next non-space character, so a terminator at the end of
the buffer is held back until more text (or ``finish``) arrives. Every decision depends only on the
text itself, never on how it was split into deltas: streaming gives the same segments as one push.
"""

import re
from dataclasses import dataclass

# Words whose trailing full stop does not end a sentence. Merging two sentences costs little when
# spoken; splitting "the U.S. | Army" mid-phrase sounds broken, so ambiguous ones are listed too.
# Everyday words ("no", "sat", "sec") are left out: "No. I won't." must still split.
ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "cf"),
        *("fig", "figs", "approx", "inc", "ltd", "corp", "dept", "govt", "ave", "blvd"),
        *("jan", "feb", "apr", "jun", "jul", "aug", "sept", "oct", "nov"),
        *("vol", "vols", "lt", "sgt", "capt"),
    }
)

_CJK_TERMINATORS = "。！？｡．"
_TERMINATORS = ".!?…‼⁇⁈⁉" + _CJK_TERMINATORS
_CLOSERS = "\"'”’»」』）)]】〕〉》*"
_BOUNDARY = re.compile(
    rf"(?P<term>[{re.escape(_TERMINATORS)}]+[{re.escape(_CLOSERS)}]*)|(?P<newline>\n)|(?P<clause>[,、，])"
)
_WORD = re.compile(r"\w")
_NON_SPACE = re.compile(r"\S")
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z]+(?:\.[A-Za-z]+)*)$")
_LIST_NUMBER = re.compile(r"\s*\d{1,3}")
_FORCE_CLAUSE = re.compile(r"[,;:](?=\s)|[、，；：]|\s[-–—](?=\s)")


_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<=\w)\s+(?=[.,!?;:…。！？、，])")


def tidy_spaces(text: str) -> str:
    """Collapse whitespace runs and drop spaces before punctuation (left where a tag was removed)."""
    return _SPACE_BEFORE_PUNCTUATION.sub("", " ".join(text.split()))


def _has_word(text: str) -> bool:
    return _WORD.search(text) is not None


def _is_caseless_letter(char: str) -> bool:
    """Han, kana, Hangul: letters with no case, where sentences follow without a space."""
    return char.isalpha() and not char.isupper() and not char.islower()


@dataclass(frozen=True)
class SegmentSpan:
    """A segment's speakable text and where it lies in the pushed stream.

    ``start`` is the position of its first non-space character and ``end`` the end of its raw
    piece (exclusive); callers use them to line up events such as emotion tags with segments.
    """

    text: str
    start: int
    end: int


class SpeakableSegmenter:
    """Incremental splitter: ``push`` deltas as they stream, ``finish`` once at the end."""

    def __init__(self, *, max_chars: int = 160, first_clause_min_chars: int | None = 12) -> None:
        if max_chars < 8:
            raise ValueError("max_chars must be at least 8")
        self.max_chars = max_chars
        self.first_clause_min_chars = first_clause_min_chars
        self._text = ""
        self._cut = 0  # end of the last accepted piece
        self._scan = 0  # boundaries before this are decided
        self._cuts_made = 0
        self._pieces: list[tuple[int, int]] = []  # accepted, not yet released
        self._finished = False

    def push(self, delta: str) -> list[str]:
        return [s.text for s in self.push_spans(delta)]

    def finish(self) -> list[str]:
        return [s.text for s in self.finish_spans()]

    def push_spans(self, delta: str) -> list[SegmentSpan]:
        if self._finished:
            raise RuntimeError("push after finish")
        self._text += delta
        self._split(final=False)
        return self._release(final=False)

    def finish_spans(self) -> list[SegmentSpan]:
        if self._finished:
            return []
        self._finished = True
        self._split(final=True)
        return self._release(final=True)

    # --- deciding where pieces end -------------------------------------------------------------

    def _split(self, *, final: bool) -> None:
        text = self._text
        while True:
            match = _BOUNDARY.search(text, self._scan)
            limit = self._cut + self.max_chars
            if (match is None or match.end() > limit) and len(text) >= limit:
                forced = self._force_position(limit)
                if forced is not None:
                    self._accept(forced)
                    self._scan = forced
                    continue
            if match is None:
                return
            decision = self._decide(match, final=final)
            if decision is None:
                return  # needs text that has not arrived yet
            self._scan = match.end()
            if decision:
                self._accept(match.end())

    def _decide(self, match: re.Match[str], *, final: bool) -> bool | None:
        """True: a boundary; False: not one; None: cannot tell until more text arrives."""
        text, start, end = self._text, match.start(), match.end()
        if match.lastgroup == "newline":
            return True
        if match.lastgroup == "clause" and not self._early_clause_allowed(end):
            return False
        if end == len(text):
            return True if final else None
        after = text[end]
        if match.lastgroup == "clause":
            return after.isspace() or text[start] != ","  # "3,000" is no clause
        run = match.group().rstrip(_CLOSERS)
        if any(c in _CJK_TERMINATORS for c in run):
            return True
        if not after.isspace():
            # "3.14", "example.com", "wait...what", "Yahoo!Japan"; but CJK needs no space.
            return _is_caseless_letter(after) and not set(run) <= {".", "…"}
        following = _NON_SPACE.search(text, end)
        if following is None:
            return True if final else None
        if following.group().islower():
            return False  # "e.g. this", "I think... maybe", '"Hi!" she said'
        if run == "." and match.group() == run:
            return not self._is_abbreviation_or_number(start)
        return True

    def _is_abbreviation_or_number(self, dot: int) -> bool:
        before = self._text[max(0, dot - 24) : dot]
        if _LIST_NUMBER.fullmatch(self._text[self._cut : dot]):
            return True  # a list marker such as "1." on its own
        word = _WORD_BEFORE_DOT.search(before)
        if word is None or (word.start() > 0 and before[word.start() - 1].isalnum()):
            return False
        name = word.group(1)
        return (
            name.lower() in ABBREVIATIONS
            or "." in name  # U.S, e.g, i.e, a.m
            or (len(name) == 1 and name.isupper() and name != "I")  # an initial: "J. K. Rowling"
        )

    def _early_clause_allowed(self, end: int) -> bool:
        """A first clause may go early so speech starts sooner: only before the first cut."""
        if self.first_clause_min_chars is None or self._cuts_made:
            return False
        return len(self._text[self._cut : end].strip()) >= self.first_clause_min_chars

    def _force_position(self, limit: int) -> int | None:
        """Where to cut a run that reached ``max_chars``: a clause mark, else a space, else anywhere."""
        window = self._text[:limit]
        first_word = _WORD.search(window, self._cut)
        if first_word is None:
            return None  # nothing speakable yet: keep growing until a real boundary
        low = max(self._cut + self.max_chars // 3, first_word.end())
        clause_ends = [m.end() for m in _FORCE_CLAUSE.finditer(window, low - 1) if m.end() >= low]
        if clause_ends:
            return clause_ends[-1]
        space = max((i for i in range(limit - 1, low - 1, -1) if window[i].isspace()), default=None)
        return space if space is not None else limit

    def _accept(self, position: int) -> None:
        if not _has_word(self._text[self._cut : position]):
            return  # never a punctuation-only piece: it stays with the next one
        self._pieces.append((self._cut, position))
        self._cut = position
        self._cuts_made += 1

    # --- handing pieces out ----------------------------------------------------------------------

    def _release(self, *, final: bool) -> list[SegmentSpan]:
        """Hand out accepted pieces, keeping the last one until speakable text follows it.

        Holding it lets a trailing punctuation-only remainder (``"Bye. :)"``) join it at the end.
        """
        rest = self._text[self._cut :]
        if final:
            if _has_word(rest):
                self._pieces.append((self._cut, len(self._text)))
            elif self._pieces:
                self._pieces[-1] = (self._pieces[-1][0], len(self._text))
            self._cut = len(self._text)
            ready, self._pieces = self._pieces, []
        elif _has_word(rest):
            ready, self._pieces = self._pieces, []
        else:
            ready, self._pieces = self._pieces[:-1], self._pieces[-1:]
        return [self._span(a, b) for a, b in ready]

    def _span(self, start: int, end: int) -> SegmentSpan:
        raw = self._text[start:end]
        return SegmentSpan(text=tidy_spaces(raw), start=start + len(raw) - len(raw.lstrip()), end=end)
