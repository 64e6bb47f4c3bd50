"""A small certificate authority for one site: CA, server and client certificates, CRL.

This is the only module that imports ``cryptography``. Everything is PEM text in and
out; files are the caller's business. Keys are ECDSA P-256 (fast to make, accepted by
Mosquitto's OpenSSL and by Python's ssl). Time is an argument (``now``, Unix seconds).

* `new_ca` makes a self-signed CA (10 years);
* `issue` signs a server certificate (``hosts`` become its subjectAltNames: DNS names
  and IP addresses) or a client certificate (``hosts`` empty), 5 years;
* `crl` signs a certificate revocation list naming revoked serial numbers; Mosquitto's
  ``crlfile`` rejects a client certificate listed there. It is valid for 10 years: a
  home broker has nobody to fetch a fresh one, and OpenSSL refuses an expired CRL.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from homeguard.errors import PkiError

__all__ = [
    "Issued",
    "PkiError",
    "certificate_hosts",
    "certificate_serial",
    "crl",
    "issue",
    "new_ca",
]

_CA_DAYS = 3650
_LEAF_DAYS = 1825
_CRL_DAYS = 3650
_SKEW = timedelta(minutes=5)  # clocks of small devices are rarely exact


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key, as PEM text, with the certificate's serial."""

    cert_pem: str
    key_pem: str
    serial: int


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "homeguard"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _when(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def new_ca(common_name: str, now: float) -> Issued:
    """A self-signed CA certificate and key."""
    key = _new_key()
    start = _when(now)
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start - _SKEW)
        .not_valid_after(start + timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key), serial)


def _load_ca(ca: Issued) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
        key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    except ValueError as err:
        raise PkiError(f"cannot read the CA certificate or key: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("the CA key is not an EC key made by homeguard")
    return cert, key


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue(ca: Issued, common_name: str, now: float, *, hosts: Iterable[str] = ()) -> Issued:
    """A certificate signed by ``ca``: for a server when ``hosts`` is given, else a client."""
    ca_cert, ca_key = _load_ca(ca)
    key = _new_key()
    start = _when(now)
    serial = x509.random_serial_number()
    hosts = list(hosts)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if hosts else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start - _SKEW)
        .not_valid_after(start + timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key), serial)


def crl(ca: Issued, revoked: Iterable[int], now: float) -> str:
    """A CRL signed by ``ca`` that lists the ``revoked`` serial numbers."""
    ca_cert, ca_key = _load_ca(ca)
    start = _when(now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(start - _SKEW)
        .next_update(start + timedelta(days=_CRL_DAYS))
    )
    for serial in sorted(set(revoked)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(start - _SKEW)
            .build()
        )
    signed = builder.sign(ca_key, hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.PEM).decode()


def _certificate(cert_pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as err:
        raise PkiError(f"cannot read a certificate: {err}") from None


def certificate_serial(cert_pem: str) -> int:
    return _certificate(cert_pem).serial_number


def certificate_hosts(cert_pem: str) -> set[str]:
    """The DNS names and IP addresses a server certificate is valid for."""
    try:
        san = _certificate(cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    dns = san.value.get_values_for_type(x509.DNSName)
    ips = san.value.get_values_for_type(x509.IPAddress)
    return set(dns) | {str(ip) for ip in ips}
