"""Catch a reply that breaks character before the viewer hears it: a parrot, a help desk, or a
persona that gave in to a viewer's takeover attempt.

Small local models often answer chat by repeating the viewer's line ("gg, that boss fight was
insane" -> "That boss fight was insane!") or by falling back on assistant phrases ("How can I
assist you today?"). Both are detected on text alone, cheaply enough to check the first sentence
of every live reply; the LLM stage then asks the model once more for a first sentence that breaks character
(:func:`guard_first_sentence`) and ends the reply before a later one (:func:`until_off_character`).
bench/bench_persona.py scores whole replies with the same two detectors.

Given the persona, the checks also cover a viewer's line that tries to take the persona over
(pipelines/injection_guard.py): a first sentence that obeys it is never voiced; the persona's own
scripted refusal is said instead (no second model call; the first call already carried the refusal
hint of pipelines/prompting.py), and a later sentence that obeys it ends the reply.
"""

import re
from collections.abc import Callable, Iterator
from difflib import SequenceMatcher

from pipelines.injection_guard import Attempt, gives_in
from pipelines.prompting import in_character_refusal, system_prompt
from pipelines.reply_stream import ReplyStreamer
from schemas.emotion import TaggedSegment
from schemas.persona import Persona

# Han and kana carry a word's meaning in one or two characters and are written without spaces:
# each is a token of half a word. Everything else (Latin, Hangul, digits) is split into words.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
_HALF_WEIGHT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# A reply echoes the viewer when it repeats a contiguous run of the viewer's tokens that is at
# least ECHO_MIN_RUN words long (two CJK characters count as one word) and covers at least
# ECHO_MIN_SHARE of the viewer's line. "hi!" -> "hi!" is a greeting, not an echo (too short);
# "I just got here. What are we playing today?" said back is one.
ECHO_MIN_RUN = 4.0
ECHO_MIN_SHARE = 0.5

# Phrases of a help-desk assistant, never of a streamer. Lower case; matched as regular expressions.
ASSISTANT_PHRASES = (
    r"how (can|may|could) i (help|assist)",
    r"(help|assist) you (with anything|today)",
    r"\bi'?m (just |always )?here to (help|assist)",
    r"(happy|glad) to (help|assist)",
    r"can'?t (help|assist) (you )?with (that|this)",
    r"\bas an? (ai|artificial intelligence|language model|virtual assistant|assistant)\b",
    r"\bi'?m (just )?an? (ai|language model|virtual assistant|assistant|ai assistant)\b",
    r"\bi am (just )?an? (ai|language model|virtual assistant|assistant|ai assistant)\b",
    r"\b(ai|large) language model\b",
    r"\b(exist|here|designed|programmed) to (help|assist) you\b",
    r"\bi'?m (just |only )?a (computer )?program\b",
    r"i (do not|don'?t) have (personal )?(opinions|feelings|emotions|preferences|experiences)",
    r"i (do not|don'?t) have (the ability|a physical|a body)",
    r"let me know if (you (have|need|want)|there'?s) (any|anything)",
    r"if you have any (other |more |further )?questions",
    r"(feel free|don'?t hesitate) to (ask|reach out)",
    r"is there anything else",
    r"is there (something|anything) (specific|in particular) you'?d like",
    r"what can i do for you",
    r"(questions|topics) (or [a-z ]+ )?you'?d like to (discuss|talk about|ask|know)",
    r"i hope (this|that) helps",
    "도와\\s?드릴",  # "may I help you"
    "어시스턴트",  # "assistant"
    "인공지능(으로서|이라서|입니다)",  # "as an AI", "I am an AI"
    "궁금한 (점|것)이 있으(시면|면)",  # "if you have any questions"
    "お手伝い",  # "help (you)"
    "アシスタント",  # "assistant"
    "AIとして",  # "as an AI"
    "ご質問があれば",  # "if you have questions"
)
_ASSISTANT = re.compile("|".join(f"(?:{p})" for p in ASSISTANT_PHRASES), re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower-case words, with each Han or kana character a token of its own."""
    return _TOKEN.findall(text.lower())


def _weight(token: str) -> float:
    return 0.5 if _HALF_WEIGHT.fullmatch(token) else 1.0


def echo_run(viewer: str, reply: str) -> tuple[float, float]:
    """The longest run of the viewer's tokens repeated in the reply: (its words, its share)."""
    said, answered = tokens(viewer), tokens(reply)
    if not said or not answered:
        return 0.0, 0.0
    match = SequenceMatcher(None, said, answered, autojunk=False).find_longest_match(
        0, len(said), 0, len(answered)
    )
    run = sum(_weight(t) for t in said[match.a : match.a + match.size])
    return run, run / sum(_weight(t) for t in said)


def echoes(viewer: str, reply: str) -> bool:
    """True when the reply parrots the viewer (thresholds above)."""
    run, share = echo_run(viewer, reply)
    return run >= ECHO_MIN_RUN and share >= ECHO_MIN_SHARE


def assistant_phrase(text: str) -> str | None:
    """The first help-desk phrase in ``text``, or None."""
    found = _ASSISTANT.search(text)
    return found.group(0) if found else None


def off_character(viewer: str, sentence: str, persona: Persona | None = None) -> str | None:
    """Why a spoken sentence breaks character ("injection", "echo", "assistant"), or None.

    "injection" needs the ``persona`` (its name and prompt) and a viewer line that attempts a
    takeover; ordinary chat is judged on echo and help-desk phrases alone."""
    if persona is not None:
        attempt = Attempt.of(viewer, persona.name)
        if attempt is not None and gives_in(attempt, sentence, system_prompt(persona)):
            return "injection"
    if echoes(viewer, sentence):
        return "echo"
    if assistant_phrase(sentence):
        return "assistant"
    return None


def guard_first_sentence(
    open_stream: Callable[[int], Iterator[str]],
    streamer: ReplyStreamer,
    viewer: str,
    on_retry: Callable[[str], None] | None = None,
    *,
    persona: Persona | None = None,
) -> Iterator[str]:
    """The model's deltas, asking once more (``open_stream(1)``) when the first sentence is off.

    Deltas of ``open_stream(0)`` are held until ``streamer`` (a scratch copy of the stage's own)
    closes the first sentence; nothing is passed on before it, so a retry takes back nothing that
    was voiced. The first sentence of an echoing reply cannot reach the voice any earlier than this
    anyway (the stage's segmenter closes it at the same point), so unguarded-looking replies lose
    no time; a retried one costs the second attempt's first sentence. The second attempt is used
    whatever it says. ``on_retry`` hears the reason.

    With the ``persona``, a viewer line that attempts a takeover (pipelines/injection_guard.py)
    is judged on its first two sentences (the segmenter may close the first at a comma, before
    "You are Hana, | a cheerful virtual YouTuber ..." shows itself as a leak); when one is off,
    the persona's scripted refusal (:func:`pipelines.prompting.in_character_refusal`) is said
    instead, without asking the model again (its first call already carried the refusal hint); so
    is a reply to an attempt with nothing to say (the model obeyed inside a tag: "[PWNED]"). A
    language without a scripted refusal is asked again like an echo.
    """
    attempt = Attempt.of(viewer, persona.name) if persona is not None else None
    judged = 2 if attempt is not None else 1
    first = open_stream(0)
    held: list[str] = []
    sentences: list[TaggedSegment] = []
    try:
        for delta in first:
            held.append(delta)
            sentences += streamer.push(delta)
            if len(sentences) >= judged:
                break
        else:
            sentences += streamer.finish()
        verdict = next(
            (v for v in (off_character(viewer, s.text, persona) for s in sentences[:judged]) if v), None
        )
        if attempt is not None and not sentences:  # nothing sayable: "[PWNED]" is all tag
            verdict = "injection"
        if verdict is None:
            yield from held
            yield from first
            return
    finally:
        close = getattr(first, "close", None)
        if callable(close):
            close()
    if on_retry is not None:
        on_retry(verdict)
    refusal = in_character_refusal(persona) if persona is not None and attempt is not None else None
    if refusal is not None:
        yield refusal
        return
    yield from open_stream(1)


def until_off_character(
    viewer: str, segments: list[TaggedSegment], *, index: int, persona: Persona | None = None
) -> tuple[list[TaggedSegment], bool]:
    """The segments before the first later sentence that breaks character, and whether one did.

    ``index`` is the reply position of ``segments[0]``. The first sentence (index 0) is the
    business of :func:`guard_first_sentence`; a later one cannot be asked for again (the viewer may
    be hearing the sentences before it), so the reply ends before it: a help-desk "Let me know if
    you have any other questions!" after a good first sentence is simply not said; nor is a
    sentence that gives in to a takeover attempt (with the ``persona``).
    """
    for position, segment in enumerate(segments):
        if index + position > 0 and off_character(viewer, segment.text, persona):
            return segments[:position], True
    return segments, False
