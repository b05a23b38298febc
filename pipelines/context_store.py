"""The session's short-term memory in Redis: its last turns, capped in count and kept with a TTL."""

import redis

from schemas.session import ConversationTurn

# KEYS: guard, turns list; ARGV: turn JSON, max turns, TTL seconds.
APPEND_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""


def turns_key(session_id: str) -> str:
    return f"session:{session_id}:turns"


def guard_key(session_id: str, job_id: str) -> str:
    """Set once a job's turn was appended (the key erasure removes with the turn)."""
    return f"session:{session_id}:turn:{job_id}"


class ContextStore:
    def __init__(self, client: redis.Redis, *, max_turns: int, ttl_s: int) -> None:
        self.client = client
        self.max_turns = max_turns
        self.ttl_s = ttl_s
        self._append_once = client.register_script(APPEND_ONCE)

    @staticmethod
    def _key(session_id: str) -> str:
        return turns_key(session_id)

    def recent(self, session_id: str) -> list[ConversationTurn]:
        """The kept turns, oldest first."""
        raw = self.client.lrange(self._key(session_id), 0, -1)
        return [ConversationTurn.model_validate_json(item) for item in raw]

    def append(self, session_id: str, turn: ConversationTurn) -> bool:
        """Add a finished turn once: a guard key, set in the same atomic script as the push, makes
        a repeated call for the same job a no-op (and a crash cannot set one without the other)."""
        guard = guard_key(session_id, turn.job_id)
        added = self._append_once(
            keys=[guard, self._key(session_id)], args=[turn.model_dump_json(), self.max_turns, self.ttl_s]
        )
        return bool(added)

    def clear(self, session_id: str) -> None:
        self.client.delete(self._key(session_id))
