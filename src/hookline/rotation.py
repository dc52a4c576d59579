"""Secret rotation with a grace period: what a rotation, or a write of the secret, leaves.

A webhook holds its secret in force and, while a rotation's grace period runs, the secret
that one replaced, until the end of the grace period (``secretRotatingUntil``). Both are
sealed; these rules never open them. Meanwhile deliveries are signed with both
(``signing.delivery_signatures``); afterwards the previous secret signs nothing, and the
maintenance loop, or the webhook's next write, drops it from storage.

- A rotation makes the new secret the one in force and keeps the one it replaces for the
  grace period. Rotating again during a grace period does the same: the secret in force
  becomes the previous one and the older one is dropped, so at most two secrets sign.
- A webhook with no secret, or a grace period of 0, gets the new secret alone.
- A write (PUT or PATCH) that sets another secret, or removes it, replaces it at once, with
  no grace, as the Qlik-compatible API always did; a write that leaves the secret in force
  as it is leaves the rotation alone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt
from pydantic.alias_generators import to_camel

from hookline.webhooks import SECRET_LENGTHS, Text, Webhook

DEFAULT_GRACE_SECONDS = 24 * 3600
MAX_GRACE_SECONDS = 7 * 24 * 3600
GENERATED_SECRET_BYTES = 36  # 48 URL-safe characters, 288 random bits


@dataclass(frozen=True)
class Secrets:
    """A webhook's sealed secrets: the one in force (``current``), and during a rotation's
    grace period the one it replaced (``previous``) until ``until``."""

    current: str | None
    previous: str | None = None
    until: datetime | None = None

    def rotating(self, at: datetime) -> bool:
        """Whether the previous secret still signs at ``at``."""
        return self.previous is not None and self.until is not None and at < self.until

    def rotating_until(self, at: datetime) -> datetime | None:
        """The end of the grace period as shown at ``at``: None once it has passed."""
        return self.until if self.rotating(at) else None


def held_by(webhook: Webhook) -> Secrets:
    return Secrets(
        webhook.sealed_secret, webhook.sealed_previous_secret, webhook.secret_rotating_until
    )


def rotate(held: Secrets, new: str, grace_seconds: int, at: datetime) -> Secrets:
    """``held`` after a rotation at ``at`` to the sealed secret ``new``. The grace period
    ends on a whole second (rounded up): ``webhook-timestamp`` counts whole seconds, so an
    attempt is stamped before the end exactly when it starts before it."""
    if held.current is None or grace_seconds == 0:
        return Secrets(new)
    return Secrets(new, held.current, _whole_second(at + timedelta(seconds=grace_seconds)))


def _whole_second(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole second."""
    floor = moment.replace(microsecond=0)
    return floor if floor == moment else floor + timedelta(seconds=1)


def after_write(held: Secrets, written: str | None, *, kept: bool, at: datetime) -> Secrets:
    """``held`` after a PUT or PATCH leaves the sealed secret ``written`` (None: removed);
    ``kept``: it is the secret in force, unchanged. A rotation that has ended is dropped."""
    if kept and written is not None and held.rotating(at):
        return Secrets(written, held.previous, held.until)
    return Secrets(written)


def generate_secret() -> str:
    """A new secret for a rotation that names none: 48 URL-safe characters."""
    return secrets.token_urlsafe(GENERATED_SECRET_BYTES)


def _secret_length(secret: str) -> str:
    if len(secret) not in SECRET_LENGTHS:
        raise ValueError(
            f"must be {SECRET_LENGTHS.start} to {SECRET_LENGTHS.stop - 1} characters long"
        )
    return secret


def _grace_range(seconds: int) -> int:
    if not 0 <= seconds <= MAX_GRACE_SECONDS:
        raise ValueError(f"must be 0 to {MAX_GRACE_SECONDS} seconds (7 days)")
    return seconds


class Rotation(BaseModel):
    """A rotate-secret request. JSON ``null`` means absent; unknown members are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    secret: Annotated[Text, AfterValidator(_secret_length)] | None = Field(
        default=None,
        description="The new secret, 32 to 64 characters. Left out, hookline generates one "
        "and returns it, once, in the answer.",
        json_schema_extra={"minLength": SECRET_LENGTHS.start, "maxLength": SECRET_LENGTHS.stop - 1},
    )
    grace_seconds: Annotated[StrictInt, AfterValidator(_grace_range)] | None = Field(
        default=None,
        description="How long the previous secret keeps signing too, in seconds: 0 to "
        f"{MAX_GRACE_SECONDS} (7 days); default {DEFAULT_GRACE_SECONDS} (24 hours). 0 "
        "replaces the secret at once.",
        json_schema_extra={"minimum": 0, "maximum": MAX_GRACE_SECONDS},
    )

    @property
    def grace(self) -> int:
        return DEFAULT_GRACE_SECONDS if self.grace_seconds is None else self.grace_seconds
