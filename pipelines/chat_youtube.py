"""Read a YouTube live chat by polling ``liveChatMessages.list`` (YouTube Data API v3).

``GET {api}/liveChat/messages?liveChatId=...&part=snippet,authorDetails&pageToken=...`` answers the
lines after ``pageToken``, oldest first, with ``nextPageToken`` (where to continue) and
``pollingIntervalMillis`` (how long to wait before asking again). Each call costs 5 quota units;
``403 quotaExceeded`` means the project's daily quota is spent (it resets at midnight Pacific), so
the poller waits long; ``rateLimitExceeded`` means too fast. The page token is saved after each
page's lines are queued, so a poller that reconnects — or another chat worker that takes the
source over — continues where the last one stopped and misses nothing the API still offers.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from pipelines.chat_connector import Backoff, ConnectorEvents, PermanentFailure
from pipelines.logging_setup import get_logger
from schemas.chat import ChatKind, ChatMessage, ChatPlatform, SourceState

log = get_logger(__name__)

PERMANENT_REASONS = {"liveChatEnded", "liveChatNotFound", "liveChatDisabled", "forbidden", "authError"}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
MAX_RESULTS = 2000  # the most one page may hold (200..2000)


class MalformedItem(ValueError):
    pass


def chat_message(item: dict[str, Any], source_id: str) -> ChatMessage | None:
    """One ``liveChatMessage`` resource as a ChatMessage; None for events that are not lines
    (deletions, bans, polls, mode changes). Raises MalformedItem when a line lacks its parts."""
    try:
        snippet, author = item["snippet"], item["authorDetails"]
        kind_name = snippet["type"]
        message_id, channel_id = str(item["id"]), str(author["channelId"])
        name = str(author.get("displayName") or channel_id)
    except (KeyError, TypeError) as exc:
        raise MalformedItem(f"liveChatMessage without {exc}") from exc
    text = str(snippet.get("displayMessage") or "")
    kind, amount, currency = ChatKind.message, 0, None
    if kind_name == "textMessageEvent":
        text = str((snippet.get("textMessageDetails") or {}).get("messageText") or text)
    elif kind_name in ("superChatEvent", "superStickerEvent"):
        details = snippet.get("superChatDetails") or snippet.get("superStickerDetails") or {}
        try:
            amount = int(details["amountMicros"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedItem(f"{kind_name} without a valid amountMicros") from exc
        kind, currency = ChatKind.super_chat, details.get("currency")
        text = str(
            details.get("userComment") or (details.get("superStickerMetadata") or {}).get("altText") or ""
        )
    elif kind_name in ("newSponsorEvent", "memberMilestoneChatEvent"):
        kind = ChatKind.subscription
        comment = (snippet.get("memberMilestoneChatDetails") or {}).get("userComment")
        text = str(comment or text)
    elif kind_name == "membershipGiftingEvent":
        kind = ChatKind.gift
    else:
        return None
    published = snippet.get("publishedAt")
    try:
        return ChatMessage(
            platform=ChatPlatform.youtube,
            source_id=source_id,
            message_id=message_id,
            viewer_id=f"youtube:{channel_id}",
            viewer_name=name[:64],
            text=text,
            kind=kind,
            amount_micros=amount,
            currency=currency,
            member=bool(author.get("isChatSponsor")) or kind in (ChatKind.subscription, ChatKind.gift),
            moderator=bool(author.get("isChatModerator") or author.get("isChatOwner")),
            sent_at=datetime.fromisoformat(published) if isinstance(published, str) else None,
        )
    except (ValidationError, ValueError) as exc:
        raise MalformedItem(str(exc)[:200]) from exc


def error_reason(response: httpx.Response) -> str:
    """The API's ``error.errors[0].reason`` (``quotaExceeded``, ``liveChatEnded``, ...)."""
    try:
        errors = response.json()["error"]["errors"]
        return str(errors[0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return f"http_{response.status_code}"


class YouTubeConnector:
    def __init__(
        self,
        *,
        source_id: str,
        live_chat_id: str,
        api_url: str,
        client: httpx.AsyncClient,
        backoff: Backoff,
        api_key: str | None = None,
        oauth_token: str | None = None,
        page_token: str | None = None,
        save_page_token: Callable[[str], Awaitable[None]] | None = None,
        min_poll_s: float = 1.0,
        quota_wait_s: float = 900.0,
    ) -> None:
        self.source_id = source_id
        self.live_chat_id = live_chat_id
        self.url = api_url.rstrip("/") + "/liveChat/messages"
        self.client = client
        self.backoff = backoff
        self.api_key, self.oauth_token = api_key, oauth_token
        self.page_token = page_token
        self.save_page_token = save_page_token
        self.min_poll_s = min_poll_s
        self.quota_wait_s = quota_wait_s
        self.connected = False

    def request_parts(self) -> tuple[dict[str, str | int], dict[str, str]]:
        params: dict[str, str | int] = {
            "liveChatId": self.live_chat_id,
            "part": "snippet,authorDetails",
            "maxResults": MAX_RESULTS,
        }
        if self.page_token:
            params["pageToken"] = self.page_token
        if self.api_key:
            params["key"] = self.api_key
        headers = {"Authorization": f"Bearer {self.oauth_token}"} if self.oauth_token else {}
        return params, headers

    async def run(self, events: ConnectorEvents) -> None:
        """Poll until cancelled; PermanentFailure when the chat is gone or access is refused."""
        await events.state(SourceState.connecting)
        while True:
            params, headers = self.request_parts()
            try:
                response = await self.client.get(self.url, params=params, headers=headers)
            except httpx.TransportError as exc:
                await self._wait_after(events, f"request failed: {exc!r}")
                continue
            if response.status_code == 200:
                interval_s = await self._page(response, events)
                await asyncio.sleep(max(self.min_poll_s, interval_s))
                continue
            reason = error_reason(response)
            if reason in PERMANENT_REASONS or response.status_code in (401, 404):
                raise PermanentFailure(f"youtube refused the chat: {reason}")
            at_least = self.quota_wait_s if reason in QUOTA_REASONS else 0.0
            await self._wait_after(events, f"youtube answered {response.status_code} {reason}", at_least)

    async def _page(self, response: httpx.Response, events: ConnectorEvents) -> float:
        """Queue one page's lines, then move the page token past them; the wait it asks for."""
        try:
            body = response.json()
            items = body.get("items") or []
            interval_s = float(body.get("pollingIntervalMillis") or 0) / 1000
            if not isinstance(items, list):
                raise TypeError("items is not a list")
        except (ValueError, TypeError, AttributeError) as exc:
            await events.malformed(f"unreadable page: {exc!r}"[:200])
            await self._wait_after(events, "youtube sent an unreadable page")
            return 0.0
        batch: list[ChatMessage] = []
        for item in items:
            try:
                message = chat_message(item, self.source_id)
            except MalformedItem as exc:
                log.warning("malformed youtube item skipped", source_id=self.source_id, reason=str(exc))
                await events.malformed(str(exc))
                continue
            if message is not None:
                batch.append(message)
        if batch:
            await events.messages(batch)  # queued before the token moves: at least once
        next_token = body.get("nextPageToken")
        if isinstance(next_token, str) and next_token and next_token != self.page_token:
            self.page_token = next_token
            if self.save_page_token is not None:
                await self.save_page_token(next_token)
        if not self.connected:
            self.connected = True
            await events.state(SourceState.connected)
        self.backoff.reset()
        return interval_s

    async def _wait_after(self, events: ConnectorEvents, error: str, at_least_s: float = 0.0) -> None:
        log.warning("youtube chat unavailable", source_id=self.source_id, error=error)
        self.connected = False
        await events.state(SourceState.backoff, error)
        await asyncio.sleep(self.backoff.next_delay(at_least_s))
