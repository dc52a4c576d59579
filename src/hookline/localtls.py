"""A certificate for ``hookline listen --https``: a local CA, made once and kept, and a
certificate it signed for localhost, 127.0.0.1 and ::1.

``serve`` trusts the CA with ``HOOKLINE_CA_BUNDLE``. The CA's name constraints let it vouch
for this machine's names only, so its key, should it leak, cannot stand in for any other
host a hookline that trusts it delivers to.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hookline.errors import ConfigError

CA_DAYS = 10 * 365
CERTIFICATE_DAYS = 825
RENEW_DAYS = 30  # a CA or certificate with less left is made again
NAMES = ("localhost",)
ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@dataclass(frozen=True)
class LocalCertificate:
    ca: Path  # the CA's certificate (PEM): what serve trusts, as HOOKLINE_CA_BUNDLE
    certificate: Path  # this machine's certificate (PEM), signed by the CA
    key: Path  # its private key (PEM, mode 0600)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        return context


def default_directory() -> Path:
    """Where ``listen --https`` keeps its CA: ``$XDG_CACHE_HOME/hookline/listen``, by
    default ``~/.cache/hookline/listen`` (the Makefile's ``dev`` target looks there too)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hookline" / "listen"


def local_certificate(directory: Path) -> LocalCertificate:
    """The CA and certificate in ``directory``, made (or made again, when unreadable or
    within RENEW_DAYS of expiring) as needed. Raises ConfigError when it cannot write."""
    found = LocalCertificate(
        directory / "ca.pem", directory / "localhost.pem", directory / "localhost-key.pem"
    )
    ca_key_file = directory / "ca-key.pem"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca = _loaded(found.ca, ca_key_file)
        if ca is None:
            ca = _make_ca()
            _write(ca_key_file, _key_pem(ca[1]), private=True)
            _write(found.ca, ca[0].public_bytes(serialization.Encoding.PEM))
        if not _still_good(found.certificate, ca[0]):
            certificate, key = _issue(*ca)
            _write(found.key, _key_pem(key), private=True)
            _write(found.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    except OSError as error:
        raise ConfigError(f"cannot keep a certificate in {directory}: {error.strerror}") from None
    return found


CA = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _loaded(certificate_file: Path, key_file: Path) -> CA | None:
    """The CA kept in these files, if both read and it has RENEW_DAYS left."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _lasts(certificate):
        return None
    return certificate, key


def _still_good(certificate_file: Path, ca: x509.Certificate) -> bool:
    """Whether the certificate kept there was signed by ``ca`` and has RENEW_DAYS left."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
        certificate.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return _lasts(certificate)


def _lasts(certificate: x509.Certificate) -> bool:
    left = certificate.not_valid_after_utc - _now()
    return left > datetime.timedelta(days=RENEW_DAYS)


def _make_ca() -> CA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hookline listen local CA")])
    certificate = (
        _builder(name, name, key.public_key(), CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    *(x509.DNSName(name) for name in NAMES),
                    *(x509.IPAddress(ipaddress.ip_network(address)) for address in ADDRESSES),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _issue(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAMES[0])])
    names: Sequence[x509.GeneralName] = [
        *(x509.DNSName(name) for name in NAMES),
        *(x509.IPAddress(address) for address in ADDRESSES),
    ]
    certificate = (
        _builder(subject, ca.subject, key.public_key(), CERTIFICATE_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, content: bytes, *, private: bool = False) -> None:
    """Write ``content`` to a temporary file (mode 0600 for a private key) and move it into
    place, so a reader never sees half a file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        if not private:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
