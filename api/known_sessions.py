"""Sessions the API has already read: a session never changes after it is created (its persona is
fixed), so a submit needs MongoDB only for a session this process has not seen yet."""

from collections import OrderedDict
from typing import Any

from pipelines.storage import Storage


class KnownSessions:
    def __init__(self, max_sessions: int = 10_000) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, storage: Storage, session_id: str) -> dict[str, Any] | None:
        """The session document, or None when there is no such session (misses are not kept)."""
        session = self._sessions.get(session_id)
        if session is None:
            session = storage.sessions.find_one({"_id": session_id})
            if session is None:
                return None
            self._sessions[session_id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session

    def forget(self, session_id: str) -> None:
        """The session was deleted: the next lookup asks MongoDB (and finds nothing)."""
        self._sessions.pop(session_id, None)
