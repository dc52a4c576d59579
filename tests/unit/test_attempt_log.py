"""Each attempt is logged once, as one structured line without secrets."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from structlog.testing import capture_logs

from hookline.deliveries import Attempt, Claimed, Result
from hookline.dispatcher import Attempter, observe
from hookline.retry import RetryPolicy
from hookline.sender import Sender
from hookline.settings import load_settings
from hookline.vault import Vault

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _claimed(**fields: Any) -> Claimed:
    values: dict[str, Any] = {
        "delivery_id": "d1",
        "tenant_id": "t1",
        "webhook_id": "w1",
        "event_id": "e1",
        "triggered_at": AT,
        "body": b"{}",
        "attempt_count": 0,
        "webhook_enabled": True,
        "url": "https://hooks.example.com/in",
        "headers": {},
        "sealed_secret": "sealed",
        "sealed_encrypted_headers": None,
        "encrypted_header_names": (),
    }
    return Claimed(**{**values, **fields})


def test_an_attempt_is_one_info_line_with_its_ids_and_outcome() -> None:
    claimed = _claimed(
        url="https://hooks.example.com/in?token=hush", headers={"Authorization": "Bearer hush"}
    )
    result = Result(
        delivery_id="d1",
        tenant_id="t1",
        webhook_id="w1",
        attempt=Attempt(1, AT, 12.34, 500, None),
        status="fail",
        status_message="HTTP 500; will retry",
        next_attempt_at=AT,
        request_url=claimed.url,
        request_headers={},
        response_status=500,
        response_headers={},
        response_body="",
    )
    with capture_logs() as logs:
        observe(claimed, result)
    assert logs == [
        {
            "event": "attempt",
            "log_level": "info",
            "tenant": "t1",
            "webhook": "w1",
            "delivery": "d1",
            "event_id": "e1",
            "attempt": 1,
            "outcome": "retry",
            "status_code": 500,
            "error": None,
            "duration_ms": 12.3,
        }
    ]
    assert "hush" not in repr(logs)


def test_a_secret_the_key_cannot_open_fails_the_attempt_without_sending() -> None:
    sealed = Vault(["the-old-key-" + "x" * 32]).seal("0123456789abcdef0123456789abcdef")
    attempter = Attempter(
        Sender(load_settings()),
        Vault(["the-new-key-" + "y" * 32]),
        RetryPolicy((0, 5)),
        random.Random(1),
    )
    claimed = _claimed(sealed_secret=sealed)
    result = asyncio.run(attempter.attempt(claimed))
    assert result.status == "fail"
    assert result.next_attempt_at is not None  # retried on the schedule, then given up
    assert result.attempt.error is not None
    assert "cannot be decrypted" in result.attempt.error
