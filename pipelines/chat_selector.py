"""Which platform chat line the avatar answers next; every line seen is stored with its fate.

One pass for a session (``ChatSelector.run_pass``, under a per-session Redis lock so concurrent
chat workers never answer twice):

1. **Store** the stream's new lines in ``chat_messages`` (id ``<source>:<platform id>``, so a
   line read twice is stored once). Blocked viewers or words, empty lines and, for unpaid lines,
   the same text within ``chat_duplicate_window_s`` are skipped at once.
2. **Age out** unpaid lines older than ``chat_candidate_max_age_s`` and paid ones older than
   ``chat_paid_max_age_s`` (``stale``).
3. **Answer** at most one line, if ``chat_min_reply_interval_s`` has passed since the last answer
   and fewer than ``chat_max_turns_in_flight`` chat turns are unfinished: paid lines (bits, Super
   Chats, subscriptions) first, oldest first; then members' lines; then the most interesting line
   (heuristic, or the LLM ranker when chat is calm). Viewers answered within
   ``chat_viewer_cooldown_s`` are skipped (``cooldown``); a line the moderation hook flags is
   skipped (``moderated``) and the next one tried. The chosen line becomes a text turn of the
   session with the viewer's id and name; the unpaid lines it was chosen over are ``not_chosen``,
   so the next answer is drawn from lines that arrived after this one (a burst never builds a
   backlog in front of the avatar).

Times are Redis's clock (``TIME`` and stream ids), one clock for every chat worker.
"""

import contextlib
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from pymongo.errors import BulkWriteError

from pipelines.chat_metrics import CHAT_LINES_DECIDED
from pipelines.chat_ranking import Moderator, Ranker, interest, normalised
from pipelines.chat_sources import chat_messages, ensure_chat_indexes
from pipelines.chat_stream import cursor_key, move_cursor, read_new, stream_key
from pipelines.dispatch import Dispatcher
from pipelines.events import EventLog
from pipelines.jobs import ACTIVE
from pipelines.logging_setup import get_logger
from pipelines.personas import get_persona
from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.submission import submit_turn
from schemas.chat import ChatFate, ChatKind, ChatMessage, SkipReason

log = get_logger(__name__)

READ_BATCH = 1000
MAX_READ_PER_PASS = 20_000
CANDIDATES_PER_PASS = 2000
MAX_TEXT = 2000
PAID, MEMBER, OTHER = 0, 1, 2


@dataclass
class PassResult:
    stored: int = 0
    answered: str | None = None  # the chat_messages id answered in this pass
    job_id: str | None = None
    locked_out: bool = False


def as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def tier(doc: dict[str, Any]) -> int:
    if doc.get("paid"):
        return PAID
    return MEMBER if doc.get("member") else OTHER


def utterance_text(message: ChatMessage) -> str:
    """What the persona reads: the line, with what the viewer paid or subscribed said first."""
    text = message.text.strip()
    if message.kind is ChatKind.cheer:
        prefix = f"(cheered {message.bits} bits)"
    elif message.kind is ChatKind.super_chat:
        prefix = f"(Super Chat {message.amount_micros / 1_000_000:.2f} {message.currency or ''})".replace(
            " )", ")"
        )
    elif message.kind is ChatKind.subscription:
        prefix = "(subscribed)"
    elif message.kind is ChatKind.gift:
        prefix = "(gifted subscriptions)"
    else:
        return text[:MAX_TEXT]
    return f"{prefix} {text}".strip()[:MAX_TEXT]


class ChatSelector:
    def __init__(
        self,
        storage: Storage,
        client: redis.Redis,
        events: EventLog,
        dispatcher: Dispatcher,
        settings: Settings,
        *,
        moderator: Moderator | None = None,
        ranker: Ranker | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.storage = storage
        self.redis = client
        self.events = events
        self.dispatcher = dispatcher
        self.settings = settings
        self.moderator = moderator
        self.ranker = ranker
        self.clock = clock or self.redis_time
        self.lines = chat_messages(storage)
        ensure_chat_indexes(storage)

    def redis_time(self) -> float:
        seconds, micros = self.redis.time()
        return float(seconds) + float(micros) / 1_000_000

    def run_pass(self, session_id: str) -> PassResult:
        lock = self.redis.lock(f"chat:select-lock:{session_id}", timeout=60, blocking=False)
        if not lock.acquire(blocking=False):
            return PassResult(locked_out=True)
        try:
            session = self.storage.sessions.find_one({"_id": session_id})
            if session is None:  # erased (or never there): what its chat said is not kept
                self.redis.delete(stream_key(session_id), cursor_key(session_id))
                return PassResult()
            result = PassResult(stored=self.store_new(session))
            now = math.floor(self.clock() * 1000) / 1000  # to the millisecond, as MongoDB keeps it
            self.age_out(session_id, now)
            chosen = self.answer_one(session, now)
            if chosen is not None:
                result.answered, result.job_id = chosen
            return result
        finally:
            lock.release()

    # --- 1. store ----------------------------------------------------------------------------------
    def store_new(self, session: dict[str, Any]) -> int:
        session_id = session["_id"]
        stored = 0
        while stored < MAX_READ_PER_PASS:
            entries = read_new(self.redis, session_id, count=READ_BATCH)
            if not entries:
                break
            readable = []
            for entry in entries:
                if entry.message is None:  # a connector's bug, not the platform's: log, move on
                    log.warning(
                        "unreadable chat entry skipped", session_id=session_id, entry_id=entry.entry_id
                    )
                    continue
                readable.append((entry.message, entry.received_at))
            reasons = self.refusals(session_id, readable)
            self.insert(
                [
                    self.first_judgement(session, message, received_at, reason)
                    for (message, received_at), reason in zip(readable, reasons, strict=True)
                ]
            )
            move_cursor(self.redis, session_id, entries[-1].entry_id)
            stored += len(entries)
        return stored

    def insert(self, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        stored = docs
        try:
            self.lines.insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # lines read again (a re-read page, a pass that died): kept once
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != 11000 for error in errors):
                raise
            again = {error["index"] for error in errors}
            stored = [doc for n, doc in enumerate(docs) if n not in again]
        for doc in stored:
            if doc["fate"] == ChatFate.skipped.value:
                CHAT_LINES_DECIDED.labels(fate=doc["fate"], reason=doc["reason"]).inc()

    def first_judgement(
        self, session: dict[str, Any], message: ChatMessage, received_at: float, reason: SkipReason | None
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": f"{message.source_id}:{message.message_id}",
            "session_id": session["_id"],
            "owner": session.get("owner"),  # whose viewer this is, for erasure
            **message.model_dump(mode="python"),
            "paid": message.paid,
            "received_at": as_datetime(received_at),
            "fate": ChatFate.pending.value,
            "reason": None,
            "decided_at": None,
            "job_id": None,
        }
        if reason is not None:
            doc.update(fate=ChatFate.skipped.value, reason=reason.value, decided_at=as_datetime(received_at))
        return doc

    def refusals(self, session_id: str, lines: list[tuple[ChatMessage, float]]) -> list[SkipReason | None]:
        """Why each line is skipped at once (None: a candidate); duplicates in one round trip.

        A line the platform says was sent longer ago than it may wait (history a YouTube chat
        returns on the first poll, lines caught up after an outage) is stale on arrival.
        """
        blocked_viewers = {v.casefold() for v in self.settings.chat_blocked_viewers}
        blocked_words = {normalised(word) for word in self.settings.chat_blocked_words} - {""}
        reasons: list[SkipReason | None] = []
        dedup = self.redis.pipeline(transaction=False)
        checked: list[int] = []
        window_ms = int(self.settings.chat_duplicate_window_s * 1000)
        for n, (message, received_at) in enumerate(lines):
            text = normalised(message.text)
            who = {message.viewer_id.casefold(), message.viewer_name.casefold()}
            max_age = (
                self.settings.chat_paid_max_age_s if message.paid else self.settings.chat_candidate_max_age_s
            )
            if who & blocked_viewers or blocked_words & set(text.split()):
                reasons.append(SkipReason.blocked)
            elif not text and not message.paid:
                reasons.append(SkipReason.empty)
            elif message.sent_at is not None and received_at - message.sent_at.timestamp() > max_age:
                reasons.append(SkipReason.stale)
            else:
                reasons.append(None)
                if not message.paid and window_ms > 0:  # the first to say it claims the text
                    digest = hashlib.sha1(text.encode()).hexdigest()
                    dedup.set(f"chat:said:{session_id}:{digest}", 1, nx=True, px=window_ms)
                    checked.append(n)
        for n, claimed in zip(checked, dedup.execute() if checked else [], strict=True):
            if not claimed:
                reasons[n] = SkipReason.duplicate
        return reasons

    # --- 2. age out ----------------------------------------------------------------------------------
    def age_out(self, session_id: str, now: float) -> None:
        for paid, max_age in (
            (False, self.settings.chat_candidate_max_age_s),
            (True, self.settings.chat_paid_max_age_s),
        ):
            waited_too_long = {"paid": paid, "received_at": {"$lt": as_datetime(now - max_age)}}
            self.skip(session_id, waited_too_long, SkipReason.stale, now)

    # --- 3. answer -----------------------------------------------------------------------------------
    def may_answer(self, session_id: str, now: float) -> bool:
        last = self.redis.get(f"chat:last-answer:{session_id}")
        if last is not None and now - float(last) < self.settings.chat_min_reply_interval_s:
            return False
        unfinished = self.storage.jobs.count_documents(
            {"session_id": session_id, "chat_message_id": {"$exists": True}, "status": {"$in": ACTIVE}},
            limit=self.settings.chat_max_turns_in_flight,
        )
        return unfinished < self.settings.chat_max_turns_in_flight

    def answer_one(self, session: dict[str, Any], now: float) -> tuple[str, str] | None:
        session_id = session["_id"]
        if not self.may_answer(session_id, now):
            return None
        pending = list(
            self.lines.find({"session_id": session_id, "fate": ChatFate.pending.value})
            .sort("received_at", 1)
            .limit(CANDIDATES_PER_PASS)
        )
        candidates = self.drop_cooling(session_id, pending, now)
        for doc in self.in_order(candidates, session, now):
            if self.moderator is not None and self.moderator.flagged(doc["text"]):
                self.skip(session_id, {"_id": doc["_id"]}, SkipReason.moderated, now)
                continue
            job = self.submit(session, doc)
            self.redis.set(f"chat:last-answer:{session_id}", repr(now), ex=86400)
            if self.settings.chat_viewer_cooldown_s > 0:
                self.redis.set(
                    f"chat:cooldown:{session_id}:{doc['viewer_id']}",
                    1,
                    px=int(self.settings.chat_viewer_cooldown_s * 1000),
                )
            self.lines.update_one(
                {"_id": doc["_id"]},
                {
                    "$set": {
                        "fate": ChatFate.answered.value,
                        "decided_at": as_datetime(now),
                        "job_id": job["_id"],
                    }
                },
            )
            if candidates:  # the unpaid lines it was chosen over, up to the newest one considered
                newest = max(c["received_at"] for c in candidates)
                passed_over = {"paid": False, "received_at": {"$lte": newest}}
                self.skip(session_id, passed_over, SkipReason.not_chosen, now)
            CHAT_LINES_DECIDED.labels(fate=ChatFate.answered.value, reason="").inc()
            log.info("chat line answered", session_id=session_id, job_id=job["_id"], platform=doc["platform"])
            return doc["_id"], job["_id"]
        return None

    def drop_cooling(
        self, session_id: str, pending: list[dict[str, Any]], now: float
    ) -> list[dict[str, Any]]:
        viewers = sorted({doc["viewer_id"] for doc in pending})
        if not viewers:
            return []
        flags = self.redis.mget([f"chat:cooldown:{session_id}:{viewer}" for viewer in viewers])
        cooling = {viewer for viewer, flag in zip(viewers, flags, strict=True) if flag is not None}
        # paid lines wait out the cooldown (they are owed an answer); unpaid ones are dropped
        if cooling:
            self.skip(
                session_id, {"paid": False, "viewer_id": {"$in": sorted(cooling)}}, SkipReason.cooldown, now
            )
        return [doc for doc in pending if doc["viewer_id"] not in cooling]

    def in_order(
        self, candidates: list[dict[str, Any]], session: dict[str, Any], now: float
    ) -> list[dict[str, Any]]:
        """Paid first (oldest first), then members, then the rest, each by interest."""
        names = [session.get("persona") or ""]
        with contextlib.suppress(Exception):  # an unknown persona is still answered, without the bonus
            names.append(get_persona(session["persona"]).name)
        paid = [doc for doc in candidates if tier(doc) == PAID]
        ordered = list(paid)
        for level in (MEMBER, OTHER):
            group = [doc for doc in candidates if tier(doc) == level]
            ranked = sorted(group, key=lambda doc: -interest(doc["text"], names=names))
            if (
                level == OTHER
                and self.ranker is not None
                and 2 <= len(group) <= self.settings.chat_ranker_calm_lines
            ):
                pick = self.ranker.best([doc["text"] for doc in group])
                if pick is not None:
                    ranked.remove(group[pick])
                    ranked.insert(0, group[pick])
            ordered.extend(ranked)
        return ordered

    def skip(self, session_id: str, which: dict[str, Any], reason: SkipReason, now: float) -> None:
        """Skip the session's pending lines that match ``which``, for ``reason``."""
        skipped = self.lines.update_many(
            {"session_id": session_id, "fate": ChatFate.pending.value, **which},
            {
                "$set": {
                    "fate": ChatFate.skipped.value,
                    "reason": reason.value,
                    "decided_at": as_datetime(now),
                }
            },
        )
        if skipped.modified_count:
            CHAT_LINES_DECIDED.labels(fate=ChatFate.skipped.value, reason=reason.value).inc(
                skipped.modified_count
            )

    def submit(self, session: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        message = ChatMessage.model_validate(doc)
        return submit_turn(
            self.storage,
            self.events,
            self.dispatcher,
            session_id=session["_id"],
            owner=session.get("owner"),
            persona=session["persona"],
            persona_version=session["persona_version"],
            kind="text",
            input_text=utterance_text(message) or "(said nothing)",
            callback_url=None,
            extra={
                "viewer_id": message.viewer_id,
                "viewer_name": message.viewer_name,
                "chat_message_id": doc["_id"],
                "chat_source_id": message.source_id,
            },
        )
