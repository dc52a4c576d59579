"""The pure parts of revocation checking (SPEC 5.6): AIA URLs, the OCSP request, how a
response is verified, the cache; and that the webhook's flag reaches the sender."""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from hookline.deliveries import Claimed
from hookline.dispatcher import Attempter
from hookline.egress import GuardedResolver
from hookline.retry import RetryPolicy
from hookline.revocation import (
    REVOKED,
    RevocationChecker,
    RevocationFailed,
    Status,
    StatusCache,
    Unchecked,
    issued_by,
    issuer_urls,
    load_certificates,
    ocsp_request,
    read_response,
    responder_urls,
)
from hookline.sender import Outcome, Sender
from hookline.settings import load_settings
from hookline.vault import Vault
from tests.ocsp import REVOKED_AT, Issued, unsuccessful

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OCSP_URL = "http://ocsp.example.test/"
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def issuer() -> Issued:
    return Issued.of(trustme.CA())


@pytest.fixture(scope="module")
def stranger() -> Issued:
    """Another CA: its signatures mean nothing for ``issuer``'s certificates."""
    return Issued.of(trustme.CA())


@pytest.fixture(scope="module")
def leaf(issuer: Issued) -> x509.Certificate:
    return issuer.issue("hooks.example.test", ocsp_urls=[OCSP_URL]).certificate


def unchecked(data: bytes, leaf: x509.Certificate, issuer: Issued, now: datetime = NOW) -> str:
    with pytest.raises(Unchecked) as raised:
        read_response(data, leaf, issuer.certificate, now)
    return str(raised.value)


# -- AIA and the request -------------------------------------------------------------------


def test_responder_and_issuer_urls_come_from_aia(issuer: Issued) -> None:
    certificate = issuer.issue(
        "a.example.test",
        ocsp_urls=["http://ocsp.one.test/", "ldap://ldap.one.test/", "https://ocsp.two.test/"],
        issuer_urls=["http://ca.one.test/issuer.der"],
    ).certificate
    assert responder_urls(certificate) == ["http://ocsp.one.test/", "https://ocsp.two.test/"]
    assert issuer_urls(certificate) == ["http://ca.one.test/issuer.der"]


def test_a_certificate_without_aia_names_no_url(issuer: Issued) -> None:
    certificate = issuer.issue("a.example.test").certificate
    assert responder_urls(certificate) == []
    assert issuer_urls(certificate) == []


def test_the_request_names_the_certificate_by_sha1_cert_id(
    issuer: Issued, leaf: x509.Certificate
) -> None:
    request = ocsp.load_der_ocsp_request(ocsp_request(leaf, issuer.certificate))
    assert request.serial_number == leaf.serial_number
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert request.issuer_key_hash == (
        x509.SubjectKeyIdentifier.from_public_key(issuer.certificate.public_key()).digest
    )
    assert list(request.extensions) == []  # no nonce: responders may pre-produce answers


def test_issued_by_checks_the_signature_not_just_the_name(
    issuer: Issued, stranger: Issued, leaf: x509.Certificate
) -> None:
    assert issued_by(leaf, issuer.certificate)
    assert not issued_by(leaf, stranger.certificate)
    impostor = (
        Issued(  # the issuer's name, another key
            issuer.certificate, stranger.key
        )
        .issue("hooks.example.test")
        .certificate
    )
    assert not issued_by(impostor, issuer.certificate)


def test_issuer_certificates_load_as_der_pem_and_pkcs7(issuer: Issued) -> None:
    certificate = issuer.certificate
    bundle = pkcs7.serialize_certificates([certificate], serialization.Encoding.DER)
    for data in (issuer.der, issuer.pem, bundle):
        assert load_certificates(data) == [certificate]
    assert load_certificates(b"<html>not a certificate</html>") == []


# -- verifying responses -------------------------------------------------------------------


def test_a_good_answer_holds_until_its_next_update(issuer: Issued, leaf: x509.Certificate) -> None:
    status = read_response(issuer.answer(leaf, "good", NOW), leaf, issuer.certificate, NOW)
    assert status == Status(revoked=False, until=NOW + timedelta(hours=1))
    assert status.problem() is None


def test_a_response_identified_by_name_is_accepted(issuer: Issued, leaf: x509.Certificate) -> None:
    data = issuer.answer(leaf, "good", NOW, by_name=True)
    assert not read_response(data, leaf, issuer.certificate, NOW).revoked


def test_a_revoked_answer_says_since_when_and_why(issuer: Issued, leaf: x509.Certificate) -> None:
    status = read_response(issuer.answer(leaf, "revoked", NOW), leaf, issuer.certificate, NOW)
    assert status.revoked
    assert status.revoked_at == REVOKED_AT
    assert status.problem() == f"{REVOKED} (since 2026-01-02 03:04:05 UTC, reason: key compromise)"
    assert Status(revoked=True, until=None).problem() == REVOKED


def test_an_unknown_answer_is_unchecked(issuer: Issued, leaf: x509.Certificate) -> None:
    assert unchecked(issuer.answer(leaf, "unknown", NOW), leaf, issuer) == (
        "its OCSP responder does not know the certificate (status unknown)"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (ocsp.OCSPResponseStatus.TRY_LATER, "'try later'"),
        (ocsp.OCSPResponseStatus.UNAUTHORIZED, "'unauthorized'"),
        (ocsp.OCSPResponseStatus.INTERNAL_ERROR, "'internal error'"),
    ],
)
def test_an_unsuccessful_response_is_unchecked(
    issuer: Issued, leaf: x509.Certificate, status: ocsp.OCSPResponseStatus, said: str
) -> None:
    assert unchecked(unsuccessful(status), leaf, issuer) == f"its OCSP responder answered {said}"


def test_a_response_that_is_no_ocsp_response_is_unchecked(
    issuer: Issued, leaf: x509.Certificate
) -> None:
    assert unchecked(b"<html>hello</html>", leaf, issuer) == (
        "its OCSP responder's answer is not an OCSP response"
    )


def test_a_response_signed_by_a_stranger_is_unchecked(
    issuer: Issued, stranger: Issued, leaf: x509.Certificate
) -> None:
    # The stranger answers for the issuer's certificate (same CertID), signing as itself.
    data = issuer.answer(leaf, "good", NOW, signer=Issued(stranger.certificate, stranger.key))
    assert unchecked(data, leaf, issuer).startswith(
        "its OCSP response is not signed by the certificate's issuer"
    )


def test_a_forged_signature_is_unchecked(issuer: Issued, leaf: x509.Certificate) -> None:
    data = issuer.answer(leaf, "good", NOW)
    signature = ocsp.load_der_ocsp_response(data).signature
    at = data.rindex(signature) + len(signature) - 1
    forged = data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]
    assert unchecked(forged, leaf, issuer) == "its OCSP response's signature does not verify"


def test_a_delegated_responder_the_issuer_authorised_is_accepted(
    issuer: Issued, leaf: x509.Certificate
) -> None:
    responder = issuer.issue(
        "ocsp.example.test", usage=ExtendedKeyUsageOID.OCSP_SIGNING, not_before=NOW - DAY
    )
    data = issuer.answer(leaf, "revoked", NOW, signer=responder)
    assert read_response(data, leaf, issuer.certificate, NOW).revoked


@pytest.mark.parametrize("problem", ["no OCSPSigning", "another issuer", "expired"])
def test_a_delegated_responder_must_be_authorised_and_valid(
    issuer: Issued, stranger: Issued, leaf: x509.Certificate, problem: str
) -> None:
    signing = ExtendedKeyUsageOID.OCSP_SIGNING
    if problem == "no OCSPSigning":
        responder = issuer.issue("ocsp.example.test", not_before=NOW - DAY)  # serverAuth only
    elif problem == "another issuer":
        responder = stranger.issue("ocsp.example.test", usage=signing, not_before=NOW - DAY)
    else:
        responder = issuer.issue(
            "ocsp.example.test",
            usage=signing,
            not_before=NOW - 60 * DAY,
            not_after=NOW - DAY,
        )
    data = issuer.answer(leaf, "good", NOW, signer=responder)
    assert unchecked(data, leaf, issuer).startswith("its OCSP response is not signed by")


def test_an_answer_about_another_certificate_is_unchecked(
    issuer: Issued, leaf: x509.Certificate
) -> None:
    other = issuer.issue("other.example.test", ocsp_urls=[OCSP_URL]).certificate
    data = issuer.answer(other, "good", NOW)
    assert unchecked(data, leaf, issuer) == "its OCSP response does not answer for this certificate"


@pytest.mark.parametrize(
    ("this_update", "next_update", "said"),
    [
        (timedelta(hours=-3), timedelta(hours=-2), "its OCSP response is out of date"),
        (timedelta(hours=1), timedelta(hours=2), "its OCSP response is dated in the future"),
        (timedelta(hours=-2), None, "its OCSP response is out of date"),
    ],
)
def test_a_response_that_is_not_current_is_unchecked(
    issuer: Issued,
    leaf: x509.Certificate,
    this_update: timedelta,
    next_update: timedelta | None,
    said: str,
) -> None:
    data = issuer.answer(leaf, "good", NOW, this_update=this_update, next_update=next_update)
    assert unchecked(data, leaf, issuer).startswith(said)


def test_a_few_minutes_of_clock_skew_are_allowed(issuer: Issued, leaf: x509.Certificate) -> None:
    data = issuer.answer(
        leaf, "good", NOW, this_update=timedelta(minutes=2), next_update=timedelta(minutes=-2)
    )
    assert not read_response(data, leaf, issuer.certificate, NOW).revoked


def test_a_fresh_response_without_next_update_holds_for_no_time(
    issuer: Issued, leaf: x509.Certificate
) -> None:
    data = issuer.answer(leaf, "good", NOW, next_update=None)
    assert read_response(data, leaf, issuer.certificate, NOW) == Status(revoked=False, until=None)


# -- the cache -----------------------------------------------------------------------------


def test_the_cache_keeps_an_answer_until_its_next_update() -> None:
    cache = StatusCache()
    good = Status(revoked=False, until=NOW + timedelta(hours=1))
    cache.put(b"a", good, NOW)
    assert cache.get(b"a", NOW + timedelta(minutes=59)) == good
    assert cache.get(b"a", NOW + timedelta(hours=1)) is None
    assert len(cache) == 0


def test_the_cache_keeps_no_answer_without_a_future_next_update() -> None:
    cache = StatusCache()
    cache.put(b"a", Status(revoked=False, until=None), NOW)
    cache.put(b"b", Status(revoked=False, until=NOW), NOW)
    assert len(cache) == 0


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = StatusCache(size=2)
    good = Status(revoked=False, until=NOW + timedelta(hours=1))
    cache.put(b"a", good, NOW)
    cache.put(b"b", good, NOW)
    assert cache.get(b"a", NOW) == good  # "a" is now the most recent
    cache.put(b"c", good, NOW)
    assert len(cache) == 2
    assert cache.get(b"b", NOW) is None
    assert cache.get(b"a", NOW) == good


# -- the checker ---------------------------------------------------------------------------


@pytest.fixture
async def checker() -> AsyncIterator[RevocationChecker]:
    checker = RevocationChecker(
        resolver=GuardedResolver(load_settings()),
        tls=ssl.create_default_context(),
        describe=str,
        user_agent="test",
        timeout=30,
        clock=lambda: NOW,
    )
    yield checker
    await checker.close()


async def test_concurrent_checks_of_one_certificate_share_one_lookup(
    checker: RevocationChecker, leaf: x509.Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = 0
    started, answer = asyncio.Event(), asyncio.Event()

    async def ask(_: bytes) -> Status:
        nonlocal asked
        asked += 1
        started.set()
        await answer.wait()
        return Status(revoked=False, until=NOW + timedelta(hours=1))

    monkeypatch.setattr(checker, "_ask", ask)
    der = leaf.public_bytes(serialization.Encoding.DER)
    checks = [asyncio.create_task(checker.check(der)) for _ in range(5)]
    await asyncio.wait_for(started.wait(), 30)  # every check is waiting by now
    answer.set()
    await asyncio.gather(*checks)
    await checker.check(der)  # cached
    assert asked == 1


async def test_a_connection_without_a_certificate_is_unchecked(
    checker: RevocationChecker,
) -> None:
    with pytest.raises(RevocationFailed, match="the connection has no certificate"):
        await checker.check(None)


# -- the flag reaches the sender -----------------------------------------------------------


class RecordingSender(Sender):
    def __init__(self) -> None:
        super().__init__(load_settings())
        self.flags: list[bool] = []

    async def send(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        context: Mapping[str, str] | None = None,
        check_revocation: bool = False,
    ) -> Outcome:
        self.flags.append(check_revocation)
        return Outcome(status_code=200)


@pytest.mark.parametrize("flag", [True, False])
async def test_the_attempter_passes_the_webhooks_flag_to_the_sender(flag: bool) -> None:
    sender = RecordingSender()
    attempter = Attempter(sender, Vault(["k" * 44]), RetryPolicy((0, 5)), random.Random(1))
    values: dict[str, Any] = {
        "delivery_id": "d1",
        "tenant_id": "t1",
        "webhook_id": "w1",
        "event_id": "e1",
        "triggered_at": NOW,
        "body": b"{}",
        "attempt_count": 0,
        "webhook_enabled": True,
        "url": "https://hooks.example.com/in",
        "headers": {},
        "sealed_secret": None,
        "sealed_encrypted_headers": None,
        "encrypted_header_names": (),
    }
    result = await attempter.attempt(Claimed(**values, check_revocation=flag))
    assert result.status == "success"
    assert sender.flags == [flag]
