"""A small PKI for revocation tests: certificates with AIA extensions, issued by a trustme
CA (or its intermediate), and OCSP answers built with ``cryptography``'s ``x509.ocsp``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

Verdict = Literal["good", "revoked", "unknown"]
REVOKED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHA1 = hashes.SHA1()  # noqa: S303 (OCSP's CertID, not a signature)


@dataclass(frozen=True)
class Issued:
    """A certificate and its key."""

    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def of(cls, ca: trustme.CA) -> Issued:
        """A trustme CA as an issuer."""
        certificate = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
        key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(certificate, key)

    def issue(
        self,
        *names: str,
        ocsp_urls: Sequence[str] = (),
        issuer_urls: Sequence[str] = (),
        usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.SERVER_AUTH,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Issued:
        """A leaf certificate for ``names`` (a delegated OCSP responder, with ``usage``)."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or datetime.now(UTC) - timedelta(days=1)
        issuer_key_id = self.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(not_after or start + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_key_id),
                critical=False,
            )
        )
        access = [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
            )
            for url in ocsp_urls
        ] + [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
            )
            for url in issuer_urls
        ]
        if access:
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def answer(
        self,
        certificate: x509.Certificate,
        verdict: Verdict,
        now: datetime,
        *,
        signer: Issued | None = None,
        next_update: timedelta | None = timedelta(hours=1),
        this_update: timedelta = timedelta(minutes=-1),
        by_name: bool = False,
    ) -> bytes:
        """A DER OCSP response for ``certificate``, dated from ``now``, signed by this
        issuer or by ``signer`` (a delegated responder, included in the response)."""
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=certificate,
            issuer=self.certificate,
            algorithm=SHA1,
            cert_status=_STATUSES[verdict],
            this_update=now + this_update,
            next_update=None if next_update is None else now + next_update,
            revocation_time=REVOKED_AT if verdict == "revoked" else None,
            revocation_reason=x509.ReasonFlags.key_compromise if verdict == "revoked" else None,
        )
        return self._sign(builder, signer, by_name)

    def answer_request(
        self, request: bytes, verdict: Verdict, now: datetime, *, next_update: timedelta
    ) -> bytes:
        """A DER OCSP response to a DER OCSP request, signed by this issuer."""
        asked = ocsp.load_der_ocsp_request(request)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=asked.issuer_name_hash,
            issuer_key_hash=asked.issuer_key_hash,
            serial_number=asked.serial_number,
            algorithm=asked.hash_algorithm,
            cert_status=_STATUSES[verdict],
            this_update=now - timedelta(minutes=1),
            next_update=now + next_update,
            revocation_time=REVOKED_AT if verdict == "revoked" else None,
            revocation_reason=x509.ReasonFlags.key_compromise if verdict == "revoked" else None,
        )
        return self._sign(builder, None, False)

    def _sign(
        self, builder: ocsp.OCSPResponseBuilder, signer: Issued | None, by_name: bool
    ) -> bytes:
        signed_by = signer or self
        encoding = ocsp.OCSPResponderEncoding.NAME if by_name else ocsp.OCSPResponderEncoding.HASH
        builder = builder.responder_id(encoding, signed_by.certificate)
        if signer is not None:
            builder = builder.certificates([signer.certificate])
        response = builder.sign(signed_by.key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


_STATUSES = {
    "good": ocsp.OCSPCertStatus.GOOD,
    "revoked": ocsp.OCSPCertStatus.REVOKED,
    "unknown": ocsp.OCSPCertStatus.UNKNOWN,
}


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )
