"""Secret rotation's rules (hookline.rotation), the rotate-secret request, and the headers
a worker's attempt signs with during and after a grace period (Attempter.headers)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from hookline.deliveries import Claimed
from hookline.dispatcher import Attempter
from hookline.retry import RetryPolicy
from hookline.rotation import (
    DEFAULT_GRACE_SECONDS,
    MAX_GRACE_SECONDS,
    Rotation,
    Secrets,
    after_write,
    generate_secret,
    rotate,
)
from hookline.sender import Sender
from hookline.settings import load_settings
from hookline.vault import Vault

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# -- rotate ----------------------------------------------------------------------------------


def test_a_rotation_keeps_the_secret_in_force_for_the_grace_period() -> None:
    assert rotate(Secrets("a"), "b", 3600, AT) == Secrets("b", "a", AT + HOUR)


@pytest.mark.parametrize("past", [timedelta(microseconds=1), timedelta(milliseconds=999)])
def test_the_grace_ends_on_a_whole_second_rounded_up(past: timedelta) -> None:
    rotated = rotate(Secrets("a"), "b", 60, AT + past)

    assert rotated.until == AT + timedelta(seconds=61)


def test_a_webhook_without_a_secret_simply_gets_the_new_one() -> None:
    assert rotate(Secrets(None), "b", 3600, AT) == Secrets("b")


def test_a_grace_of_zero_replaces_the_secret_at_once() -> None:
    assert rotate(Secrets("a", "old", AT + HOUR), "b", 0, AT) == Secrets("b")


def test_rotating_again_during_the_grace_drops_the_oldest_and_restarts_the_grace() -> None:
    first = rotate(Secrets("a"), "b", 3600, AT)
    second = rotate(first, "c", 600, AT + timedelta(minutes=30))

    assert second == Secrets("c", "b", AT + timedelta(minutes=40))


def test_rotating_after_the_grace_keeps_only_the_secret_in_force() -> None:
    ended = Secrets("b", "a", AT)

    assert rotate(ended, "c", 60, AT + HOUR) == Secrets("c", "b", AT + HOUR + timedelta(minutes=1))


# -- rotating, rotating_until ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "at", "until"),
    [
        (Secrets("b", "a", AT), AT - timedelta(milliseconds=1), AT),
        (Secrets("b", "a", AT), AT, None),
        (Secrets("b", "a", AT), AT + HOUR, None),
        (Secrets("b"), AT, None),
        (Secrets("b", None, AT + HOUR), AT, None),
    ],
)
def test_the_rotation_shows_its_end_only_while_it_runs(
    held: Secrets, at: datetime, until: datetime | None
) -> None:
    assert held.rotating_until(at) == until
    assert held.rotating(at) is (until is not None)


# -- after_write (PUT, PATCH) ----------------------------------------------------------------


def test_a_write_that_keeps_the_secret_in_force_leaves_the_rotation_alone() -> None:
    held = Secrets("b", "a", AT + HOUR)

    assert after_write(held, "b-resealed", kept=True, at=AT) == Secrets(
        "b-resealed", "a", AT + HOUR
    )


def test_a_write_of_another_secret_replaces_it_at_once_with_no_grace() -> None:
    assert after_write(Secrets("b", "a", AT + HOUR), "c", kept=False, at=AT) == Secrets("c")


def test_a_write_that_removes_the_secret_ends_the_rotation() -> None:
    assert after_write(Secrets("b", "a", AT + HOUR), None, kept=False, at=AT) == Secrets(None)


def test_a_write_after_the_grace_drops_the_previous_secret() -> None:
    assert after_write(Secrets("b", "a", AT), "b", kept=True, at=AT + HOUR) == Secrets("b")


# -- generated secrets -----------------------------------------------------------------------


def test_a_generated_secret_is_48_url_safe_characters_and_new_each_time() -> None:
    made = {generate_secret() for _ in range(50)}

    assert len(made) == 50
    for secret in made:
        assert len(secret) == 48
        assert base64.urlsafe_b64decode(secret)  # nothing but the URL-safe alphabet


# -- the request -----------------------------------------------------------------------------


def test_an_empty_request_generates_with_the_default_grace() -> None:
    request = Rotation.model_validate({})

    assert request.secret is None
    assert request.grace == DEFAULT_GRACE_SECONDS == 86_400


def test_nulls_mean_absent_and_unknown_members_are_ignored() -> None:
    request = Rotation.model_validate({"secret": None, "graceSeconds": None, "other": 1})

    assert request == Rotation()


@pytest.mark.parametrize("grace", [0, 1, MAX_GRACE_SECONDS])
def test_a_grace_from_0_to_7_days_is_accepted(grace: int) -> None:
    assert Rotation.model_validate({"graceSeconds": grace}).grace == grace


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"secret": "x" * 31}, "must be 32 to 64 characters long"),
        ({"secret": "x" * 65}, "must be 32 to 64 characters long"),
        ({"secret": 12345678901234567890123456789012}, "valid string"),
        ({"graceSeconds": -1}, "must be 0 to 604800 seconds"),
        ({"graceSeconds": MAX_GRACE_SECONDS + 1}, "must be 0 to 604800 seconds"),
        ({"graceSeconds": 1.5}, "valid integer"),
        ({"graceSeconds": 60.0}, "valid integer"),
        ({"graceSeconds": "60"}, "valid integer"),
        ({"graceSeconds": True}, "valid integer"),
    ],
)
def test_a_bad_request_is_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        Rotation.model_validate(body)


# -- the attempter's signatures --------------------------------------------------------------

VAULT = Vault(["unit-test-key-" + "k" * 32])
NEW, OLD = "n" * 40, "o" * 40
BODY = b'{"hello":"world"}'


def _attempter() -> Attempter:
    settings = load_settings(database_url="sqlite:///unused.db", secret_key="x" * 32)
    return Attempter(Sender(settings), VAULT, RetryPolicy((0,)), random.Random(1))


def _claimed(**fields: Any) -> Claimed:
    values: dict[str, Any] = {
        "delivery_id": "d1",
        "tenant_id": "t1",
        "webhook_id": "w1",
        "event_id": "e1",
        "triggered_at": AT,
        "body": BODY,
        "attempt_count": 0,
        "webhook_enabled": True,
        "url": "https://hooks.example.com/in",
        "headers": {},
        "sealed_secret": VAULT.seal(NEW),
        "sealed_encrypted_headers": None,
        "encrypted_header_names": (),
    }
    return Claimed(**{**values, **fields})


def _v1(secret: str, timestamp: int) -> str:
    signed = f"e1.{timestamp}.".encode() + BODY
    return "v1," + base64.b64encode(hmac.digest(secret.encode(), signed, "sha256")).decode()


def _rotating(until: datetime) -> Claimed:
    return _claimed(sealed_previous_secret=VAULT.seal(OLD), secret_rotating_until=until)


def test_during_the_grace_both_secrets_sign_and_qlik_signature_is_the_new_ones() -> None:
    stamp = int(AT.timestamp())

    headers = _attempter().headers(_rotating(AT + HOUR), BODY, stamp)

    assert headers["webhook-signature"] == f"{_v1(NEW, stamp)} {_v1(OLD, stamp)}"
    assert headers["Qlik-Signature"] == hmac.new(NEW.encode(), BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), HOUR])
def test_from_the_end_of_the_grace_only_the_new_secret_signs(after: timedelta) -> None:
    stamp = int((AT + after).timestamp())

    headers = _attempter().headers(_rotating(AT), BODY, stamp)

    assert headers["webhook-signature"] == _v1(NEW, stamp)


def test_without_a_rotation_the_signatures_are_unchanged() -> None:
    stamp = int(AT.timestamp())

    headers = _attempter().headers(_claimed(), BODY, stamp)

    assert headers["webhook-signature"] == _v1(NEW, stamp)
    assert headers["Qlik-Signature"] == hmac.new(NEW.encode(), BODY, hashlib.sha256).hexdigest()
