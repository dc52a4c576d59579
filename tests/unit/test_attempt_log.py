"""Attempts are logged without secrets: each failed one as one structured line with all
its fields; successful ones summed up per webhook every few seconds (or each, with
``HOOKLINE_ATTEMPT_LOG=all``)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hookline import telemetry
from hookline.deliveries import Attempt, Claimed, Disable, Result
from hookline.dispatcher import Attempter
from hookline.retry import RetryPolicy
from hookline.sender import Sender
from hookline.settings import AttemptLogMode, load_settings
from hookline.telemetry import SUMMARY_SECONDS, AttemptObserver, SuccessSummaries, observe
from hookline.vault import Vault
from tests.logcapture import capture_own_logs

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


def _result(
    claimed: Claimed,
    status_code: int | None,
    *,
    duration_ms: float = 12.34,
    number: int = 1,
    retry: bool = False,
    disable: bool = False,
) -> Result:
    success = status_code is not None and 200 <= status_code < 300
    return Result(
        delivery_id=claimed.delivery_id,
        tenant_id=claimed.tenant_id,
        webhook_id=claimed.webhook_id,
        triggered_at=claimed.triggered_at,
        attempt=Attempt(number, AT, duration_ms, status_code, None if status_code else "refused"),
        status="success" if success else "fail",
        status_message="",
        next_attempt_at=AT if retry else None,
        request_url=claimed.url,
        request_headers={},
        response_status=status_code,
        response_headers={},
        response_body="",
        disable=Disable(claimed.webhook_id, "gone", "HTTP 410") if disable else None,
    )


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture(autouse=True)
def nothing_pending() -> Iterator[None]:
    """The process's observer holds no successes of other tests (servers run in threads of
    the test process), whose summary a test could capture; nor leaves any."""
    telemetry.flush()
    yield
    telemetry.flush()


def _observer(mode: AttemptLogMode = "failures") -> tuple[AttemptObserver, Clock]:
    clock = Clock()
    return AttemptObserver(mode, SuccessSummaries(clock=clock)), clock


def _line(claimed: Claimed, number: int, outcome: str, status_code: int | None) -> dict[str, Any]:
    return {
        "event": "attempt",
        "log_level": "info",
        "tenant": claimed.tenant_id,
        "webhook": claimed.webhook_id,
        "delivery": claimed.delivery_id,
        "event_id": claimed.event_id,
        "attempt": number,
        "outcome": outcome,
        "status_code": status_code,
        "error": None if status_code else "refused",
        "duration_ms": 12.3,
    }


def test_an_attempt_is_one_info_line_with_its_ids_and_outcome() -> None:
    claimed = _claimed(
        url="https://hooks.example.com/in?token=hush", headers={"Authorization": "Bearer hush"}
    )
    result = Result(
        delivery_id="d1",
        tenant_id="t1",
        webhook_id="w1",
        triggered_at=AT,
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
    with capture_own_logs() as logs:
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


def test_every_failed_attempt_is_one_line_with_all_its_fields() -> None:
    observer, _ = _observer("failures")
    claimed = _claimed()
    with capture_own_logs() as logs:
        observer.observe(claimed, _result(claimed, 500, retry=True))
        observer.observe(claimed, _result(claimed, None, number=2, retry=True))
        observer.observe(claimed, _result(claimed, 503, number=3))
        observer.observe(claimed, _result(claimed, 410, number=4, disable=True))
    assert logs == [
        _line(claimed, 1, "retry", 500),
        _line(claimed, 2, "retry", None),
        _line(claimed, 3, "failed", 503),
        _line(claimed, 4, "gone", 410),
    ]


def test_successes_are_summed_up_per_webhook_once_the_window_is_over() -> None:
    observer, clock = _observer("failures")
    first, second = _claimed(webhook_id="w1"), _claimed(webhook_id="w2", tenant_id="t2")
    with capture_own_logs() as logs:
        for duration in (10.0, 30.0, 20.0, 96.04):
            observer.observe(first, _result(first, 200, duration_ms=duration))
            clock.seconds += 1
        observer.observe(second, _result(second, 204, duration_ms=5.0))
        assert logs == []  # the window is still open
        clock.seconds += SUMMARY_SECONDS
        observer.observe(first, _result(first, 500, retry=True))  # any attempt closes it
    assert logs == [
        {
            "event": "attempts",
            "log_level": "info",
            "tenant": "t1",
            "webhook": "w1",
            "outcome": "success",
            "count": 4,
            "duration_ms_p50": 25.0,
            "duration_ms_mean": 39.0,
            "duration_ms_max": 96.0,
            "seconds": 14.0,
        },
        {
            "event": "attempts",
            "log_level": "info",
            "tenant": "t2",
            "webhook": "w2",
            "outcome": "success",
            "count": 1,
            "duration_ms_p50": 5.0,
            "duration_ms_mean": 5.0,
            "duration_ms_max": 5.0,
            "seconds": 14.0,
        },
        _line(first, 1, "retry", 500),
    ]


def test_a_success_after_the_window_writes_its_summary_and_opens_the_next() -> None:
    observer, clock = _observer("failures")
    claimed = _claimed()
    with capture_own_logs() as logs:
        observer.observe(claimed, _result(claimed, 200))
        clock.seconds += SUMMARY_SECONDS
        observer.observe(claimed, _result(claimed, 200))
        observer.observe(claimed, _result(claimed, 200))
        assert [(line["event"], line["count"]) for line in logs] == [("attempts", 1)]
        observer.flush()
    assert [(line["event"], line["count"]) for line in logs] == [
        ("attempts", 1),
        ("attempts", 2),
    ]


def test_flush_writes_the_pending_summary_once() -> None:
    observer, clock = _observer("failures")
    claimed = _claimed()
    with capture_own_logs() as logs:
        observer.observe(claimed, _result(claimed, 200))
        observer.observe(claimed, _result(claimed, 200))
        clock.seconds += 2.5
        observer.flush()
        observer.flush()
    assert [(line["event"], line["count"], line["seconds"]) for line in logs] == [
        ("attempts", 2, 2.5)
    ]


def test_many_successes_keep_a_bounded_sample_for_the_median() -> None:
    summaries = SuccessSummaries(clock=Clock())
    with capture_own_logs() as logs:
        for number in range(telemetry.SAMPLE_SIZE * 3):
            summaries.add("t1", "w1", float(number % 100))
        summaries.flush()
    [summary] = logs
    assert summary["count"] == telemetry.SAMPLE_SIZE * 3
    assert summary["duration_ms_max"] == 99.0
    assert summary["duration_ms_mean"] == 49.5
    assert 30 <= summary["duration_ms_p50"] <= 70


def test_all_logs_every_attempt() -> None:
    observer, clock = _observer("all")
    claimed = _claimed()
    with capture_own_logs() as logs:
        observer.observe(claimed, _result(claimed, 500, retry=True))
        observer.observe(claimed, _result(claimed, 200, number=2))
        clock.seconds += SUMMARY_SECONDS
        observer.flush()
    assert logs == [_line(claimed, 1, "retry", 500), _line(claimed, 2, "success", 200)]


def test_none_logs_no_attempt() -> None:
    observer, _ = _observer("none")
    claimed = _claimed()
    with capture_own_logs() as logs:
        observer.observe(claimed, _result(claimed, 500, retry=True))
        observer.observe(claimed, _result(claimed, 200, number=2))
        observer.flush()
    assert logs == []


def test_changing_the_mode_writes_the_successes_summed_so_far() -> None:
    observer, _ = _observer("failures")
    claimed = _claimed()
    with capture_own_logs() as logs:
        observer.observe(claimed, _result(claimed, 200))
        observer.configure("all")
        observer.observe(claimed, _result(claimed, 200, number=2))
    assert [line["event"] for line in logs] == ["attempts", "attempt"]


def test_a_process_that_configured_its_logs_writes_the_last_summary_when_it_exits() -> None:
    script = """
import datetime
from hookline import logs
from hookline.telemetry import observe
from tests.unit.test_attempt_log import _claimed, _result
logs.configure("json")
claimed = _claimed(triggered_at=datetime.datetime.now(datetime.UTC))
for _ in range(3):
    observe(claimed, _result(claimed, 200))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    [line] = [json.loads(line) for line in done.stderr.splitlines()]
    assert (line["event"], line["webhook"], line["count"]) == ("attempts", "w1", 3)


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


def test_a_refused_attempt_tells_the_tenant_no_address_and_the_operator_all() -> None:
    async def attempt() -> Result:
        async with Sender(load_settings()) as sender:
            attempter = Attempter(sender, Vault(["k" * 32]), RetryPolicy((0, 5)))
            return await attempter.attempt(
                _claimed(url="https://10.0.0.5:8443/in", sealed_secret=None)
            )

    with capture_own_logs() as logs:
        result = asyncio.run(attempt())

    assert result.attempt.error == "refused by the egress guard"
    assert result.status_message == "refused by the egress guard; will retry"
    assert logs == [
        {
            "event": "delivery attempt failed",
            "log_level": "warning",
            "tenant": "t1",
            "webhook": "w1",
            "delivery": "d1",
            "host": "10.0.0.5",
            "detail": "10.0.0.5 is a private address",
        }
    ]
