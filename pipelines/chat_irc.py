"""Twitch chat's IRC dialect (TMI): parse a line, and turn a chat line into a ``ChatMessage``.

A line is ``[@tags] [:prefix] COMMAND [params] [:trailing]`` (RFC 1459 with IRCv3 message tags).
Twitch puts what a viewer is in the tags: ``id``, ``user-id``, ``display-name``, ``badges``
(``subscriber/12,moderator/1``), ``bits`` on a cheer, ``tmi-sent-ts``; subscriptions arrive as
USERNOTICE with ``msg-id`` ``sub``/``resub``/``subgift``/``submysterygift``. Tag values escape
``;`` space ``\\`` CR LF as ``\\:`` ``\\s`` ``\\\\`` ``\\r`` ``\\n``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.chat import ChatKind, ChatMessage, ChatPlatform

ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
SUB_NOTICES = {"sub": ChatKind.subscription, "resub": ChatKind.subscription}
GIFT_NOTICES = {"subgift", "submysterygift", "anonsubgift", "anonsubmysterygift"}
MEMBER_BADGES = {"subscriber", "founder"}
MODERATOR_BADGES = {"moderator", "broadcaster"}


class MalformedLine(ValueError):
    """A line that is not IRC, or a chat line missing what every Twitch chat line carries."""


@dataclass
class IrcLine:
    command: str
    params: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    prefix: str = ""

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]

    @property
    def trailing(self) -> str:
        return self.params[-1] if self.params else ""


def unescape_tag(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(ESCAPES.get(following, following))  # an unknown escape keeps its character
        else:
            out.append(char)
    return "".join(out)


def parse_line(raw: str) -> IrcLine:
    line = raw.rstrip("\r\n")
    if not line.strip():
        raise MalformedLine("empty line")
    tags: dict[str, str] = {}
    if line.startswith("@"):
        head, _, line = line.partition(" ")
        for item in head[1:].split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = unescape_tag(value)
    prefix = ""
    if line.startswith(":"):
        prefix, _, line = line[1:].partition(" ")
    line = line.lstrip(" ")
    middle, sep, trailing = line.partition(" :")
    if not sep and line.startswith(":"):
        middle, trailing, sep = "", line[1:], ":"
    words = middle.split()
    if not words:
        raise MalformedLine(f"no command in {raw[:80]!r}")
    params = words[1:] + ([trailing] if sep else [])
    return IrcLine(command=words[0].upper(), params=params, tags=tags, prefix=prefix)


def badges(tags: dict[str, str]) -> set[str]:
    return {badge.split("/", 1)[0] for badge in tags.get("badges", "").split(",") if badge}


def strip_action(text: str) -> str:
    """``/me waves`` arrives as the CTCP ``\\x01ACTION waves\\x01``."""
    if text.startswith("\x01ACTION ") and text.endswith("\x01"):
        return text[len("\x01ACTION ") : -1]
    return text


def sent_at(tags: dict[str, str]) -> datetime | None:
    stamp = tags.get("tmi-sent-ts", "")
    return datetime.fromtimestamp(int(stamp) / 1000, tz=UTC) if stamp.isdigit() else None


def chat_message(line: IrcLine, source_id: str) -> ChatMessage | None:
    """The viewer's line as a ChatMessage; None for USERNOTICEs that are not subs (raids, ...).

    Raises MalformedLine when a PRIVMSG or USERNOTICE lacks its id, user id or channel.
    """
    if line.command not in ("PRIVMSG", "USERNOTICE"):
        return None
    tags = line.tags
    message_id, user_id = tags.get("id", ""), tags.get("user-id", "")
    if not message_id or not user_id.isdigit() or not line.params or not line.params[0].startswith("#"):
        raise MalformedLine(f"{line.command} without id, user-id or channel")
    kind = ChatKind.message
    bits = 0
    text = strip_action(line.trailing) if len(line.params) > 1 else ""
    if line.command == "PRIVMSG":
        bits_tag = tags.get("bits", "")
        if bits_tag:
            if not bits_tag.isdigit():
                raise MalformedLine(f"bits tag {bits_tag[:20]!r} is not a count")
            bits, kind = int(bits_tag), ChatKind.cheer
    else:
        notice = tags.get("msg-id", "")
        if notice in SUB_NOTICES:
            kind = SUB_NOTICES[notice]
        elif notice in GIFT_NOTICES:
            kind = ChatKind.gift
        else:
            return None
        if not text:
            text = tags.get("system-msg", "")
    name = tags.get("display-name") or tags.get("login") or line.nick or user_id
    held = badges(tags)
    return ChatMessage(
        platform=ChatPlatform.twitch,
        source_id=source_id,
        message_id=message_id,
        viewer_id=f"twitch:{user_id}",
        viewer_name=name[:64],
        text=text,
        kind=kind,
        bits=bits,
        member=bool(held & MEMBER_BADGES) or kind in (ChatKind.subscription, ChatKind.gift),
        moderator=bool(held & MODERATOR_BADGES) or tags.get("mod") == "1",
        sent_at=sent_at(tags),
    )
