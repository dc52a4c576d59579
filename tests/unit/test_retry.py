from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.retry import Decision, RetryPolicy, Verdict
from hookline.settings import DEFAULT_RETRY_SCHEDULE

POLICY = RetryPolicy(DEFAULT_RETRY_SCHEDULE, retry_after_cap=600, jitter=0.2)
EXACT = RetryPolicy((0, 5, 60), retry_after_cap=600, jitter=0)


def decide(
    policy: RetryPolicy, status: int | None, attempts: int, retry_after: float | None = None
) -> Decision:
    return policy.decide(status, retry_after, attempts, random.Random(7))


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_success(status: int) -> None:
    assert decide(POLICY, status, 1) == Decision(Verdict.SUCCESS)


def test_410_means_gone_whatever_attempts_remain() -> None:
    assert decide(POLICY, 410, 1) == Decision(Verdict.GONE)


@pytest.mark.parametrize("status", [None, 300, 301, 302, 400, 401, 404, 429, 500, 502, 503])
def test_other_outcomes_are_retried_on_the_schedule(status: int | None) -> None:
    assert decide(EXACT, status, 1) == Decision(Verdict.RETRY, 5)
    assert decide(EXACT, status, 2) == Decision(Verdict.RETRY, 60)


def test_the_schedule_used_up_is_a_final_failure() -> None:
    assert decide(EXACT, 500, 3) == Decision(Verdict.FAILED)
    assert decide(POLICY, None, len(DEFAULT_RETRY_SCHEDULE)) == Decision(Verdict.FAILED)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_up_to_the_cap(status: int) -> None:
    assert decide(EXACT, status, 1, retry_after=120) == Decision(Verdict.RETRY, 120)
    assert decide(EXACT, status, 1, retry_after=86400) == Decision(Verdict.RETRY, 600)
    assert decide(EXACT, status, 2, retry_after=1) == Decision(Verdict.RETRY, 60)


def test_retry_after_is_ignored_for_other_statuses() -> None:
    assert decide(EXACT, 500, 1, retry_after=120) == Decision(Verdict.RETRY, 5)


@given(st.integers(min_value=1, max_value=len(DEFAULT_RETRY_SCHEDULE) - 1), st.integers())
def test_jitter_stays_within_its_bounds(attempts: int, seed: int) -> None:
    decision = POLICY.decide(500, None, attempts, random.Random(seed))
    base = DEFAULT_RETRY_SCHEDULE[attempts]
    assert decision.verdict is Verdict.RETRY
    assert decision.delay is not None
    assert base * 0.8 <= decision.delay <= base * 1.2
