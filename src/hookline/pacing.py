"""Pacing: a webhook's rate limit and ordered ("fifo") delivery, both hookline's own.

A rate-limited webhook is never sent more than ``rateLimit`` deliveries within any window
of ``WINDOW``, across every process on one database: each claim (and each resend) notes
what it took in ``webhook_sends``, under the lock one claim at a time holds on the
webhook's entry in the queue. A claimed delivery must start within ``SEND_WITHIN`` of
that note, or it goes back to the queue unsent (a worker too busy to start it in time
would otherwise send it together with a later claim's). The window is a second, that
tenth, and a tenth for the way to the receiver, which is not equally long for every
request; so a receiver counting by the second sees no more than the limit, and a
saturated webhook is sent about ``rateLimit / 1.2`` a second. What is over the limit
waits in the queue; it is not a failure.

An ordered webhook has one attempt in flight at most, anywhere, and its next delivery is
the one first in its queue: deliveries of events by the time hookline received them
(within one publish request, in the order of the list), resends and recoveries by the
time they were made. A delivery waiting for a retry holds those behind it until it
succeeds or runs out of retries. So does an event the webhook's tenant published earlier
and hookline has not fanned out yet: it may make a delivery that goes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SEND_WITHIN = timedelta(seconds=0.1)
WINDOW = timedelta(seconds=1) + 2 * SEND_WITHIN
# An ordered webhook whose next delivery waits for an earlier event's fan-out looks again
# this much later (fan-out takes milliseconds; it does not say which webhooks it reached).
FAN_OUT_RECHECK = timedelta(milliseconds=100)


@dataclass(frozen=True)
class Pace:
    """How a webhook's deliveries may go: at most ``rate_limit`` a window (None: no
    limit), and one at a time in order when ``ordered``."""

    rate_limit: int | None = None
    ordered: bool = False

    @property
    def paced(self) -> bool:
        return self.rate_limit is not None or self.ordered

    @property
    def bound(self) -> int | None:
        """Attempts in flight at once, anywhere: one for an ordered webhook; None for the
        endpoint bound."""
        return 1 if self.ordered else None


def allowance(rate_limit: int, sends: Sequence[tuple[datetime, int]]) -> int:
    """How many more deliveries a webhook may be sent now, given what was sent to it
    within the window."""
    return max(rate_limit - sum(count for _, count in sends), 0)


def room_again_at(
    rate_limit: int, sends: Sequence[tuple[datetime, int]], now: datetime
) -> datetime:
    """When a webhook may be sent one more delivery: now, or when enough of the sends
    within the window have left it."""
    taken = sum(count for _, count in sends)
    at = now
    for sent_at, count in sorted(sends):
        if taken < rate_limit:
            break
        taken -= count
        at = sent_at + WINDOW
    return max(at, now)
