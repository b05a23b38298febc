"""The session's short-term memory in Redis: its last turns, capped in count and kept with a TTL."""

import redis

from schemas.session import ConversationTurn


class ContextStore:
    def __init__(self, client: redis.Redis, *, max_turns: int, ttl_s: int) -> None:
        self.client = client
        self.max_turns = max_turns
        self.ttl_s = ttl_s

    @staticmethod
    def _key(session_id: str) -> str:
        return f"session:{session_id}:turns"

    def recent(self, session_id: str) -> list[ConversationTurn]:
        """The kept turns, oldest first."""
        raw = self.client.lrange(self._key(session_id), 0, -1)
        return [ConversationTurn.model_validate_json(item) for item in raw]

    def append(self, session_id: str, turn: ConversationTurn) -> bool:
        """Add a finished turn once: a guard key makes a repeated call for the same job a no-op."""
        guard = f"session:{session_id}:turn:{turn.job_id}"
        if not self.client.set(guard, b"1", nx=True, ex=self.ttl_s):
            return False
        key = self._key(session_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, turn.model_dump_json())
            pipe.ltrim(key, -self.max_turns, -1)
            pipe.expire(key, self.ttl_s)
            pipe.execute()
        return True

    def clear(self, session_id: str) -> None:
        self.client.delete(self._key(session_id))
