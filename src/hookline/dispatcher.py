"""Workers: claim due deliveries, send them, record the outcomes in batches.

Concurrency is bounded in total, per webhook and per tenant (hookline.shares); a webhook
or tenant at its bound is left out of claims, so a slow or dead endpoint holds only its
own slots and never delays the others.
Outcomes are written in batches; a claimed delivery whose outcome is never written (the
process died) is due again when its lease runs out: at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from hookline import signing
from hookline.clock import now
from hookline.deliveries import OMITTED, Attempt, Claimed, Disable, FailurePolicy, Result
from hookline.errors import ConfigError, StorageUnavailable
from hookline.retry import Decision, RetryPolicy, Verdict, once
from hookline.sender import Outcome, Sender
from hookline.shares import Slots
from hookline.store import Store
from hookline.telemetry import observe
from hookline.vault import Vault
from hookline.waits import first_of

log = structlog.get_logger()
SHUTDOWN_FLUSH_TRIES = 10
OPENED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Limits:
    total: int = 256
    claim_batch: int = 128
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    # Outcomes are written every flush_seconds, in one transaction; a claim that found
    # less than it could take waits claim_pause_seconds, so that the next one takes more.
    flush_seconds: float = 0.05
    claim_pause_seconds: float = 0.005
    shutdown_grace: float = 30.0


@dataclass
class Attempter:
    """Makes one attempt of a claimed delivery and says what it came to."""

    sender: Sender
    vault: Vault
    policy: RetryPolicy
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        # Opening a sealed value (Fernet) costs more than signing; the same few webhooks'
        # values come back with every delivery, so the opened ones are kept, boundedly.
        self._open = functools.lru_cache(maxsize=OPENED_CACHE_SIZE)(self.vault.open)

    async def attempt(self, claimed: Claimed) -> Result:
        started = now()
        body = claimed.body
        try:
            headers = self.headers(claimed, body, int(started.timestamp()))
        except ConfigError as error:  # the secret key changed: fail, and retry on schedule
            outcome = Outcome(status_code=None, error=f"not sent: {error}")
            return self.result(claimed, outcome, started, {})
        if claimed.webhook_enabled or claimed.test:
            about = {
                "tenant": claimed.tenant_id,
                "webhook": claimed.webhook_id,
                "delivery": claimed.delivery_id,
            }
            outcome = await self.sender.send(
                claimed.url,
                headers,
                body,
                context=about,
                check_revocation=claimed.check_revocation,
            )
        else:
            outcome = Outcome(status_code=None, error="not sent: the webhook is disabled")
        return self.result(claimed, outcome, started, _shown(headers, claimed))

    def interrupted(self, claimed: Claimed, started: datetime) -> Result:
        """An attempt cut off by shutdown: it may have reached the receiver, so it counts,
        and the delivery is retried on schedule."""
        outcome = Outcome(status_code=None, error=INTERRUPTED)
        return self.result(claimed, outcome, started, {})

    def headers(self, claimed: Claimed, body: bytes, timestamp: int) -> dict[str, str]:
        """The request's headers: the webhook's own, its decrypted encrypted ones, and the
        signatures (``Qlik-Signature`` and Standard Webhooks) when it has a secret; during
        a secret rotation's grace period the previous secret signs too."""
        headers = dict(claimed.headers)
        if claimed.sealed_encrypted_headers:
            headers.update(json.loads(self._open(claimed.sealed_encrypted_headers)))
        headers["Content-Type"] = "application/json"
        if claimed.sealed_secret:
            secret = self._open(claimed.sealed_secret)
            previous = (
                self._open(claimed.sealed_previous_secret)
                if claimed.sealed_previous_secret
                and signing.signs_with_previous(claimed.secret_rotating_until, timestamp)
                else None
            )
            headers.update(
                signing.delivery_signatures(
                    secret, claimed.event_id, timestamp, body, previous=previous
                )
            )
        else:
            headers.update({"webhook-id": claimed.event_id, "webhook-timestamp": str(timestamp)})
        return headers

    def result(
        self, claimed: Claimed, outcome: Outcome, started: datetime, shown: dict[str, str]
    ) -> Result:
        number = claimed.attempt_count + 1
        if claimed.test:
            decision = once(outcome.status_code)
        elif claimed.webhook_enabled:
            decision = self.policy.decide(
                outcome.status_code, outcome.retry_after, number, self.rng
            )
        else:
            decision = Decision(Verdict.FAILED)
        message = _message(outcome, decision.verdict, number, test=claimed.test)
        return Result(
            delivery_id=claimed.delivery_id,
            tenant_id=claimed.tenant_id,
            webhook_id=claimed.webhook_id,
            triggered_at=claimed.triggered_at,
            attempt=Attempt(
                number, started, outcome.duration_ms, outcome.status_code, outcome.error
            ),
            status="success" if decision.verdict is Verdict.SUCCESS else "fail",
            status_message=message,
            # Delays count from the end of this attempt, however long it took.
            next_attempt_at=(
                now() + timedelta(seconds=decision.delay) if decision.delay is not None else None
            ),
            request_url=claimed.url,
            request_headers=shown,
            response_status=outcome.status_code,
            response_headers=outcome.headers,
            response_body=outcome.body,
            disable=(
                Disable(claimed.webhook_id, "endpoint-gone", GONE_REASON)
                if decision.verdict is Verdict.GONE
                else None
            ),
            may_recover=claimed.may_recover,
            test=claimed.test,
        )


GONE_REASON = "the endpoint answered 410 Gone"
INTERRUPTED = "interrupted: the process stopped before the response came"


def _message(outcome: Outcome, verdict: Verdict, number: int, *, test: bool = False) -> str:
    what = outcome.error or f"HTTP {outcome.status_code}"
    if verdict is Verdict.SUCCESS:
        return what
    if test:
        return f"{what}; a test event is sent once, never retried"
    if verdict is Verdict.GONE:
        return f"{what}: the endpoint is gone; the webhook is disabled"
    if verdict is Verdict.FAILED:
        return f"{what}; gave up after {number} attempt{'s' if number > 1 else ''}"
    return f"{what}; will retry"


def _shown(headers: dict[str, str], claimed: Claimed) -> dict[str, str]:
    """The headers as the history shows them: encrypted header values omitted."""
    hidden = {name.lower() for name in claimed.encrypted_header_names}
    return {name: OMITTED if name.lower() in hidden else value for name, value in headers.items()}


class Dispatcher:
    """One worker: claims fairly, sends within the slots, records in batches."""

    def __init__(
        self,
        store: Store,
        attempter: Attempter,
        limits: Limits,
        failures: FailurePolicy,
        slots: Slots,
        owner: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._attempter = attempter
        self._limits = limits
        self._failures = failures
        self._slots = slots
        self._owner = owner
        # Claimed but not started: a resend took the room meanwhile (rare).
        self._waiting: deque[Claimed] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[Result] = []
        self._late: list[str] = []  # handed back, to be released
        # Outcomes gathered or being written. They hold their share of the total until
        # written, so a crash repeats at most `total` attempts: the ones sent but not yet
        # recorded.
        self._unrecorded = 0
        # When the lease of each delivery this worker holds runs out (by ``clock``); those
        # running out within half a lease are renewed, so no attempt outlives its lease
        # however long it waited for a slot or for its outcome to be written.
        self._clock = clock
        self._lease_ends: dict[str, float] = {}
        self._next_renewal = clock()

    @property
    def busy(self) -> int:
        return self._slots.in_flight + len(self._waiting) + self._unrecorded

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until ``stopping`` is set, then let what is in flight finish (for up to the
        shutdown grace; the rest is interrupted) and record it. Deliveries claimed but
        never started are released at once, for another process to take."""
        recorder = asyncio.create_task(self._record_until(stopping))
        try:
            while not stopping.is_set():
                await self._claim_and_start(stopping)
        finally:
            unstarted, self._waiting = self._waiting, deque()
            for item in unstarted:
                self._lease_ends.pop(item.delivery_id, None)
            with contextlib.suppress(StorageUnavailable):
                await self._store.release([item.delivery_id for item in unstarted], self._owner)
            await self._finish_in_flight()
            await recorder

    async def _finish_in_flight(self) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self._limits.shutdown_grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _claim_and_start(self, stopping: asyncio.Event) -> None:
        free = min(self._limits.total - self.busy, self._limits.claim_batch)
        freed = self._slots.freed
        freed.clear()
        if free <= 0:
            await first_of(freed.wait(), stopping.wait())
            return
        room = self._slots.snapshot()
        try:
            claimed = await self._store.claim(
                owner=self._owner, limit=free, lease_seconds=self._limits.lease_seconds, room=room
            )
        except StorageUnavailable as error:
            log.warning("claim failed; retrying", error=str(error))
            claimed = []
        except Exception:
            # Never expected; the worker must outlive it (its loop is the process's only
            # one), so it tries again after a poll interval.
            log.exception("claim failed unexpectedly; retrying")
            claimed = []
        self._waiting.extend(claimed)
        lease_end = self._clock() + self._limits.lease_seconds
        self._lease_ends.update((item.delivery_id, lease_end) for item in claimed)
        self._start_waiting()
        if len(claimed) == free:
            return
        if claimed:  # there may be more: the next claim tells, once a few slots are free
            await first_of(asyncio.sleep(self._limits.claim_pause_seconds), stopping.wait())
            return
        waits = [self._store.wait_for_work(self._limits.poll_seconds), stopping.wait()]
        if room.full_webhooks() or room.full_tenants():
            waits.append(freed.wait())  # due work may be waiting for room
        await first_of(*waits)

    def _start_waiting(self) -> None:
        for _ in range(len(self._waiting)):
            claimed = self._waiting.popleft()
            if not self._slots.fits(claimed.tenant_id, claimed.webhook_id):
                self._waiting.append(claimed)
                continue
            self._slots.take(claimed.tenant_id, claimed.webhook_id)
            task = asyncio.create_task(self._attempt(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _attempt(self, claimed: Claimed) -> None:
        started = now()
        try:
            if (late := claimed.late_by(started)) is not None:
                self._hand_back(claimed, late)
                return
            result = await self._attempter.attempt(claimed)
            self._gather(claimed, result)
        except asyncio.CancelledError:  # the shutdown grace ran out
            self._gather(claimed, self._attempter.interrupted(claimed, started))
            raise
        except Exception:
            # Never expected; the lease runs out and the delivery is tried again.
            log.exception("attempt failed unexpectedly", delivery=claimed.delivery_id)
        finally:
            self._slots.release(claimed.tenant_id, claimed.webhook_id)
            if self._waiting:
                self._start_waiting()

    def _hand_back(self, claimed: Claimed, late: timedelta) -> None:
        """A rate-limited webhook's delivery that could not start in time goes back to the
        queue unsent (the next flush releases it)."""
        log.warning(
            "rate-limited delivery could not start in time; back to the queue",
            delivery=claimed.delivery_id,
            webhook=claimed.webhook_id,
            late_ms=round(late.total_seconds() * 1000),
        )
        self._lease_ends.pop(claimed.delivery_id, None)
        self._late.append(claimed.delivery_id)

    def _gather(self, claimed: Claimed, result: Result) -> None:
        self._results.append(result)
        self._unrecorded += 1
        observe(claimed, result)

    async def _record_until(self, stopping: asyncio.Event) -> None:
        """Flush outcomes until stopped and nothing is left; when stopping, give up after a
        few failed flushes (the leases run out and the deliveries are attempted again)."""
        failures_left = SHUTDOWN_FLUSH_TRIES
        while (
            not stopping.is_set() or self._tasks or self._late or (self._results and failures_left)
        ):
            await asyncio.sleep(self._limits.flush_seconds)
            if not await self._flush() and stopping.is_set():
                failures_left -= 1
            await self._release_late()
            await self._renew_leases()
        if self._results:
            log.warning("outcomes not recorded at shutdown", count=len(self._results))

    async def _release_late(self) -> None:
        if not self._late:
            return
        late, self._late = self._late, []
        try:
            await self._store.release(late, self._owner)
        except StorageUnavailable as error:  # their leases run out instead
            log.warning("handing back late deliveries failed", error=str(error), count=len(late))

    async def _renew_leases(self) -> None:
        """Every quarter of a lease, renew the leases that end within half of one."""
        now = self._clock()
        if now < self._next_renewal:
            return
        half = self._limits.lease_seconds / 2
        self._next_renewal = now + half / 2
        ending = [delivery for delivery, end in self._lease_ends.items() if end - now < half]
        if not ending:
            return
        try:
            await self._store.renew(ending, self._owner, self._limits.lease_seconds)
        except StorageUnavailable as error:
            log.warning("renewing leases failed", error=str(error), count=len(ending))
            return
        lease_end = now + self._limits.lease_seconds
        for delivery in ending:
            if delivery in self._lease_ends:  # (not recorded meanwhile)
                self._lease_ends[delivery] = lease_end

    async def _flush(self) -> bool:
        """Record the outcomes gathered so far; False if the database refused them."""
        if not self._results:
            return True
        batch, self._results = self._results, []
        try:
            await self._store.record(batch, self._failures)
        except StorageUnavailable as error:
            log.warning("recording outcomes failed; retrying", error=str(error), count=len(batch))
            self._results = batch + self._results
            await asyncio.sleep(self._limits.poll_seconds)
            return False
        except Exception:
            # Never expected; dropping the batch is safe: the leases run out and the
            # deliveries are attempted again.
            log.exception("recording outcomes failed; dropped", count=len(batch))
        for result in batch:
            self._lease_ends.pop(result.delivery_id, None)
        self._unrecorded -= len(batch)
        self._slots.freed.set()
        return True
