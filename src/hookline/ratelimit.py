"""Rate limiting of the management API: one token bucket per API key, in this process.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; a request
takes one token, or is refused with the time until the next one. Pure: the clock is
injected. A bucket that has refilled completely says nothing a new bucket would not, so
buckets are dropped once full, and memory stays bounded by the keys active in the last
``burst / rate`` seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests a second per key, with bursts of up to ``burst``; ``rate`` 0 lets
    everything through."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = max(burst, 1)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._next_sweep = clock()

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: 0 when the request may go ahead, else the seconds to
        wait before one will."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.setdefault(key, _Bucket(float(self._burst), now))
        bucket.tokens = self._refilled(bucket, now)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def spend(self, key: str, amount: float) -> None:
        """Take ``amount`` tokens for ``key`` for work already done, into debt if need be:
        ``in_debt`` names the key until the refill has paid it back."""
        if self._rate <= 0 or amount <= 0:
            return
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.setdefault(key, _Bucket(float(self._burst), now))
        bucket.tokens = self._refilled(bucket, now) - amount
        bucket.updated = now

    def in_debt(self) -> list[str]:
        """The keys that spent more than they have (``spend``), as of now."""
        now = self._clock()
        return [key for key, bucket in self._buckets.items() if self._refilled(bucket, now) < 0]

    def tracked_keys(self) -> int:
        """How many buckets are held (for tests of the memory bound)."""
        return len(self._buckets)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(now - bucket.updated, 0.0)  # a clock that steps back refills nothing
        return min(float(self._burst), bucket.tokens + elapsed * self._rate)

    def _sweep(self, now: float) -> None:
        """Drop the buckets that are full again, at most once per refill period."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._burst / self._rate
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if self._refilled(bucket, now) < self._burst
        }


def retry_after_seconds(wait: float) -> int:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return max(1, math.ceil(wait))
