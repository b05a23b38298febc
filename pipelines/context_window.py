"""Fit a conversation into a token budget: drop the oldest whole turns, then shorten the user text.

Kept apart from prompt wording so the arithmetic can be tested on its own. Token counts come from
the chat model (``ChatModel.count_tokens``), so the budget means the same thing as the model's window.
"""

from collections.abc import Callable, Sequence

from pipelines.backends import ChatMessage

# Chat templates wrap each message in role markers (ChatML: "<|im_start|>user\n ... <|im_end|>\n").
MESSAGE_OVERHEAD_TOKENS = 4
TRUNCATION_MARKER = " […] "
# Even when the fixed prefix alone is over budget, the user is still heard this much.
MIN_USER_TOKENS = 16

TokenCounter = Callable[[str], int]


def message_tokens(message: ChatMessage, count_tokens: TokenCounter) -> int:
    return count_tokens(message.content) + MESSAGE_OVERHEAD_TOKENS


def truncate_middle(text: str, max_tokens: int, count_tokens: TokenCounter) -> str:
    """Shorten ``text`` to ``max_tokens``, keeping its start (2/3) and end (1/3) around a marker.

    The start usually holds the question and the end the latest words, so the middle goes first.
    """
    if count_tokens(text) <= max_tokens:
        return text

    def shortened(kept_chars: int) -> str:
        head = kept_chars * 2 // 3
        tail = kept_chars - head
        return text[:head].rstrip() + TRUNCATION_MARKER + (text[len(text) - tail :].lstrip() if tail else "")

    low, high = 0, len(text) - 1  # binary search for the most characters that still fit
    while low < high:
        mid = (low + high + 1) // 2
        if count_tokens(shortened(mid)) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return shortened(low).strip()


def fit_to_budget(
    prefix: Sequence[ChatMessage],
    turns: Sequence[Sequence[ChatMessage]],
    user: ChatMessage,
    *,
    count_tokens: TokenCounter,
    token_budget: int,
) -> list[ChatMessage]:
    """The fixed prefix (system prompt, examples), as many of the newest whole turns as fit, the user.

    ``turns`` are (user, assistant) pairs, oldest first (or a lone assistant message: a line the
    avatar said verbatim, with no question). A turn is kept whole or not at all, and
    only a contiguous run of the newest turns is kept, so the model never sees a gap. If the user
    message alone does not fit next to the prefix it is shortened in the middle.
    """
    prefix_cost = sum(message_tokens(m, count_tokens) for m in prefix)
    room_for_user = max(token_budget - prefix_cost - MESSAGE_OVERHEAD_TOKENS, MIN_USER_TOKENS)
    user = ChatMessage(role=user.role, content=truncate_middle(user.content, room_for_user, count_tokens))
    remaining = token_budget - prefix_cost - message_tokens(user, count_tokens)

    kept: list[ChatMessage] = []
    for turn in reversed(turns):
        cost = sum(message_tokens(message, count_tokens) for message in turn)
        if cost > remaining:
            break
        kept[:0] = turn
        remaining -= cost
    return [*prefix, *kept, user]
