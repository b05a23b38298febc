"""A fake of the YouTube Data API's ``liveChatMessages.list`` — googleapis.com cannot be reached from here.

``GET /youtube/v3/liveChat/messages?liveChatId=&part=snippet,authorDetails[&pageToken=][&maxResults=]``
answers a ``youtube#liveChatMessageListResponse``: ``items`` oldest first after the page token (all
history without one), ``nextPageToken`` to continue from, ``pollingIntervalMillis``, ``pageInfo``.
Items are ``youtube#liveChatMessage`` resources (``textMessageEvent``, ``superChatEvent``,
``newSponsorEvent``, ...) with ``authorDetails``. Errors have Google's shape
(``{"error": {"code", "message", "errors": [{"reason", "domain"}]}}``): queue them with
``fail_next`` (``quotaExceeded``, ``rateLimitExceeded``, ``liveChatEnded``, 5xx). The page size can
be set below ``maxResults`` to make a burst span pages.
"""

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server_thread import ServerThread


class FakeYouTubeLiveChat:
    def __init__(self, *, polling_interval_ms: int = 50, page_size: int = 2000) -> None:
        self.polling_interval_ms = polling_interval_ms
        self.page_size = page_size
        self.chats: dict[str, list[dict[str, Any]]] = {}
        self.failures: list[tuple[int, str]] = []
        self.requests: list[dict[str, str]] = []  # each request's query parameters
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.server = ServerThread(Starlette(routes=[Route("/youtube/v3/liveChat/messages", self.list)]))

    @property
    def api_url(self) -> str:
        return f"{self.server.url}/youtube/v3"

    def __enter__(self) -> "FakeYouTubeLiveChat":
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()

    # --- what a test makes happen ---------------------------------------------------------------------
    def fail_next(self, status: int, reason: str, times: int = 1) -> None:
        with self.lock:
            self.failures.extend([(status, reason)] * times)

    def add_item(self, chat_id: str, item: dict[str, Any]) -> str:
        with self.lock:
            self.chats.setdefault(chat_id, []).append(item)
        return str(item.get("id"))

    def item(
        self,
        chat_id: str,
        kind: str,
        *,
        channel_id: str,
        name: str,
        snippet: dict[str, Any],
        member: bool = False,
    ) -> dict[str, Any]:
        return {
            "kind": "youtube#liveChatMessage",
            "etag": f"etag-{next(self.ids)}",
            "id": f"LCC.{next(self.ids):08d}",
            "snippet": {
                "type": kind,
                "liveChatId": chat_id,
                "authorChannelId": channel_id,
                "publishedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "hasDisplayContent": True,
                **snippet,
            },
            "authorDetails": {
                "channelId": channel_id,
                "channelUrl": f"http://www.youtube.com/channel/{channel_id}",
                "displayName": name,
                "profileImageUrl": "https://yt3.ggpht.com/a.jpg",
                "isVerified": False,
                "isChatOwner": False,
                "isChatSponsor": member,
                "isChatModerator": False,
            },
        }

    def say(self, chat_id: str, *, channel_id: str, name: str, text: str, member: bool = False) -> str:
        snippet = {"displayMessage": text, "textMessageDetails": {"messageText": text}}
        item = self.item(
            chat_id, "textMessageEvent", channel_id=channel_id, name=name, snippet=snippet, member=member
        )
        return self.add_item(chat_id, item)

    def super_chat(
        self,
        chat_id: str,
        *,
        channel_id: str,
        name: str,
        text: str,
        amount_micros: int,
        currency: str = "USD",
    ) -> str:
        shown = f"${amount_micros / 1_000_000:.2f}"
        snippet = {
            "displayMessage": f'{shown} from {name}: "{text}"',
            "superChatDetails": {
                "amountMicros": str(amount_micros),
                "currency": currency,
                "amountDisplayString": shown,
                "userComment": text,
                "tier": 2,
            },
        }
        return self.add_item(
            chat_id, self.item(chat_id, "superChatEvent", channel_id=channel_id, name=name, snippet=snippet)
        )

    def new_member(self, chat_id: str, *, channel_id: str, name: str) -> str:
        snippet = {"displayMessage": f"Welcome {name}!", "newSponsorDetails": {"memberLevelName": "Member"}}
        return self.add_item(
            chat_id, self.item(chat_id, "newSponsorEvent", channel_id=channel_id, name=name, snippet=snippet)
        )

    # --- the endpoint ---------------------------------------------------------------------------------
    async def list(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        with self.lock:
            self.requests.append(params)
            failure = self.failures.pop(0) if self.failures else None
            chat = list(self.chats.get(params.get("liveChatId", ""), []))
        if failure is not None:
            status, reason = failure
            return self.error(status, reason)
        if "liveChatId" not in params or "snippet" not in params.get("part", ""):
            return self.error(400, "required" if "liveChatId" not in params else "invalidPart")
        if params["liveChatId"] not in self.chats:
            return self.error(404, "liveChatNotFound")
        token = params.get("pageToken", "")
        if token and not (token.startswith("p") and token[1:].isdigit()):
            return self.error(400, "pageTokenInvalid")
        start = int(token[1:]) if token else 0
        size = min(self.page_size, int(params.get("maxResults", "500")))
        items = chat[start : start + size]
        return JSONResponse(
            {
                "kind": "youtube#liveChatMessageListResponse",
                "etag": f"etag-page-{start}",
                "nextPageToken": f"p{start + len(items)}",
                "pollingIntervalMillis": self.polling_interval_ms,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
        )

    @staticmethod
    def error(status: int, reason: str) -> JSONResponse:
        domain = "youtube.quota" if reason == "quotaExceeded" else "youtube.liveChat"
        message = f"The request cannot be completed: {reason}."
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }
        return JSONResponse(body, status_code=status)
