"""Tests for hookline.signing: Qlik-Signature and Standard Webhooks headers (SPEC 5.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from hookline.signing import (
    delivery_signatures,
    qlik_signature,
    signs_with_previous,
    standard_webhook_headers,
    verify_qlik_signature,
    verify_standard_webhook,
)

SECRET = "0123456789abcdef0123456789abcdef"
BODY = b'{"hello":"world"}'
VECTOR = "ae4dbaa2e6fed582c7e7b06eb38ccced7e238e14d7e6682e7ada41dd69a3cf10"
MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
TIMESTAMP = 1_700_000_000

secrets = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=512)


def library(secret: str) -> standardwebhooks.Webhook:
    """A receiver using the Standard Webhooks reference library, given our secret."""
    return standardwebhooks.Webhook("whsec_" + base64.b64encode(secret.encode()).decode())


def headers_now(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return standard_webhook_headers(secret, MESSAGE_ID, int(time.time()), body)


def with_byte_changed(data: bytes, index: int, xor: int) -> bytes:
    changed = bytearray(data)
    changed[index % len(data)] ^= xor
    return bytes(changed)


# -- Qlik-Signature --------------------------------------------------------------------------


def test_qlik_signature_matches_the_spec_test_vector() -> None:
    assert qlik_signature(SECRET, BODY) == VECTOR


# Non-ASCII secrets and bodies, with digests fixed here (computed once with the standard
# library, as the test below recomputes them), not by hookline: a secret keyed as latin-1,
# or a body re-encoded, gives other digests. The second secret is all latin-1, so such a
# mistake would not even raise.
UNICODE_BODY = '{"app":"Ventes été 2024 — 売上","owner":"Jürgen Ωmega ✓"}'.encode()
UNICODE_VECTORS = [
    (
        "sécret-ключ-秘密-0123456789abcdef",
        "5056db07008584fa7419bacb6c913b45662488fda4c9d52f0c62c48ac4c7b567",
        "qHJOr+GceVNszlltVMH8djDV+ORPn5rqzkzk8uA2rl0=",
    ),
    (
        "sécret-clé-ÄÖÜß-0123456789abcdef",
        "708c2e5c19ba76b706815f116131e5f0858c1a1360a4cae419bec76860672da0",
        "w+XIHL1GbRHo+e3lU1PBcnAQFexiSuabK9/W5CCnblw=",
    ),
]


@pytest.mark.parametrize(("secret", "qlik", "standard"), UNICODE_VECTORS)
def test_the_fixed_vectors_are_the_standard_librarys_hmac_of_the_utf8_bytes(
    secret: str, qlik: str, standard: str
) -> None:
    key = secret.encode("utf-8")
    signed = f"{MESSAGE_ID}.{TIMESTAMP}.".encode() + UNICODE_BODY
    assert hmac.new(key, UNICODE_BODY, hashlib.sha256).hexdigest() == qlik
    assert base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() == standard


@pytest.mark.parametrize(("secret", "qlik", "standard"), UNICODE_VECTORS)
def test_qlik_signature_of_a_non_ascii_secret_and_body_matches_the_fixed_vector(
    secret: str, qlik: str, standard: str
) -> None:
    assert qlik_signature(secret, UNICODE_BODY) == qlik
    assert verify_qlik_signature(secret, UNICODE_BODY, qlik)
    assert verify_qlik_signature(secret, UNICODE_BODY, qlik.upper())


@pytest.mark.parametrize(("secret", "qlik", "standard"), UNICODE_VECTORS)
def test_standard_webhook_signature_of_a_non_ascii_secret_and_body_matches_the_fixed_vector(
    secret: str, qlik: str, standard: str
) -> None:
    headers = standard_webhook_headers(secret, MESSAGE_ID, TIMESTAMP, UNICODE_BODY)
    fixed = {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": f"v1,{standard}",
    }

    assert headers == fixed
    assert verify_standard_webhook(secret, fixed, UNICODE_BODY, now=TIMESTAMP)


def test_qlik_signature_of_an_empty_body_is_defined() -> None:
    assert len(qlik_signature(SECRET, b"")) == 64


def test_qlik_signature_keys_with_the_secrets_utf8_bytes() -> None:
    assert qlik_signature("秘密" * 16, BODY) != qlik_signature("秘密" * 16 + "x", BODY)
    assert verify_qlik_signature("秘密" * 16, BODY, qlik_signature("秘密" * 16, BODY))


def test_verify_qlik_signature_accepts_the_test_vector() -> None:
    assert verify_qlik_signature(SECRET, BODY, VECTOR)


def test_verify_qlik_signature_accepts_upper_case_hex() -> None:
    assert verify_qlik_signature(SECRET, BODY, VECTOR.upper())


@pytest.mark.parametrize(
    "signature",
    [
        "",
        VECTOR[:-1],
        VECTOR + "0",
        VECTOR[:-1] + "1",
        "not hex at all",
        "é" * 64,
        "\ud800" * 64,
        "sha256=" + VECTOR,
    ],
)
def test_verify_qlik_signature_refuses_a_wrong_or_malformed_signature(signature: str) -> None:
    assert not verify_qlik_signature(SECRET, BODY, signature)


def test_verify_qlik_signature_refuses_another_secret() -> None:
    assert not verify_qlik_signature(SECRET[::-1], BODY, VECTOR)


@pytest.mark.parametrize("secret", ["", "\ud800" * 32])
def test_verify_qlik_signature_refuses_an_empty_or_unencodable_secret(secret: str) -> None:
    assert not verify_qlik_signature(secret, BODY, VECTOR)


@pytest.mark.parametrize(
    "sign",
    [
        lambda: qlik_signature("", BODY),
        lambda: standard_webhook_headers("", MESSAGE_ID, TIMESTAMP, BODY),
    ],
)
def test_signing_with_an_empty_secret_is_refused(sign: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="empty secret"):
        sign()


@given(secrets, bodies)
def test_any_body_verifies_against_its_own_qlik_signature(secret: str, body: bytes) -> None:
    assert verify_qlik_signature(secret, body, qlik_signature(secret, body))


@given(secrets, bodies.filter(bool), st.integers(min_value=0), st.integers(1, 255))
def test_any_one_byte_change_breaks_the_qlik_signature(
    secret: str, body: bytes, index: int, xor: int
) -> None:
    signature = qlik_signature(secret, body)
    assert not verify_qlik_signature(secret, with_byte_changed(body, index, xor), signature)


# -- Standard Webhooks: the headers ---------------------------------------------------------


def test_standard_webhook_headers_carry_id_timestamp_and_a_v1_signature() -> None:
    headers = standard_webhook_headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    assert list(headers) == ["webhook-id", "webhook-timestamp", "webhook-signature"]
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["webhook-timestamp"] == "1700000000"
    version, signature = headers["webhook-signature"].split(",")
    assert version == "v1"
    assert len(base64.b64decode(signature, validate=True)) == 32


def test_standard_webhook_signature_is_the_one_the_reference_library_computes() -> None:
    headers = standard_webhook_headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    expected = library(SECRET).sign(
        MESSAGE_ID, datetime.fromtimestamp(TIMESTAMP, UTC), BODY.decode()
    )
    assert headers["webhook-signature"] == expected


def test_the_reference_library_accepts_our_headers() -> None:
    assert library(SECRET).verify(BODY, headers_now(BODY)) == {"hello": "world"}


def test_the_reference_library_refuses_a_tampered_body() -> None:
    headers = headers_now(BODY)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        library(SECRET).verify(b'{"hello":"World"}', headers)


def test_the_reference_library_refuses_our_headers_under_another_secret() -> None:
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        library(SECRET[::-1]).verify(BODY, headers_now(BODY))


@given(secrets, st.text(max_size=256))
def test_the_reference_library_accepts_our_headers_for_any_secret_and_body(
    secret: str, text: str
) -> None:
    body = text.encode()
    library(secret).verify(body, headers_now(body, secret), json_parse=False)


@given(secrets, st.text(min_size=1, max_size=256), st.integers(min_value=0))
def test_the_reference_library_refuses_any_changed_character(
    secret: str, text: str, index: int
) -> None:
    position = index % len(text)
    changed = text[:position] + chr(ord(text[position]) ^ 1) + text[position + 1 :]
    headers = headers_now(text.encode(), secret)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        library(secret).verify(changed.encode(), headers, json_parse=False)


# -- Standard Webhooks: our verifier --------------------------------------------------------


def signed(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return standard_webhook_headers(secret, MESSAGE_ID, TIMESTAMP, body)


def test_verify_standard_webhook_accepts_our_own_headers() -> None:
    assert verify_standard_webhook(SECRET, signed(), BODY, now=TIMESTAMP)


def test_verify_standard_webhook_accepts_headers_signed_by_the_reference_library() -> None:
    signature = library(SECRET).sign(
        MESSAGE_ID, datetime.fromtimestamp(TIMESTAMP, UTC), BODY.decode()
    )
    headers = {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": signature,
    }
    assert verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_standard_webhook_finds_header_names_in_any_case() -> None:
    headers = {name.title(): value for name, value in signed().items()}
    assert "Webhook-Signature" in headers
    assert verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_standard_webhook_accepts_any_of_several_signatures() -> None:
    headers = signed()
    good = headers["webhook-signature"]
    other = signed(secret=SECRET[::-1])["webhook-signature"]
    headers["webhook-signature"] = f"v1,bm90IGl0 {other} v1a,xyz {good}"
    assert verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_standard_webhook_ignores_a_matching_signature_of_another_version() -> None:
    headers = signed()
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    assert not verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_verify_standard_webhook_accepts_a_timestamp_within_the_tolerance(offset: int) -> None:
    assert verify_standard_webhook(SECRET, signed(), BODY, now=TIMESTAMP + offset)


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_verify_standard_webhook_refuses_a_timestamp_outside_the_tolerance(offset: int) -> None:
    assert not verify_standard_webhook(SECRET, signed(), BODY, now=TIMESTAMP + offset)


def test_verify_standard_webhook_tolerance_is_configurable() -> None:
    assert verify_standard_webhook(SECRET, signed(), BODY, now=TIMESTAMP + 3600, tolerance=3600)
    assert not verify_standard_webhook(SECRET, signed(), BODY, now=TIMESTAMP + 10, tolerance=5)


def test_verify_standard_webhook_refuses_a_replay_with_a_fresh_timestamp() -> None:
    headers = signed()
    headers["webhook-timestamp"] = str(TIMESTAMP + 3600)
    assert not verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP + 3600)


def test_verify_standard_webhook_refuses_another_message_id() -> None:
    headers = signed()
    headers["webhook-id"] = "msg_other"
    assert not verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_standard_webhook_refuses_another_secret() -> None:
    assert not verify_standard_webhook(SECRET[::-1], signed(), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_standard_webhook_refuses_a_missing_header(missing: str) -> None:
    headers = signed()
    del headers[missing]
    assert not verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook-id", ""),
        ("webhook-id", "\ud800"),
        ("webhook-timestamp", ""),
        ("webhook-timestamp", "soon"),
        ("webhook-timestamp", "1700000000.0"),
        ("webhook-timestamp", "-1700000000"),
        ("webhook-timestamp", " 1700000000"),
        ("webhook-timestamp", "１７００００００００"),
        ("webhook-timestamp", "9" * 5000),
        ("webhook-signature", ""),
        ("webhook-signature", "v1"),
        ("webhook-signature", "v1,"),
        ("webhook-signature", "v1,!!!not-base64!!!"),
        ("webhook-signature", "v1,é"),
        ("webhook-signature", "v1,\ud800"),
        ("webhook-signature", "   "),
    ],
)
def test_verify_standard_webhook_refuses_malformed_headers_without_raising(
    name: str, value: str
) -> None:
    headers = signed()
    headers[name] = value
    assert not verify_standard_webhook(SECRET, headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("secret", ["", "\ud800" * 32])
def test_verify_standard_webhook_refuses_an_empty_or_unencodable_secret(secret: str) -> None:
    assert not verify_standard_webhook(secret, signed(), BODY, now=TIMESTAMP)


@given(secrets, bodies, st.text(min_size=1, max_size=64), st.integers(0, 2**40))
def test_any_message_verifies_against_its_own_standard_headers(
    secret: str, body: bytes, message_id: str, timestamp: int
) -> None:
    headers = standard_webhook_headers(secret, message_id, timestamp, body)
    assert verify_standard_webhook(secret, headers, body, now=timestamp)


@given(secrets, bodies.filter(bool), st.integers(min_value=0), st.integers(1, 255))
def test_any_one_byte_change_breaks_the_standard_signature(
    secret: str, body: bytes, index: int, xor: int
) -> None:
    headers = standard_webhook_headers(secret, MESSAGE_ID, TIMESTAMP, body)
    changed = with_byte_changed(body, index, xor)
    assert not verify_standard_webhook(secret, headers, changed, now=TIMESTAMP)


# -- Secret rotation: both secrets sign during the grace period ----------------------------

NEW_SECRET = "new-secret-0123456789abcdef-0123456789"
OLD_SECRET = SECRET


def stdlib_v1(secret: str, body: bytes = BODY, timestamp: int = TIMESTAMP) -> str:
    """A Standard Webhooks signature computed here, with the standard library alone."""
    signed = f"{MESSAGE_ID}.{timestamp}.".encode() + body
    return (
        "v1,"
        + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    )


def test_with_a_previous_secret_webhook_signature_lists_the_new_then_the_old() -> None:
    headers = standard_webhook_headers(NEW_SECRET, MESSAGE_ID, TIMESTAMP, BODY, previous=OLD_SECRET)

    assert headers["webhook-signature"] == f"{stdlib_v1(NEW_SECRET)} {stdlib_v1(OLD_SECRET)}"
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["webhook-timestamp"] == str(TIMESTAMP)


def test_delivery_signatures_put_only_the_new_secret_in_qlik_signature() -> None:
    headers = delivery_signatures(NEW_SECRET, MESSAGE_ID, TIMESTAMP, BODY, previous=OLD_SECRET)

    assert list(headers) == [
        "Qlik-Signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ]
    assert (
        headers["Qlik-Signature"] == hmac.new(NEW_SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    )
    assert headers["webhook-signature"] == f"{stdlib_v1(NEW_SECRET)} {stdlib_v1(OLD_SECRET)}"


def test_delivery_signatures_without_a_previous_secret_are_the_single_ones() -> None:
    headers = delivery_signatures(SECRET, MESSAGE_ID, TIMESTAMP, BODY)

    assert headers == {
        "Qlik-Signature": VECTOR,
        **standard_webhook_headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY),
    }
    assert headers["webhook-signature"] == stdlib_v1(SECRET)


@pytest.mark.parametrize("holder", [NEW_SECRET, OLD_SECRET])
def test_the_reference_library_verifies_a_rotating_delivery_with_either_secret(
    holder: str,
) -> None:
    headers = standard_webhook_headers(
        NEW_SECRET, MESSAGE_ID, int(time.time()), BODY, previous=OLD_SECRET
    )

    assert library(holder).verify(BODY, headers) == {"hello": "world"}


def test_the_reference_library_refuses_a_rotating_delivery_under_a_third_secret() -> None:
    headers = standard_webhook_headers(
        NEW_SECRET, MESSAGE_ID, int(time.time()), BODY, previous=OLD_SECRET
    )

    with pytest.raises(standardwebhooks.WebhookVerificationError):
        library("a-third-secret-nobody-was-given-0000").verify(BODY, headers)


@pytest.mark.parametrize("holder", [NEW_SECRET, OLD_SECRET])
def test_our_verifier_accepts_a_rotating_delivery_with_either_secret(holder: str) -> None:
    headers = standard_webhook_headers(NEW_SECRET, MESSAGE_ID, TIMESTAMP, BODY, previous=OLD_SECRET)

    assert verify_standard_webhook(holder, headers, BODY, now=TIMESTAMP)


def test_a_qlik_receiver_with_the_old_secret_refuses_a_rotated_delivery() -> None:
    headers = delivery_signatures(NEW_SECRET, MESSAGE_ID, TIMESTAMP, BODY, previous=OLD_SECRET)

    assert verify_qlik_signature(NEW_SECRET, BODY, headers["Qlik-Signature"])
    assert not verify_qlik_signature(OLD_SECRET, BODY, headers["Qlik-Signature"])


END = datetime.fromtimestamp(TIMESTAMP, UTC)


@pytest.mark.parametrize(
    ("until", "timestamp", "signs"),
    [
        (None, TIMESTAMP, False),
        (END, TIMESTAMP - 3600, True),
        (END, TIMESTAMP - 1, True),
        (END + timedelta(milliseconds=1), TIMESTAMP, True),
        (END, TIMESTAMP, False),
        (END, TIMESTAMP + 1, False),
        (END - timedelta(milliseconds=1), TIMESTAMP, False),
    ],
)
def test_the_previous_secret_signs_only_stamps_before_the_rotation_ends(
    until: datetime | None, timestamp: int, signs: bool
) -> None:
    assert signs_with_previous(until, timestamp) is signs


@given(secrets, secrets, bodies, st.integers(0, 2**40))
def test_any_rotating_message_verifies_under_both_secrets_and_no_other(
    new: str, old: str, body: bytes, timestamp: int
) -> None:
    headers = standard_webhook_headers(new, MESSAGE_ID, timestamp, body, previous=old)

    assert verify_standard_webhook(new, headers, body, now=timestamp)
    assert verify_standard_webhook(old, headers, body, now=timestamp)
    assert not verify_standard_webhook(new + old, headers, body, now=timestamp)  # a third
