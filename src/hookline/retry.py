"""What happens after an attempt: a pure decision from the outcome, the attempts made and
the retry schedule (configuration: a list of delays, the first being the first attempt's)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

RETRY_AFTER_STATUSES = frozenset({429, 503})


class Verdict(Enum):
    SUCCESS = "success"  # 2xx: done
    RETRY = "retry"  # failed; try again after `delay`
    FAILED = "failed"  # failed, and the schedule is used up
    GONE = "gone"  # 410: the endpoint is gone; disable the webhook


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    schedule: tuple[float, ...]
    retry_after_cap: float = 3600.0
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]

    def decide(
        self,
        status_code: int | None,
        retry_after: float | None,
        attempts_made: int,
        rng: random.Random,
    ) -> Decision:
        """The decision after ``attempts_made`` attempts, the last of which ended with
        ``status_code`` (None: no response at all)."""
        if succeeded(status_code):
            return Decision(Verdict.SUCCESS)
        if status_code == 410:
            return Decision(Verdict.GONE)
        if attempts_made >= len(self.schedule):
            return Decision(Verdict.FAILED)
        delay = self.schedule[attempts_made] * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if status_code in RETRY_AFTER_STATUSES and retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return Decision(Verdict.RETRY, delay)


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def once(status_code: int | None) -> Decision:
    """The decision after a test send's only attempt: never retried, and a 410 disables
    nothing (a test checks the endpoint; it does not act on the webhook)."""
    return Decision(Verdict.SUCCESS if succeeded(status_code) else Verdict.FAILED)
