"""Platform lines as the platforms write them, normalised into one ChatMessage (or refused)."""

import pytest

from pipelines.chat_irc import MalformedLine, chat_message, parse_line
from pipelines.chat_ranking import interest, normalised
from pipelines.chat_selector import utterance_text
from pipelines.chat_youtube import MalformedItem
from pipelines.chat_youtube import chat_message as youtube_message
from schemas.chat import ChatKind, SourceCreate

# Lines in the shape dev.twitch.tv documents for PRIVMSG and USERNOTICE (ids and names made up).
CHEER = (
    "@badge-info=subscriber/14;badges=subscriber/12,bits/1000;bits=100;color=#0D4200;"
    "display-name=Ronni;emotes=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=1337;"
    "subscriber=1;tmi-sent-ts=1507246572675;turbo=0;user-id=1337;user-type= "
    ":ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :cheer100 Is this the; real life?"
)
RESUB = (
    "@badges=staff/1,broadcaster/1;color=#008000;display-name=ronni;id=db25007f-7a18-43eb-9379-"
    "80131e44d633;login=ronni;mod=0;msg-id=resub;msg-param-cumulative-months=6;msg-param-sub-plan=Prime;"
    "room-id=1337;subscriber=1;system-msg=ronni\\shas\\ssubscribed\\sfor\\s6\\smonths!;"
    "tmi-sent-ts=1507246572675;user-id=1337;user-type=staff :tmi.twitch.tv USERNOTICE #dallas :Great stream!"
)


def test_a_tagged_privmsg_with_bits_is_a_cheer_from_a_member() -> None:
    line = parse_line(CHEER)
    assert (line.command, line.params[0], line.nick) == ("PRIVMSG", "#ronni", "ronni")
    message = chat_message(line, "src")
    assert message is not None
    assert message.kind is ChatKind.cheer and message.bits == 100 and message.paid
    assert message.member and not message.moderator
    assert message.viewer_id == "twitch:1337" and message.viewer_name == "Ronni"
    assert message.text == "cheer100 Is this the; real life?"
    assert message.message_id == "b34ccfc7-4977-403a-8a94-33c6bac34fb8"
    assert message.sent_at is not None and message.sent_at.year == 2017


def test_a_resub_usernotice_keeps_its_message_and_unescapes_tags() -> None:
    message = chat_message(parse_line(RESUB), "src")
    assert message is not None and message.kind is ChatKind.subscription and message.paid
    assert message.text == "Great stream!" and message.moderator  # the broadcaster's badge
    bare = chat_message(parse_line(RESUB.removesuffix(" :Great stream!")), "src")
    assert bare is not None and bare.text == "ronni has subscribed for 6 months!"


def test_a_raid_or_a_server_line_is_not_a_chat_line() -> None:
    assert chat_message(parse_line(RESUB.replace("msg-id=resub", "msg-id=raid")), "s") is None
    ping = parse_line("PING :tmi.twitch.tv")
    assert (ping.command, ping.trailing) == ("PING", "tmi.twitch.tv") and chat_message(ping, "s") is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "@id=1;user-id=2 :a!a@a.tmi.twitch.tv",  # no command
        CHEER.replace("user-id=1337;", ""),  # who said it?
        CHEER.replace("id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;", ""),
        CHEER.replace("bits=100", "bits=lots"),
        CHEER.replace("PRIVMSG #ronni", "PRIVMSG ronni"),
    ],
)
def test_malformed_lines_are_refused(raw: str) -> None:
    with pytest.raises(MalformedLine):
        chat_message(parse_line(raw), "src")


def youtube_item(kind: str, snippet: dict[str, object], **author: object) -> dict[str, object]:
    return {
        "id": "LCC.1",
        "snippet": {"type": kind, "publishedAt": "2026-11-29T08:00:00.5Z", **snippet},
        "authorDetails": {"channelId": "UCabc", "displayName": "Mika", **author},
    }


def test_youtube_items_become_lines_super_chats_and_members() -> None:
    text = youtube_item("textMessageEvent", {"textMessageDetails": {"messageText": "hi"}}, isChatSponsor=True)
    line = youtube_message(text, "src")
    assert line is not None and line.text == "hi" and line.member and not line.paid
    assert line.viewer_id == "youtube:UCabc"
    details = {"amountMicros": "5000000", "currency": "EUR", "userComment": "love it"}
    paid = youtube_message(youtube_item("superChatEvent", {"superChatDetails": details}), "src")
    assert paid is not None and paid.kind is ChatKind.super_chat and paid.amount_micros == 5_000_000
    assert utterance_text(paid) == "(Super Chat 5.00 EUR) love it"
    member = youtube_message(youtube_item("newSponsorEvent", {"displayMessage": "Welcome!"}), "src")
    assert member is not None and member.kind is ChatKind.subscription and member.paid
    assert youtube_message(youtube_item("messageDeletedEvent", {}), "src") is None


def test_malformed_youtube_items_are_refused() -> None:
    with pytest.raises(MalformedItem):
        youtube_message({"id": "x", "snippet": {"type": "textMessageEvent"}}, "src")
    with pytest.raises(MalformedItem):
        item = youtube_item("superChatEvent", {"superChatDetails": {"amountMicros": "a lot"}})
        youtube_message(item, "src")


def test_interest_prefers_questions_to_the_avatar_over_spam() -> None:
    names = ["Hana"]
    question = interest("Hana, what game are we playing next?", names=names)
    assert question > interest("lol", names=names)
    assert question > interest("FOLLOW ME AT http://spam.example NOW", names=names)
    assert normalised("Hello,   HANA!!") == normalised("hello hana")


def test_a_source_names_the_target_its_platform_needs() -> None:
    assert SourceCreate.model_validate({"platform": "twitch", "channel": "#Ronni"}).channel == "#Ronni"
    for bad in (
        {"platform": "twitch"},
        {"platform": "twitch", "channel": "ronni", "live_chat_id": "x"},
        {"platform": "youtube", "channel": "ronni"},
        {"platform": "youtube", "live_chat_id": "abc", "credentials_ref": "lower-case"},
    ):
        with pytest.raises(ValueError):
            SourceCreate.model_validate(bad)
