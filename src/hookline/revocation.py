"""Certificate revocation checks over OCSP for ``checkCertificateRevocation`` (SPEC 5.6).

What is checked: the certificate the receiver presents (the leaf), on the very connection
the delivery goes out on, after the TLS handshake has verified its chain and before any
byte of the request is written. Intermediates are not checked: Python 3.11's ``ssl``
does not hand out the verified chain.

How, in the order it happens:

- Only flagged deliveries pay. `hookline.sender.Sender` sends them through a pool of
  their own, built on first use, whose `CheckingConnector` calls `RevocationChecker.check`
  on every connection it hands out, new or reused; a connection whose certificate fails
  is closed, never pooled. Unflagged deliveries use the ordinary pool, unchanged.
- The answer for a certificate (keyed by the SHA-256 of its DER) is cached until the
  OCSP response's ``nextUpdate``, in a bounded LRU; a response without ``nextUpdate``
  is used once and not kept. Concurrent attempts needing the same answer share one
  lookup. Failures are not cached: the next attempt asks again.
- The issuer (whose name and key an OCSP request names) is looked for among the CAs the
  TLS context trusts (the system's and ``HOOKLINE_CA_BUNDLE``), else fetched from the
  certificate's AIA ``caIssuers`` URL; either way it must have signed the certificate.
- The OCSP request (RFC 6960: an HTTP POST of ``application/ocsp-request``, SHA-1
  CertID, no nonce) goes to the first AIA OCSP URL that answers, over ``http://`` or
  ``https://``. Every fetch goes through the egress guard like a delivery: the same
  `GuardedResolver` (``HOOKLINE_RESOLVE``, ``HOOKLINE_ALLOW_NETWORKS``), IP-literal hosts
  checked first, no redirects, no proxy, no cookies, at most 64 KiB read.
- A response counts only when it is successful, signed by the issuer or by a responder
  certificate the issuer signed with ``id-kp-OCSPSigning`` (valid now), answers for this
  very certificate (serial and issuer hashes), and is current (``thisUpdate`` not in the
  future, ``nextUpdate`` not past, 5 minutes' skew allowed; without ``nextUpdate``,
  ``thisUpdate`` within the hour).
- ``good`` lets the attempt go on; ``revoked`` fails it (`REVOKED`); anything else (no
  OCSP URL, no issuer, responder unreachable or refused by the guard, an error status,
  a bad or unsigned response, ``unknown``, no answer within the budget) fails it too
  (`UNCHECKED`). Either way the message is the attempt's error, and it is retried like
  any failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    SignatureAlgorithmOID,
)
from yarl import URL

from hookline.egress import EgressRefused, GuardedResolver
from hookline.errors import HooklineError

REVOKED = "the receiver's certificate is revoked"
UNCHECKED = "the receiver's certificate revocation status could not be checked"

MAX_RESPONSE_BYTES = 64 * 1024
STATUS_CACHE_SIZE = 4096
ISSUER_CACHE_SIZE = 256
FETCH_CONNECTION_LIMIT = 32
CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE_WITHOUT_NEXT_UPDATE = timedelta(hours=1)

_FETCH_FAILURES = (aiohttp.ClientError, OSError, EgressRefused, ValueError)
_HTTP = ("http://", "https://")


class RevocationFailed(HooklineError):
    """The attempt may not go on; the message (`REVOKED` or `UNCHECKED`...) says why."""


class Unchecked(Exception):
    """Why a certificate's status could not be learned, in words (becomes `UNCHECKED`)."""


@dataclass(frozen=True)
class Status:
    """A verified OCSP answer for one certificate: good or revoked, valid ``until``."""

    revoked: bool
    until: datetime | None  # the response's nextUpdate
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None

    def problem(self) -> str | None:
        """The attempt's error for a revoked certificate; None for a good one."""
        if not self.revoked:
            return None
        details = []
        if self.revoked_at is not None:
            details.append(f"since {self.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
        if self.reason is not None and self.reason is not x509.ReasonFlags.unspecified:
            details.append(f"reason: {self.reason.name.replace('_', ' ')}")
        return f"{REVOKED} ({', '.join(details)})" if details else REVOKED


# -- the pure parts ------------------------------------------------------------------------


def responder_urls(certificate: x509.Certificate) -> list[str]:
    """The certificate's OCSP responders (AIA ``id-ad-ocsp``) reachable over HTTP(S)."""
    return _access_urls(certificate, AuthorityInformationAccessOID.OCSP)


def issuer_urls(certificate: x509.Certificate) -> list[str]:
    """Where the certificate's issuer certificate may be fetched (AIA ``id-ad-caIssuers``)."""
    return _access_urls(certificate, AuthorityInformationAccessOID.CA_ISSUERS)


def _access_urls(certificate: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        description.access_location.value
        for description in access.value
        if description.access_method == method
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
        and description.access_location.value.lower().startswith(_HTTP)
    ]


def ocsp_request(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The DER OCSP request for ``certificate``: one SHA-1 CertID, no nonce."""
    # SHA-1 names the certificate here (RFC 5019 has responders support it); it signs nothing.
    sha1 = hashes.SHA1()  # noqa: S303
    builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, sha1)
    return builder.build().public_bytes(serialization.Encoding.DER)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s name is ``certificate``'s issuer and its key signed it."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from a ``caIssuers`` answer: DER, PEM, or PKCS#7 (DER or PEM)."""
    loaders: tuple[Callable[[bytes], list[x509.Certificate]], ...] = (
        lambda raw: [x509.load_der_x509_certificate(raw)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for load in loaders:
        try:
            return load(data)
        except (ValueError, UnsupportedAlgorithm):
            continue
    return []


def read_response(
    data: bytes, certificate: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> Status:
    """The verified status of ``certificate`` from a DER OCSP response; `Unchecked` when
    the response does not establish it (see the module's docstring for the rules)."""
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError:
        raise Unchecked("its OCSP responder's answer is not an OCSP response") from None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        status = response.response_status.name.lower().replace("_", " ")
        raise Unchecked(f"its OCSP responder answered '{status}'")
    try:
        signer = _signer(response, issuer, now)
        _verify_signature(response, signer)
        single = _single_response(response, certificate, issuer)
        this_update, next_update = single.this_update_utc, single.next_update_utc
        certificate_status = single.certificate_status
        revoked_at, reason = single.revocation_time_utc, single.revocation_reason
    except ValueError:
        raise Unchecked("its OCSP response is malformed") from None
    if this_update > now + CLOCK_SKEW:
        raise Unchecked("its OCSP response is dated in the future")
    if next_update is None:
        if this_update < now - MAX_AGE_WITHOUT_NEXT_UPDATE:
            raise Unchecked("its OCSP response is out of date (no nextUpdate, an old thisUpdate)")
    elif next_update < now - CLOCK_SKEW:
        raise Unchecked(
            f"its OCSP response is out of date (nextUpdate {next_update:%Y-%m-%d %H:%M:%S} UTC)"
        )
    if certificate_status is ocsp.OCSPCertStatus.GOOD:
        return Status(revoked=False, until=next_update)
    if certificate_status is ocsp.OCSPCertStatus.REVOKED:
        return Status(revoked=True, until=next_update, revoked_at=revoked_at, reason=reason)
    raise Unchecked("its OCSP responder does not know the certificate (status unknown)")


def _signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The issuer, or a responder certificate it authorised, named as the response's signer."""
    if _is_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if (
            _is_responder(response, candidate)
            and issued_by(candidate, issuer)
            and _may_sign_ocsp(candidate)
            and candidate.not_valid_before_utc - CLOCK_SKEW
            <= now
            <= candidate.not_valid_after_utc + CLOCK_SKEW
        ):
            return candidate
    raise Unchecked(
        "its OCSP response is not signed by the certificate's issuer"
        " or by a responder the issuer authorised"
    )


def _is_responder(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    key_hash = response.responder_key_hash
    if key_hash is not None:
        return key_hash == _key_hash(certificate)
    return response.responder_name == certificate.subject


def _key_hash(certificate: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey bits: RFC 6960's KeyHash (RFC 5280's key id, method 1)."""
    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _may_sign_ocsp(certificate: x509.Certificate) -> bool:
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in usages


def _verify_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    data, signature = response.tbs_response_bytes, response.signature
    try:
        algorithm = response.signature_hash_algorithm
        pss = response.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None and not pss:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            raise Unchecked("its OCSP response's signature algorithm is not supported")
    except UnsupportedAlgorithm:
        raise Unchecked("its OCSP response's signature algorithm is not supported") from None
    except InvalidSignature:
        raise Unchecked("its OCSP response's signature does not verify") from None


def _single_response(
    response: ocsp.OCSPResponse, certificate: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    """The response's answer for this certificate: same serial, same issuer hashes."""
    for single in response.responses:
        if single.serial_number != certificate.serial_number:
            continue
        try:
            # The builder computes a CertID's hashes with whichever algorithm it names.
            expected = ocsp.OCSPRequestBuilder().add_certificate(
                certificate, issuer, single.hash_algorithm
            )
            request = expected.build()
        except (ValueError, UnsupportedAlgorithm):
            continue
        if (single.issuer_name_hash, single.issuer_key_hash) == (
            request.issuer_name_hash,
            request.issuer_key_hash,
        ):
            return single
    raise Unchecked("its OCSP response does not answer for this certificate")


class StatusCache:
    """Verified answers by certificate fingerprint, each until its ``until``; LRU-bounded."""

    def __init__(self, size: int = STATUS_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, Status] = OrderedDict()

    def get(self, key: bytes, now: datetime) -> Status | None:
        status = self._entries.get(key)
        if status is None:
            return None
        if status.until is None or status.until <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return status

    def put(self, key: bytes, status: Status, now: datetime) -> None:
        """Keep ``status`` until its ``until``; one without a future ``until`` is not kept."""
        if status.until is None or status.until <= now:
            return
        self._entries[key] = status
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


# -- the checker ---------------------------------------------------------------------------


class RevocationChecker:
    """Learns whether certificates are revoked, over OCSP through the egress guard."""

    def __init__(
        self,
        *,
        resolver: GuardedResolver,
        tls: ssl.SSLContext,
        describe: Callable[[BaseException], str],
        user_agent: str,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._resolver = resolver
        self._tls = tls
        self._describe = describe
        self._user_agent = user_agent
        self._timeout = timeout
        self._clock = clock
        self._statuses = StatusCache()
        self._issuers: OrderedDict[str, list[x509.Certificate]] = OrderedDict()
        self._anchors: dict[bytes, list[x509.Certificate]] | None = None
        self._pending: dict[bytes, asyncio.Task[Status]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def check(self, certificate: bytes | None) -> None:
        """Return when the DER ``certificate`` is known good; else raise RevocationFailed."""
        if certificate is None:
            raise RevocationFailed(f"{UNCHECKED}: the connection has no certificate (not TLS)")
        key = hashlib.sha256(certificate).digest()
        status = self._statuses.get(key, self._clock())
        if status is None:
            try:
                status = await asyncio.shield(self._lookup(key, certificate))
            except Unchecked as problem:
                raise RevocationFailed(f"{UNCHECKED}: {problem}") from None
        revoked = status.problem()
        if revoked is not None:
            raise RevocationFailed(revoked)

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _lookup(self, key: bytes, certificate: bytes) -> asyncio.Task[Status]:
        """The one lookup under way for this certificate, started if there is none."""
        task = self._pending.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._learn(key, certificate))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return task

    def _settled(self, key: bytes, task: asyncio.Task[Status]) -> None:
        if self._pending.get(key) is task:
            del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone (timeouts)

    async def _learn(self, key: bytes, certificate: bytes) -> Status:
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._ask(certificate)
        except TimeoutError:
            raise Unchecked(f"no answer within {self._timeout:g} s") from None
        self._statuses.put(key, status, self._clock())
        return status

    async def _ask(self, der: bytes) -> Status:
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise Unchecked("the certificate cannot be parsed") from None
        urls = responder_urls(certificate)
        if not urls:
            raise Unchecked("the certificate names no OCSP responder")
        issuer = await self._issuer(certificate)
        request = ocsp_request(certificate, issuer)
        problems = []
        for url in urls:
            try:
                answer = await self._fetch(f"its OCSP responder {url}", url, request)
                return read_response(answer, certificate, issuer, self._clock())
            except Unchecked as problem:
                problems.append(str(problem))
        raise Unchecked(problems[0])

    async def _issuer(self, certificate: x509.Certificate) -> x509.Certificate:
        """The certificate's issuer: a trusted CA, else the one its AIA names."""
        for candidate in self._trusted().get(certificate.issuer.public_bytes(), []):
            if issued_by(certificate, candidate):
                return candidate
        urls = issuer_urls(certificate)
        if not urls:
            raise Unchecked(
                "its issuer's certificate is not among the trusted CAs"
                " and the certificate names no caIssuers URL"
            )
        problems = []
        for url in urls:
            try:
                candidates = await self._issuer_certificates(url)
            except Unchecked as problem:
                problems.append(str(problem))
                continue
            for candidate in candidates:
                if issued_by(certificate, candidate):
                    return candidate
            problems.append(f"its caIssuers URL {url} does not hold its issuer's certificate")
        raise Unchecked(problems[0])

    def _trusted(self) -> dict[bytes, list[x509.Certificate]]:
        """The TLS context's CAs by subject, read once, on first use."""
        if self._anchors is None:
            anchors: dict[bytes, list[x509.Certificate]] = {}
            with warnings.catch_warnings():  # some system CAs break rules cryptography warns of
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                for der in self._tls.get_ca_certs(binary_form=True):
                    try:
                        anchor = x509.load_der_x509_certificate(der)
                        anchors.setdefault(anchor.subject.public_bytes(), []).append(anchor)
                    except ValueError:
                        continue
            self._anchors = anchors
        return self._anchors

    async def _issuer_certificates(self, url: str) -> list[x509.Certificate]:
        found = self._issuers.get(url)
        if found is None:
            found = load_certificates(await self._fetch(f"its caIssuers URL {url}", url, None))
            if not found:
                raise Unchecked(f"its caIssuers URL {url} holds no certificate")
            self._issuers[url] = found
            while len(self._issuers) > ISSUER_CACHE_SIZE:
                self._issuers.popitem(last=False)
        self._issuers.move_to_end(url)
        return found

    async def _fetch(self, what: str, url: str, ocsp_request: bytes | None) -> bytes:
        """GET ``url`` (or POST the OCSP request to it) through the egress guard."""
        try:
            target = URL(url)
            host = target.raw_host or ""
            problem = self._resolver.literal_problem(host) if host else "the URL has no host"
            if problem is not None:
                raise EgressRefused(problem)
            headers = {"User-Agent": self._user_agent}
            if ocsp_request is not None:
                headers["Content-Type"] = "application/ocsp-request"
                headers["Accept"] = "application/ocsp-response"
            method = "GET" if ocsp_request is None else "POST"
            async with self._open().request(
                method, target, data=ocsp_request, headers=headers, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise Unchecked(f"{what} answered HTTP {response.status}")
                body = bytearray()
                while chunk := await response.content.read(MAX_RESPONSE_BYTES + 1 - len(body)):
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise Unchecked(f"{what} sent more than {MAX_RESPONSE_BYTES // 1024} KiB")
                return bytes(body)
        except _FETCH_FAILURES as error:
            raise Unchecked(f"{what} is unreachable ({self._describe(error)})") from None

    def _open(self) -> aiohttp.ClientSession:
        """The session for OCSP and caIssuers requests: guarded like deliveries."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=FETCH_CONNECTION_LIMIT,
                resolver=self._resolver,
                use_dns_cache=False,
                ssl=self._tls,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),  # the checker's budget bounds it
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # a proxy from the environment would bypass the guard
            )
        return self._session


class CheckingConnector(aiohttp.TCPConnector):
    """Hands out a connection only once its peer's certificate is known not revoked.

    Every connection is checked, a pooled one too (a cache hit, usually), so an answer
    that expires while a connection stays open is asked again. A connection that fails
    the check is closed, not pooled.
    """

    def __init__(self, checker: RevocationChecker, **options: Any) -> None:
        super().__init__(**options)
        self._checker = checker

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        try:
            await self._checker.check(peer_certificate(connection))
        except BaseException:
            connection.close()
            raise
        return connection


def peer_certificate(connection: Connection) -> bytes | None:
    """The DER certificate the connection's peer presented; None without TLS."""
    transport = connection.transport
    ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    return ssl_object.getpeercert(binary_form=True)
