"""Signed webhooks: what a callback says and how the receiver checks it came from us.

Signature header: ``X-VTuber-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``, the
scheme payment providers use; receivers should reject old timestamps to stop replays.

Every event has a stable id (``X-VTuber-Event-Id`` and ``id`` in the body): a delivery may be
repeated after a crash (at-least-once), and a receiver that remembers ids sees each event once.
``X-VTuber-Delivery-Attempt`` counts the tries (1-based); a repeat after a crash may share it.

In production webhooks are always signed: the notify worker refuses to send without a secret.
"""

import hashlib
import hmac
import json
import time
from typing import Any

SIGNATURE_HEADER = "X-VTuber-Signature"
EVENT_ID_HEADER = "X-VTuber-Event-Id"
ATTEMPT_HEADER = "X-VTuber-Delivery-Attempt"


class UnsignedWebhooksRefused(RuntimeError):
    """Production without ``VTUBER_WEBHOOK_SECRET``: receivers could not tell our calls from forgeries."""


def require_signing(env: str, secret: str) -> None:
    if env == "production" and not secret:
        raise UnsignedWebhooksRefused(
            "VTUBER_WEBHOOK_SECRET is empty: in production (VTUBER_ENV=production) webhooks are always "
            "signed; set the secret and restart the notify worker"
        )


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(body: bytes, header: str, secret: str, *, tolerance_s: int = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(body, secret, stamp), header)


def event_id(event: str, object_id: str) -> str:
    """The same for every delivery of one event: a job or batch ends once."""
    return f"{event}:{object_id}"


def encode_event(event: str, data: dict[str, Any], *, event_id: str) -> bytes:
    body = {"id": event_id, "event": event, "data": data}
    return json.dumps(body, default=str, sort_keys=True).encode()
