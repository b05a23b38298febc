"""Sending one webhook: only to addresses just vetted, and redirects only to vetted places too.

The host is resolved once and checked (pipelines/callbacks.py); the request then goes to that IP,
with the original ``Host`` header and TLS server name, so a second DNS answer (rebinding) cannot
point it elsewhere. Redirects are not followed blindly: a target that passes the same check gets
the same POST (a webhook is a POST; its body and signature travel unchanged), at most
``MAX_REDIRECTS`` times. Proxies from the environment are ignored: they would connect elsewhere.

Every attempt is recorded on the job or batch (``webhook_attempts``, the last ``MAX_RECORDED``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from pymongo.collection import Collection

from pipelines.callbacks import CallbackRefused, Destination, IPNetwork, vet_callback
from pipelines.jobs import utcnow

MAX_REDIRECTS = 3
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
MAX_RECORDED = 20


@dataclass(frozen=True)
class Answer:
    status_code: int
    url: str
    redirects: int


def send_webhook(
    raw_url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allowed: Iterable[IPNetwork] = (),
    timeout_s: float = 10.0,
    max_redirects: int = MAX_REDIRECTS,
) -> Answer:
    """POST ``body`` to ``raw_url``. Raises CallbackRefused (the URL, or a redirect's target, is not
    allowed, or there were too many redirects) or httpx.HTTPError (the receiver is unreachable)."""
    allowed = tuple(allowed)
    current = raw_url
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout_s) as client:
        for hop in range(max_redirects + 1):
            destination = vet_callback(current, allowed)
            status, location = post_pinned(client, destination, body, headers)
            if status not in REDIRECT_CODES or not location:
                return Answer(status_code=status, url=str(destination.url), redirects=hop)
            current = str(destination.url.join(location))
    raise CallbackRefused(f"more than {max_redirects} redirects; the last went to {current}")


def post_pinned(
    client: httpx.Client, destination: Destination, body: bytes, headers: dict[str, str]
) -> tuple[int, str | None]:
    """POST to the vetted addresses in turn until one accepts the connection: status, Location."""
    url = destination.url
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    failure: httpx.ConnectError | None = None
    for address in destination.addresses:
        request = client.build_request(
            "POST",
            url.copy_with(host=str(address)),
            content=body,
            headers={**headers, "Host": url.netloc.decode("ascii")},
            extensions=extensions,
        )
        try:
            response = client.send(request, stream=True)  # the receiver's body is not needed
        except httpx.ConnectError as exc:
            failure = exc
            continue
        response.close()
        return response.status_code, response.headers.get("location")
    assert failure is not None  # a Destination has at least one address
    raise failure


def record_attempt(
    collection: Collection, object_id: str, attempt: int, *, status_code: int | None, error: str | None
) -> None:
    entry: dict[str, Any] = {"attempt": attempt, "at": utcnow(), "status_code": status_code, "error": error}
    collection.update_one(
        {"_id": object_id}, {"$push": {"webhook_attempts": {"$each": [entry], "$slice": -MAX_RECORDED}}}
    )


def record_outcome(
    collection: Collection,
    object_id: str,
    event_id: str,
    *,
    status_code: int | None,
    error: str | None = None,
) -> None:
    """The delivery is over (answered, refused or given up): nothing more is sent for this event."""
    outcome: dict[str, Any] = {"event_id": event_id, "status_code": status_code, "at": utcnow()}
    if error is not None:
        outcome["error"] = error
    collection.update_one({"_id": object_id}, {"$set": {"webhook": outcome}})
