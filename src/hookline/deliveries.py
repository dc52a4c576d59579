"""Deliveries: one event sent to one webhook, its attempts, and what the queue hands a worker.

A delivery is due while ``next_attempt_at`` is set and has passed; a worker that claims it
holds a lease until ``lease_until``, and the claim moves ``next_attempt_at`` there too: a
crashed worker's delivery is due again when its lease runs out. ``status`` is the latest
outcome: ``pending`` before the first, then ``success`` or ``fail`` (a failed delivery may
still have retries due).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["pending", "success", "fail"]
# What made a delivery: an event fanned out, a resend of an earlier delivery, or a test
# send (an example event, sent once and never counted toward disabling its webhook).
Trigger = Literal["event", "resend", "test"]
OMITTED = "**OMITTED**"


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class NewDelivery:
    id: str
    tenant_id: str
    webhook_id: str
    event_id: str
    event_type: str
    cloud_events: bool  # the body's envelope: CloudEvents 1.0, or the legacy one
    triggered_at: datetime
    next_attempt_at: datetime | None
    # Its place in an ordered webhook's queue (hookline.pacing); the store sets it.
    fifo_position: datetime | None = None
    trigger: Trigger = "event"
    task_id: str | None = None  # the recover task that made it (hookline.recover)
    # When its event was received, or earlier (None: not known). Events only move later
    # (a resend renews its event), so it finds the event's day on PostgreSQL from below.
    event_received_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    id: str
    tenant_id: str
    webhook_id: str
    event_id: str
    event_type: str
    triggered_at: datetime
    status: Status
    status_message: str
    body: str
    attempt_count: int
    next_attempt_at: datetime | None
    request_url: str | None
    request_headers: dict[str, str] | None
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    attempts: tuple[Attempt, ...] = ()
    cloud_events: bool = False  # the body's envelope
    trigger: Trigger = "event"
    task_id: str | None = None  # the recover task that made it (hookline.recover)


@dataclass(frozen=True)
class Claimed:
    """A due delivery claimed by a worker, with the webhook's current settings to send it."""

    delivery_id: str
    tenant_id: str
    webhook_id: str
    event_id: str
    triggered_at: datetime
    body: bytes
    attempt_count: int
    webhook_enabled: bool
    url: str
    headers: dict[str, str]
    sealed_secret: str | None
    sealed_encrypted_headers: str | None
    encrypted_header_names: tuple[str, ...]
    check_revocation: bool = False  # the webhook's checkCertificateRevocation (SPEC 5.6)
    # During a secret rotation's grace period: the previous secret, which signs too until
    # the rotation ends (hookline.rotation).
    sealed_previous_secret: str | None = None
    secret_rotating_until: datetime | None = None
    # Its success may end the webhook's failing run (hookline.operational): the webhook
    # was failing when the delivery was claimed.
    may_recover: bool = False
    # A test send: sent even to a disabled webhook, attempted once, and never disabling it.
    test: bool = False
    # A rate-limited webhook's delivery starts by then or goes back to the queue unsent
    # (hookline.pacing).
    send_by: datetime | None = None

    def late_by(self, at: datetime) -> timedelta | None:
        """How far ``at`` is past ``send_by``; None when it is not."""
        if self.send_by is None or at <= self.send_by:
            return None
        return at - self.send_by


@dataclass(frozen=True)
class Disable:
    """Disable a webhook, saying why (``disabledReasonCode`` and ``disabledReason``)."""

    webhook_id: str
    code: str
    reason: str


@dataclass(frozen=True)
class Result:
    """The outcome of one attempt, as the queue records it."""

    delivery_id: str
    tenant_id: str
    webhook_id: str
    triggered_at: datetime  # the delivery's (on PostgreSQL, it says which day holds it)
    attempt: Attempt
    status: Literal["success", "fail"]
    status_message: str
    next_attempt_at: datetime | None
    request_url: str
    request_headers: dict[str, str]
    response_status: int | None
    response_headers: dict[str, str]
    response_body: str
    disable: Disable | None = None
    may_recover: bool = False  # as claimed (Claimed.may_recover)
    test: bool = False  # the outcome of a test send

    @property
    def final_failure(self) -> bool:
        """A delivery failed with no retry left, which the failure policy counts (a test
        send's failure never does)."""
        return self.status == "fail" and self.next_attempt_at is None and not self.test

    @property
    def moves_run(self) -> bool:
        """Whether it may begin, grow or end its webhook's failing run
        (hookline.operational): a final failure, or a success of a webhook failing when
        the delivery was claimed."""
        return self.final_failure or (self.status == "success" and self.may_recover)


@dataclass(frozen=True)
class QueueStats:
    pending: int
    oldest_due_at: datetime | None
    disabled_webhooks: int
    fanout_pending: int = 0


@dataclass(frozen=True)
class FailurePolicy:
    """When a webhook whose deliveries keep failing is disabled (SPEC 5.2): every delivery
    that ended (succeeded, or failed with no retry left) within ``window_seconds`` failed,
    and at least ``threshold`` of them. A webhook raises at most one
    ``hookline.delivery.exhausted`` event per ``exhausted_interval_seconds``
    (hookline.operational)."""

    threshold: int = 20
    window_seconds: float = 24 * 3600
    exhausted_interval_seconds: float = 15 * 60


def new_delivery_id(now_ns: int | None = None) -> str:
    """A UUID version 7 (RFC 9562): the millisecond first, then 74 random bits.

    Time-ordered ids put each new delivery at the end of the primary key's index, so the
    queue's inserts stay cheap however much history the table holds; they sort like any
    UUID and say nothing a delivery's ``triggeredAt`` does not.
    """
    milliseconds = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    random = secrets.randbits(74)
    value = (
        (milliseconds & (2**48 - 1)) << 80
        | 0x7 << 76  # version
        | (random >> 62) << 64  # 12 random bits
        | 0b10 << 62  # variant
        | (random & (2**62 - 1))
    )
    return str(uuid.UUID(int=value))
