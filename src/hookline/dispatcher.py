"""Workers: claim due deliveries, send them, record the outcomes in batches.

Concurrency is bounded in total and per webhook; a webhook at its bound is left out of
claims, so a slow or dead endpoint holds only its own slots and never delays the others.
Outcomes are written in batches; a claimed delivery whose outcome is never written (the
process died) is due again when its lease runs out: at-least-once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import uuid
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from hookline import metrics, signing
from hookline.clock import now
from hookline.deliveries import OMITTED, Attempt, Claimed, Disable, FailurePolicy, Result
from hookline.errors import ConfigError, StorageUnavailable
from hookline.retry import Decision, RetryPolicy, Verdict
from hookline.sender import Outcome, Sender
from hookline.store import Store
from hookline.store.base import Planner
from hookline.vault import Vault

log = structlog.get_logger()
SHUTDOWN_FLUSH_TRIES = 10
OPENED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Limits:
    total: int = 256
    per_endpoint: int = 16
    claim_batch: int = 128
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    flush_seconds: float = 0.01
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
        body = claimed.body.encode()
        try:
            headers = self.headers(claimed, body, int(started.timestamp()))
        except ConfigError as error:  # the secret key changed: fail, and retry on schedule
            outcome = Outcome(status_code=None, error=f"not sent: {error}")
            return self.result(claimed, outcome, started, {})
        if claimed.webhook_enabled:
            about = {
                "tenant": claimed.tenant_id,
                "webhook": claimed.webhook_id,
                "delivery": claimed.delivery_id,
            }
            outcome = await self.sender.send(claimed.url, headers, body, context=about)
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
        signatures (``Qlik-Signature`` and Standard Webhooks) when it has a secret."""
        headers = dict(claimed.headers)
        if claimed.sealed_encrypted_headers:
            headers.update(json.loads(self._open(claimed.sealed_encrypted_headers)))
        headers["Content-Type"] = "application/json"
        if claimed.sealed_secret:
            secret = self._open(claimed.sealed_secret)
            headers["Qlik-Signature"] = signing.qlik_signature(secret, body)
            headers.update(
                signing.standard_webhook_headers(secret, claimed.event_id, timestamp, body)
            )
        else:
            headers.update({"webhook-id": claimed.event_id, "webhook-timestamp": str(timestamp)})
        return headers

    def result(
        self, claimed: Claimed, outcome: Outcome, started: datetime, shown: dict[str, str]
    ) -> Result:
        number = claimed.attempt_count + 1
        if claimed.webhook_enabled:
            decision = self.policy.decide(
                outcome.status_code, outcome.retry_after, number, self.rng
            )
        else:
            decision = Decision(Verdict.FAILED)
        message = _message(outcome, decision.verdict, number)
        return Result(
            delivery_id=claimed.delivery_id,
            webhook_id=claimed.webhook_id,
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
        )


GONE_REASON = "the endpoint answered 410 Gone"
INTERRUPTED = "interrupted: the process stopped before the response came"


def _message(outcome: Outcome, verdict: Verdict, number: int) -> str:
    what = outcome.error or f"HTTP {outcome.status_code}"
    if verdict is Verdict.SUCCESS:
        return what
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
    """One worker: claims, sends with bounded concurrency, records in batches."""

    def __init__(
        self,
        store: Store,
        attempter: Attempter,
        limits: Limits,
        failures: FailurePolicy,
        plan: Planner,
    ) -> None:
        self._store = store
        self._plan = plan
        self._attempter = attempter
        self._limits = limits
        self._failures = failures
        self._owner = f"worker-{uuid.uuid4().hex[:12]}"
        self._in_flight: Counter[str] = Counter()
        self._waiting: dict[str, deque[Claimed]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[Result] = []
        # Outcomes gathered or being written. They hold their slots until written, so a
        # crash repeats at most `total` attempts: the ones sent but not yet recorded.
        self._unrecorded = 0
        # Set when a claim could find more than the last one: a webhook left the set that
        # claims skip, or a slot opened while every slot was taken.
        self._room = asyncio.Event()
        self._full = False

    @property
    def busy(self) -> int:
        waiting = sum(len(q) for q in self._waiting.values())
        return sum(self._in_flight.values()) + waiting + self._unrecorded

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until ``stopping`` is set, then let what is in flight finish (for up to the
        shutdown grace; the rest is interrupted) and record it."""
        recorder = asyncio.create_task(self._record_until(stopping))
        try:
            while not stopping.is_set():
                await self._claim_and_start(stopping)
        finally:
            self._waiting.clear()  # claimed, never started: their leases run out
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
        free = self._limits.total - self.busy
        self._full = free <= 0
        self._room.clear()
        if self._full:
            await _first(self._room.wait(), stopping.wait())
            return
        try:
            claimed = await self._store.claim(
                owner=self._owner,
                limit=min(free, self._limits.claim_batch),
                lease_seconds=self._limits.lease_seconds,
                exclude=self._saturated(),
            )
        except StorageUnavailable as error:
            log.warning("claim failed; retrying", error=str(error))
            claimed = []
        except Exception:
            # Never expected; the worker must outlive it (its loop is the process's only
            # one), so it tries again after a poll interval.
            log.exception("claim failed unexpectedly; retrying")
            claimed = []
        for delivery in claimed:
            self._waiting.setdefault(delivery.webhook_id, deque()).append(delivery)
            self._start_waiting(delivery.webhook_id)
        if len(claimed) < min(free, self._limits.claim_batch):
            await _first(
                self._store.wait_for_work(self._limits.poll_seconds),
                self._room.wait(),
                stopping.wait(),
            )

    def _saturated(self) -> list[str]:
        return [
            webhook_id
            for webhook_id in self._waiting.keys() | self._in_flight.keys()
            if self._in_flight[webhook_id] >= self._limits.per_endpoint
            or self._waiting.get(webhook_id)
        ]

    def _start_waiting(self, webhook_id: str) -> None:
        waiting = self._waiting.get(webhook_id)
        while waiting and self._in_flight[webhook_id] < self._limits.per_endpoint:
            self._in_flight[webhook_id] += 1
            task = asyncio.create_task(self._attempt(waiting.popleft()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if waiting is not None and not waiting:
            del self._waiting[webhook_id]

    async def _attempt(self, claimed: Claimed) -> None:
        started = now()
        try:
            result = await self._attempter.attempt(claimed)
            self._gather(claimed, result)
        except asyncio.CancelledError:  # the shutdown grace ran out
            self._gather(claimed, self._attempter.interrupted(claimed, started))
            raise
        except Exception:
            # Never expected; the lease runs out and the delivery is tried again.
            log.exception("attempt failed unexpectedly", delivery=claimed.delivery_id)
        finally:
            self._in_flight[claimed.webhook_id] -= 1
            if not self._in_flight[claimed.webhook_id]:
                del self._in_flight[claimed.webhook_id]
            self._start_waiting(claimed.webhook_id)
            if self._full or claimed.webhook_id not in self._waiting:
                self._room.set()

    def _gather(self, claimed: Claimed, result: Result) -> None:
        self._results.append(result)
        self._unrecorded += 1
        observe(claimed, result)

    async def _record_until(self, stopping: asyncio.Event) -> None:
        """Flush outcomes until stopped and nothing is left; when stopping, give up after a
        few failed flushes (the leases run out and the deliveries are attempted again)."""
        failures_left = SHUTDOWN_FLUSH_TRIES
        while not stopping.is_set() or self._tasks or (self._results and failures_left):
            await asyncio.sleep(self._limits.flush_seconds)
            if not await self._flush() and stopping.is_set():
                failures_left -= 1
        if self._results:
            log.warning("outcomes not recorded at shutdown", count=len(self._results))

    async def _flush(self) -> bool:
        """Record the outcomes gathered so far; False if the database refused them."""
        if not self._results:
            return True
        batch, self._results = self._results, []
        try:
            await self._store.record(batch, self._failures, self._plan)
        except StorageUnavailable as error:
            log.warning("recording outcomes failed; retrying", error=str(error), count=len(batch))
            self._results = batch + self._results
            await asyncio.sleep(self._limits.poll_seconds)
            return False
        except Exception:
            # Never expected; dropping the batch is safe: the leases run out and the
            # deliveries are attempted again.
            log.exception("recording outcomes failed; dropped", count=len(batch))
        self._unrecorded -= len(batch)
        if self._full:
            self._room.set()
        return True


def observe(claimed: Claimed, result: Result) -> None:
    """Count the attempt and log it: one line per attempt, no secrets."""
    outcome = _outcome(result)
    attempt = result.attempt
    metrics.count_attempt(claimed.tenant_id, outcome)
    metrics.ATTEMPT_SECONDS.observe(attempt.duration_ms / 1000)
    if result.status == "success":
        metrics.LAG_SECONDS.observe((now() - claimed.triggered_at).total_seconds())
    log.info(
        "attempt",
        tenant=claimed.tenant_id,
        webhook=claimed.webhook_id,
        delivery=claimed.delivery_id,
        event_id=claimed.event_id,  # `event` is structlog's own: the message
        attempt=attempt.number,
        outcome=outcome,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=round(attempt.duration_ms, 1),
    )


def _outcome(result: Result) -> str:
    if result.status == "success":
        return "success"
    if result.disable is not None:
        return "gone"
    return "retry" if result.next_attempt_at is not None else "failed"


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of ``waits`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
