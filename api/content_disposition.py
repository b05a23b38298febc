"""``Content-Disposition: attachment`` for any file name, non-ASCII and hostile ones included.

Header values must be latin-1 (and should be ASCII), so the name goes twice (RFC 6266): an ASCII
fallback for old clients, with anything else replaced, and the exact name as RFC 5987
``filename*=UTF-8''...``, percent-encoded, which every current browser and HTTP library prefers.
"""

import re
import unicodedata
from urllib.parse import quote

UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')


def ascii_fallback(filename: str, default: str = "download") -> str:
    """Each character folded to ASCII (é → e) or replaced with ``_``; quotes, backslashes, control
    characters and path separators too: a name, never a path."""
    folded = "".join(
        unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii") or "_"
        for char in filename
    )
    return UNSAFE_IN_QUOTES.sub("_", folded).replace("/", "_").strip() or default


def attachment(filename: str) -> str:
    """The header value offering ``filename`` for download."""
    exact = quote(filename, safe="", errors="replace")  # a lone surrogate becomes "?", not a 500
    return f"attachment; filename=\"{ascii_fallback(filename)}\"; filename*=UTF-8''{exact}"
