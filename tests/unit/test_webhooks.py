"""Webhook signatures: receivers can verify them; tampering and replays fail."""

import json
import time

import pytest

from pipelines.webhooks import encode_event, event_id, sign, verify


def test_signature_round_trip_and_tampering() -> None:
    body = encode_event("job.completed", {"job_id": "abc"}, event_id=event_id("job.completed", "abc"))
    assert json.loads(body)["id"] == "job.completed:abc"
    header = sign(body, "s3cret")
    assert verify(body, header, "s3cret")
    assert not verify(body + b" ", header, "s3cret")
    assert not verify(body, header, "other")
    assert not verify(body, "garbage", "s3cret")


def test_old_signatures_are_rejected() -> None:
    body = b"{}"
    assert not verify(body, sign(body, "k", int(time.time()) - 3600), "k")


def test_production_refuses_to_send_unsigned() -> None:
    from pipelines.webhooks import UnsignedWebhooksRefused, require_signing

    require_signing("development", "")  # a laptop may send unsigned callbacks
    require_signing("production", "s3cret")
    with pytest.raises(UnsignedWebhooksRefused, match="VTUBER_WEBHOOK_SECRET"):
        require_signing("production", "")
