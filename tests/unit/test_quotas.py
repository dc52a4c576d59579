"""Publishing quotas as token buckets: pure, the times given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.events import MAX_EVENTS
from hookline.quotas import MAX_REQUEST_BYTES, Bucket, Quota, QuotaExceeded, take

AT = datetime(2026, 1, 1, tzinfo=UTC)
QUOTA = Quota(events_per_second=2000, bytes_per_second=10_000_000, burst_seconds=2)


def _later(seconds: float) -> datetime:
    return AT + timedelta(seconds=seconds)


def test_a_bucket_holds_the_burst_and_at_least_one_whole_request() -> None:
    assert (QUOTA.event_capacity, QUOTA.byte_capacity) == (4000, 20_000_000)
    tiny = Quota(events_per_second=1, bytes_per_second=1, burst_seconds=1)
    assert (tiny.event_capacity, tiny.byte_capacity) == (MAX_EVENTS, MAX_REQUEST_BYTES)
    assert tiny.full(AT) == Bucket(MAX_EVENTS, MAX_REQUEST_BYTES, AT)


def test_a_publish_that_fits_takes_its_events_and_bytes() -> None:
    after, wait = take(QUOTA.full(AT), QUOTA, 100, 5_000, _later(0))
    assert (after, wait) == (Bucket(3900, 19_995_000, AT), 0)


def test_the_bucket_refills_with_time_up_to_its_capacity() -> None:
    spent = Bucket(0, 0, AT)
    assert take(spent, QUOTA, 10, 10, _later(0.5)) == (Bucket(990, 4_999_990, _later(0.5)), 0)
    assert take(spent, QUOTA, 0, 0, _later(3600)) == (Bucket(4000, 20_000_000, _later(3600)), 0)


def test_a_publish_that_does_not_fit_takes_nothing_and_says_how_long_to_wait() -> None:
    low = Bucket(100, 20_000_000, AT)
    after, wait = take(low, QUOTA, 600, 10, _later(0.1))
    assert after == Bucket(300, 20_000_000, _later(0.1))  # refilled, nothing taken
    assert wait == pytest.approx(0.15)  # 300 events missing at 2,000 a second


def test_the_longer_wait_of_events_and_bytes_counts() -> None:
    bucket = Bucket(4000, 0, AT)
    _, wait = take(bucket, QUOTA, 1, 30_000_000, AT)
    assert wait == pytest.approx(3.0)  # 30 MB at 10 MB a second


def test_a_clock_stepping_back_refills_nothing() -> None:
    bucket = Bucket(10, 10, AT)
    assert take(bucket, QUOTA, 0, 0, _later(-60)) == (Bucket(10, 10, _later(-60)), 0)


def test_a_rate_of_zero_never_limits_its_kind() -> None:
    events_only = Quota(events_per_second=1, bytes_per_second=0, burst_seconds=1)
    after, wait = take(Bucket(MAX_EVENTS, 0, AT), events_only, 1, 10**9, AT)
    assert wait == 0
    assert after.events == MAX_EVENTS - 1


def test_quota_exceeded_asks_for_whole_seconds_at_least_one() -> None:
    assert QuotaExceeded(0.2).retry_after == 1
    assert QuotaExceeded(2.5).retry_after == 3
    assert "retry in 3 s" in str(QuotaExceeded(2.5))


@given(
    events=st.floats(0, 5000),
    size=st.floats(0, 30_000_000),
    elapsed=st.floats(0, 10),
    count=st.integers(0, 4000),
    request=st.integers(0, 20_000_000),
)
def test_waiting_as_told_is_enough_and_a_bucket_never_overflows(
    events: float, size: float, elapsed: float, count: int, request: int
) -> None:
    bucket = Bucket(min(events, QUOTA.event_capacity), min(size, QUOTA.byte_capacity), AT)
    after, wait = take(bucket, QUOTA, count, request, _later(elapsed))
    assert 0 <= after.events <= QUOTA.event_capacity
    assert 0 <= after.bytes <= QUOTA.byte_capacity
    if wait > 0:
        assert after.updated_at == _later(elapsed)
        retried, again = take(after, QUOTA, count, request, _later(elapsed + wait + 1e-3))
        assert again == 0
        assert retried.events >= 0
