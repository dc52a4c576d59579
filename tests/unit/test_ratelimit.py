"""Tests for hookline.ratelimit: a token bucket per API key, on an injected clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.ratelimit import RateLimiter, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(rate: float = 10, burst: int = 5) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, burst, clock), clock


def test_a_burst_passes_then_the_next_request_waits_for_a_token() -> None:
    bucket, _ = limiter(rate=10, burst=5)

    assert [bucket.acquire("k") for _ in range(5)] == [0.0] * 5
    assert bucket.acquire("k") == pytest.approx(0.1)


def test_tokens_refill_at_the_rate() -> None:
    bucket, clock = limiter(rate=10, burst=5)
    for _ in range(5):
        bucket.acquire("k")

    clock.now += 0.25  # 2.5 tokens

    assert [bucket.acquire("k") for _ in range(2)] == [0.0, 0.0]
    assert bucket.acquire("k") == pytest.approx(0.05)


def test_spending_past_the_tokens_is_a_debt_the_refill_pays_back() -> None:
    bucket, clock = limiter(rate=10, burst=5)
    bucket.spend("k", 4)
    assert bucket.in_debt() == []
    bucket.spend("k", 6)  # 1 left, 6 spent: 5 owed
    assert bucket.in_debt() == ["k"]

    clock.now += 0.4  # 4 tokens back: 1 still owed
    assert bucket.in_debt() == ["k"]
    clock.now += 0.2
    assert bucket.in_debt() == []


def test_spending_is_free_at_rate_zero() -> None:
    bucket, _ = limiter(rate=0, burst=5)
    bucket.spend("k", 1_000)
    assert bucket.in_debt() == []


def test_a_refused_request_takes_no_token() -> None:
    bucket, clock = limiter(rate=1, burst=1)
    bucket.acquire("k")
    for _ in range(10):
        assert bucket.acquire("k") > 0

    clock.now += 1

    assert bucket.acquire("k") == 0.0


def test_refilling_stops_at_the_burst() -> None:
    bucket, clock = limiter(rate=10, burst=3)
    clock.now += 3600

    assert [bucket.acquire("k") for _ in range(4)][-1] > 0


def test_keys_have_buckets_of_their_own() -> None:
    bucket, _ = limiter(rate=1, burst=2)
    bucket.acquire("a")
    bucket.acquire("a")

    assert bucket.acquire("a") > 0
    assert bucket.acquire("b") == 0.0


def test_rate_zero_lets_everything_through() -> None:
    bucket, _ = limiter(rate=0, burst=1)

    assert all(bucket.acquire("k") == 0.0 for _ in range(10_000))
    assert bucket.tracked_keys() == 0


def test_a_clock_that_steps_back_refills_nothing() -> None:
    bucket, clock = limiter(rate=1, burst=1)
    bucket.acquire("k")
    clock.now -= 100

    assert bucket.acquire("k") > 0


def test_full_buckets_are_forgotten_so_memory_stays_bounded() -> None:
    bucket, clock = limiter(rate=100, burst=10)
    for number in range(1000):
        bucket.acquire(f"key-{number}")
    assert bucket.tracked_keys() == 1000

    clock.now += 1  # every bucket is full again
    bucket.acquire("late")

    assert bucket.tracked_keys() == 1


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, 1), (0.5, 1), (1.0, 1), (1.01, 2), (59.2, 60)]
)
def test_retry_after_is_whole_seconds_and_at_least_one(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header


@given(
    rate=st.floats(min_value=0.1, max_value=1000),
    burst=st.integers(min_value=1, max_value=100),
    steps=st.lists(st.floats(min_value=0, max_value=5), max_size=200),
)
def test_never_more_than_the_burst_plus_the_refill_pass(
    rate: float, burst: int, steps: list[float]
) -> None:
    bucket, clock = limiter(rate=rate, burst=burst)
    passed = 0
    for step in steps:
        clock.now += step
        wait = bucket.acquire("k")
        assert wait >= 0
        passed += wait == 0

    assert passed <= burst + rate * sum(steps) + 1e-6
