"""Which chat line is most worth answering, and whether a line may be answered at all.

- ``interest``: a cheap score (questions, lines addressed to the avatar, some substance; links,
  shouting and one-word lines lose), used always.
- ``LlmRanker``: when chat is calm (few candidates), an OpenAI-compatible model picks the most
  interesting line; any failure falls back to the heuristic, so the ranker never stops the avatar.
- ``Moderator``: an OpenAI-compatible ``/moderations`` endpoint. It fails closed: a line that
  could not be checked is not answered (the next one is tried), since an unmoderated line is
  spoken on a live stream.
"""

import re
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from pipelines.logging_setup import get_logger

log = get_logger(__name__)

WORD = re.compile(r"[\w']+")
LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
REPEATS = re.compile(r"(.)\1{4,}")


def normalised(text: str) -> str:
    """What counts as "the same line": case, punctuation and spacing ignored."""
    return " ".join(WORD.findall(text.casefold()))


def interest(text: str, *, names: Sequence[str] = ()) -> float:
    words = WORD.findall(text)
    score = min(len(words), 16) / 4
    if "?" in text:
        score += 3
    lowered = text.casefold()
    if any(name and name.casefold() in lowered for name in names):
        score += 3
    if len(words) <= 1:
        score -= 3
    if LINK.search(text):
        score -= 6
    letters = [c for c in text if c.isalpha()]
    if len(letters) > 10 and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        score -= 2
    if REPEATS.search(text):
        score -= 2
    return score


class Ranker(Protocol):
    def best(self, lines: Sequence[str]) -> int | None:
        """Index of the most interesting line; None to leave the choice to the heuristic."""


class LlmRanker:
    """Asks an OpenAI-compatible chat model which numbered line a streamer would answer."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 5.0) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s

    def best(self, lines: Sequence[str]) -> int | None:
        numbered = "\n".join(f"{n}. {line[:300]}" for n, line in enumerate(lines, start=1))
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": 4,
            "messages": [
                {
                    "role": "system",
                    "content": "You pick which viewer chat line a friendly streamer should answer: the "
                    "most interesting, answerable and kind one. Reply with its number only.",
                },
                {"role": "user", "content": numbered},
            ],
        }
        try:
            response = httpx.post(self.url, json=body, headers=self.headers, timeout=self.timeout_s)
            response.raise_for_status()
            content = str(response.json()["choices"][0]["message"]["content"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("chat ranker unavailable; heuristic used", error=repr(exc)[:200])
            return None
        found = re.search(r"\d+", content)
        choice = int(found.group()) - 1 if found else -1
        return choice if 0 <= choice < len(lines) else None


class Moderator:
    def __init__(self, base_url: str, api_key: str = "", timeout_s: float = 5.0) -> None:
        self.url = base_url.rstrip("/") + "/moderations"
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s

    def flagged(self, text: str) -> bool:
        """True when the model flags the line, or when it could not be asked (fail closed)."""
        try:
            response = httpx.post(
                self.url, json={"input": text}, headers=self.headers, timeout=self.timeout_s
            )
            response.raise_for_status()
            results: list[dict[str, Any]] = response.json()["results"]
            return bool(results[0]["flagged"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("chat moderation unavailable; line not answered", error=repr(exc)[:200])
            return True
