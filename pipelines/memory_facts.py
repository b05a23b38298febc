"""Facts a viewer states about themselves, found by rules: cheap, deterministic, no model.

Each fact has a ``slot`` (what it is about: ``name``, ``favourite:game``, ``pet:dog``) and a
sentence written in the third person for the prompt ("Their favourite game is Celeste."). The slot
is the fact's identity: a viewer who later names another favourite game replaces the old one.
Only short, plain values are kept (a name is a few words, not a paragraph), which also keeps
viewer text that tries to smuggle instructions out of the memories.
"""

import re
from dataclasses import dataclass

MAX_VALUE_CHARS = 48


@dataclass(frozen=True)
class Fact:
    slot: str
    text: str


# A value: a few words (letters, digits, apostrophes, hyphens, &), stopping at punctuation
# that ends a clause and at conjunctions that start the next one ("... and I ...").
_VALUE = r"(?P<value>\w[\w'’\-&]*(?:[ \t]+(?!(?:and|but|because|so|lol|haha|btw)\b)[\w'’\-&]+){0,4})"
_PET = (
    r"(?P<pet>dog|puppy|cat|kitten|hamster|rabbit|bunny|parrot|bird|fish|turtle|tortoise|snake|"
    r"lizard|gecko|ferret|guinea pig|horse|pig|chicken|hedgehog)"
)
_CATEGORY = r"(?P<category>[a-z]+(?: [a-z]+)?)"
_FAVOURITE = r"(?:favou?rite|fav|favorite)"
# Words that start a phrase, not a value: "I'm called out by chat", "my name is not important".
_NOT_VALUES = {
    "not", "so", "very", "just", "really", "here", "back", "fine", "good", "tired", "sorry", "new",
    "out", "up", "in", "on", "by", "a", "an", "the", "to", "at", "off", "over", "going", "gonna",
}  # fmt: skip

ENGLISH_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("name", re.compile(rf"\bmy name(?:'s| is)\s+{_VALUE}", re.IGNORECASE)),
    ("name", re.compile(rf"\b(?:i'm|i am) (?:called|named)\s+{_VALUE}", re.IGNORECASE)),
    ("name", re.compile(rf"\b(?:call me|you can call me)\s+{_VALUE}", re.IGNORECASE)),
    ("pet", re.compile(rf"\bi (?:have|got|own) an? {_PET} (?:named|called)\s+{_VALUE}", re.IGNORECASE)),
    ("pet", re.compile(rf"\bmy {_PET}(?:'s| is) (?:named|called)\s+{_VALUE}", re.IGNORECASE)),
    ("pet", re.compile(rf"\bmy {_PET}'s name is\s+{_VALUE}", re.IGNORECASE)),
    ("favourite", re.compile(rf"\bmy {_FAVOURITE} {_CATEGORY}(?:'s| is)\s+{_VALUE}", re.IGNORECASE)),
    ("from", re.compile(rf"\bi(?:'m| am) from\s+{_VALUE}", re.IGNORECASE)),
    ("from", re.compile(rf"\bi live in\s+{_VALUE}", re.IGNORECASE)),
]

# Korean and Japanese: the value is a run of characters up to a particle or sentence end.
_CJK_VALUE = r"(?P<value>[^\s,.!?。、！？]{1,20}?)"
_KO_IS = r"(?:입니다|이에요|예요|이야|야)"
_KO_CATEGORY = r"(?P<category>게임|음식|색|노래|영화|동물)"
_JA_CATEGORY = r"(?P<category>ゲーム|食べ物|色|歌|映画|動物)"
KOREAN_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("name", re.compile(rf"제 이름은\s*{_CJK_VALUE}(?:{_KO_IS}|라고)")),
    ("name", re.compile(rf"(?:저는|나는)\s*{_CJK_VALUE}(?:이라고|라고) (?:해요|합니다|불러)")),
    ("favourite", re.compile(rf"제일 좋아하는 {_KO_CATEGORY}은\s*{_CJK_VALUE}{_KO_IS}")),
]
JAPANESE_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("name", re.compile(rf"(?:私|僕|俺|わたし)の名前は\s*{_CJK_VALUE}(?:です|だ|と申します)")),
    ("name", re.compile(rf"{_CJK_VALUE}と(?:申します|言います|いいます)")),
    ("favourite", re.compile(rf"(?:一番)?好きな{_JA_CATEGORY}は\s*{_CJK_VALUE}(?:です|だ)")),
]
CATEGORY_NAMES = {
    "게임": "game", "음식": "food", "색": "colour", "노래": "song", "영화": "movie", "동물": "animal",
    "ゲーム": "game", "食べ物": "food", "色": "colour", "歌": "song", "映画": "movie", "動物": "animal",
}  # fmt: skip


# Chat filler after a value: "my favourite game is Celeste now lol" is about Celeste.
_TRAILING_FILLER = re.compile(r"(?:\s+(?:now|lol|haha|btw|though|tbh|too|xd|ok|okay|right))+$", re.IGNORECASE)


def _clean(value: str) -> str:
    value = _TRAILING_FILLER.sub("", value.strip()).strip(".'’\"-:")
    return value[:MAX_VALUE_CHARS].strip()


def _fact(rule: str, match: re.Match[str]) -> Fact | None:
    value = _clean(match.group("value"))
    if not value or value.split()[0].lower() in _NOT_VALUES:
        return None
    groups = match.groupdict()
    if rule == "name":
        return Fact("name", f"Their name is {value}.")
    if rule == "pet":
        pet = groups["pet"].lower()
        return Fact(f"pet:{pet}:{value.lower()}", f"They have a {pet} named {value}.")
    if rule == "favourite":
        category = CATEGORY_NAMES.get(groups["category"], groups["category"].lower())
        return Fact(f"favourite:{category}", f"Their favourite {category} is {value}.")
    if rule == "from":
        return Fact("from", f"They are from {value}.")
    return None


def extract_facts(text: str) -> list[Fact]:
    """Facts the viewer stated in ``text``, one per slot (the last statement of a slot wins)."""
    found: dict[str, Fact] = {}
    for rules in (ENGLISH_RULES, KOREAN_RULES, JAPANESE_RULES):
        for rule, pattern in rules:
            for match in pattern.finditer(text):
                fact = _fact(rule, match)
                if fact is not None:
                    found[fact.slot] = fact
    return list(found.values())
