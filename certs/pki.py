"""In-memory certificate authority for development and tests.

Everything here is pure: no clock reads, no files. Every function takes the moment it
works for (``now``) or explicit validity bounds as timezone-aware UTC datetimes, and
returns ``cryptography`` objects. The on-disk development PKI (``certs.devpki``) and the
tests build on these functions; no certificate fixture file is ever checked in.

Conventions:

* Validity starts :data:`BACKDATE` (one hour) before ``now`` unless ``not_before`` is
  given, so a certificate made "now" is already valid for a verifier whose clock is a
  little behind. It ends ``days``/``years`` after ``now`` unless ``not_after`` is given.
* A signing certificate's subject is ``C=VN, O=<name>, CN=<name>, UID=<OrganId>``: the
  agency's OrganId (mã định danh) sits in the ``UID`` attribute (OID
  0.9.2342.19200300.100.1.1), through which the daemon binds a signer to its agency.
* A leaf copies the CRL distribution point, the OCSP URL and the certificate policy
  of the certificate of the CA that issues it, unless told otherwise (:data:`INHERIT`).
* Deliberately bad certificates for tests are made with ordinary parameters: a wrong
  ``key_usage``, ``ca=True`` on a leaf, ``key_size=1024``, ``hash=hashes.SHA1()``.
  ``cryptography`` refuses to sign certificates with SHA-1, so a SHA-1 certificate is
  re-signed here by editing its DER (see :func:`_resign`).
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)

from axis_errors import ConfigError

__all__ = [
    "BACKDATE",
    "DEFAULT_SIGNING_KEY_USAGE",
    "DOCUMENT_SIGNING_EKU",
    "GOV_POLICY_OID",
    "INHERIT",
    "KEY_USAGE_NAMES",
    "CertHash",
    "Inherit",
    "Issued",
    "KeyType",
    "PrivateKey",
    "SigningHash",
    "fingerprint_sha256",
    "generate_key",
    "gov_like_chain",
    "issue_client_cert",
    "issue_server_cert",
    "issue_signing_cert",
    "make_crl",
    "make_issuing_ca",
    "make_ocsp_response",
    "make_root_ca",
    "organ_id_of",
]

KeyType: TypeAlias = Literal["rsa", "ec"]
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
#: Hashes ``cryptography`` signs certificates, CRLs and OCSP responses with.
SigningHash: TypeAlias = hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512
#: Certificate signature hashes accepted here: SHA-1 too, for negative tests only.
CertHash: TypeAlias = SigningHash | hashes.SHA1

#: How far before ``now`` a new certificate's validity starts by default.
BACKDATE: Final = dt.timedelta(hours=1)

#: id-kp-documentSigning (RFC 9336).
DOCUMENT_SIGNING_EKU: Final = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

#: The certificate policy of the government's G2 issuing CA ("CA phục vụ các cơ quan
#: Nhà nước G2").
GOV_POLICY_OID: Final = "2.16.704.1.1.1.1.1"

#: The names accepted in ``key_usage`` sets (the keyword names of ``x509.KeyUsage``;
#: ``content_commitment`` is nonRepudiation).
KEY_USAGE_NAMES: Final = frozenset(
    {
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    }
)

DEFAULT_SIGNING_KEY_USAGE: Final = frozenset({"digital_signature", "content_commitment"})


class Inherit(enum.Enum):
    """Marker type: "copy this value from the issuing CA's certificate"."""

    INHERIT = "inherit"


INHERIT: Final = Inherit.INHERIT

_EC_CURVES: Final[dict[int, type[ec.EllipticCurve]]] = {
    256: ec.SECP256R1,
    384: ec.SECP384R1,
    521: ec.SECP521R1,
}


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key and the chain of issuers above it.

    ``chain`` holds the issuers' certificates, nearest first, root last; it is empty
    for a root.
    """

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    def cert_pem(self) -> bytes:
        """The certificate, PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The private key, PKCS#8 PEM, unencrypted."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def chain_pem(self) -> bytes:
        """The issuers' certificates, PEM, nearest first."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def fullchain_pem(self) -> bytes:
        """The certificate followed by its issuers (what a TLS server presents)."""
        return self.cert_pem() + self.chain_pem()

    @property
    def root(self) -> x509.Certificate:
        """The self-signed certificate at the top (``cert`` itself for a root)."""
        return self.chain[-1] if self.chain else self.cert

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the certificate, upper-case hex with colons."""
        return fingerprint_sha256(self.cert)

    @property
    def organ_id(self) -> str | None:
        """The OrganId in the subject's UID attribute, if any."""
        return organ_id_of(self.cert)


# --------------------------------------------------------------------------- helpers


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of ``cert`` as ``AB:CD:...`` (OpenSSL's spelling)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def organ_id_of(cert: x509.Certificate) -> str | None:
    """The OrganId a certificate names in its subject's UID attribute, if any."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8")


def generate_key(key_type: KeyType = "rsa", key_size: int | None = None) -> PrivateKey:
    """A fresh private key: RSA (``key_size`` bits, default 2048) or EC (curve P-256,
    P-384 or P-521 by ``key_size``, default 256)."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size or 2048)
    if key_type == "ec":
        curve = _EC_CURVES.get(key_size or 256)
        if curve is None:
            raise ConfigError(
                f"EC key size {key_size} is not one of {sorted(_EC_CURVES)}.",
                code="pki.key-size",
            )
        return ec.generate_private_key(curve())
    raise ConfigError(f"Key type {key_type!r} is neither 'rsa' nor 'ec'.", code="pki.key-type")


def _require_utc(name: str, moment: dt.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigError(
            f"The datetime {name} must be timezone-aware (UTC).", code="pki.naive-datetime"
        )


def _validity(
    now: dt.datetime,
    span: dt.timedelta,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
) -> tuple[dt.datetime, dt.datetime]:
    _require_utc("now", now)
    start = not_before if not_before is not None else now - BACKDATE
    end = not_after if not_after is not None else now + span
    _require_utc("not_before", start)
    _require_utc("not_after", end)
    if end <= start:
        raise ConfigError(
            "A certificate's not_after must follow its not_before.", code="pki.validity"
        )
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _cut_cn(value: str, limit: int = 64) -> str:
    """``value`` cut to ``limit`` UTF-8 bytes at a character boundary (``cryptography``
    enforces the X.520 common-name bound of 64 on the UTF-8 length)."""
    while len(value.encode("utf-8")) > limit:
        value = value[:-1]
    return value.rstrip()


def _name(*attrs: tuple[ObjectIdentifier, str]) -> x509.Name:
    """A distinguished name; a common name is cut to 64 UTF-8 bytes (see :func:`_cut_cn`)."""
    try:
        return x509.Name(
            [
                x509.NameAttribute(oid, _cut_cn(value) if oid == NameOID.COMMON_NAME else value)
                for oid, value in attrs
            ]
        )
    except ValueError as exc:
        raise ConfigError(f"Cannot make a certificate name: {exc}.", code="pki.bad-name") from exc


def _key_usage(names: Iterable[str]) -> x509.KeyUsage:
    wanted = frozenset(names)
    unknown = wanted - KEY_USAGE_NAMES
    if unknown:
        raise ConfigError(
            f"Unknown key usage name(s) {sorted(unknown)}; known: {sorted(KEY_USAGE_NAMES)}.",
            code="pki.key-usage",
        )
    flags = {n: n in wanted for n in KEY_USAGE_NAMES}
    # encipher_only/decipher_only are only meaningful with key_agreement.
    if not flags["key_agreement"]:
        flags["encipher_only"] = flags["decipher_only"] = False
    return x509.KeyUsage(**flags)


def _default_hash(key: PrivateKey) -> SigningHash:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _ext_or_none(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _ca_crl_url(ca: x509.Certificate) -> str | None:
    value = _ext_or_none(ca, x509.CRLDistributionPoints)
    if isinstance(value, x509.CRLDistributionPoints):
        for dp in value:
            for gn in dp.full_name or ():
                if isinstance(gn, x509.UniformResourceIdentifier):
                    return gn.value
    return None


def _ca_ocsp_url(ca: x509.Certificate) -> str | None:
    value = _ext_or_none(ca, x509.AuthorityInformationAccess)
    if isinstance(value, x509.AuthorityInformationAccess):
        for desc in value:
            loc = desc.access_location
            if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
                loc, x509.UniformResourceIdentifier
            ):
                return loc.value
    return None


def _ca_policy_oid(ca: x509.Certificate) -> str | None:
    value = _ext_or_none(ca, x509.CertificatePolicies)
    if isinstance(value, x509.CertificatePolicies):
        for info in value:
            return str(info.policy_identifier.dotted_string)
    return None


def _resolve(value: str | Inherit | None, inherited: str | None) -> str | None:
    return inherited if isinstance(value, Inherit) else value


def _add_revocation_pointers(
    builder: x509.CertificateBuilder,
    *,
    crl_url: str | None,
    ocsp_url: str | None,
    ca_issuers_url: str | None = None,
) -> x509.CertificateBuilder:
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    access: list[x509.AccessDescription] = []
    if ca_issuers_url:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(ca_issuers_url),
            )
        )
    if ocsp_url:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(ocsp_url),
            )
        )
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    return builder


def _add_policy(
    builder: x509.CertificateBuilder, policy_oid: str | None, cps_url: str | None = None
) -> x509.CertificateBuilder:
    if not policy_oid:
        return builder
    qualifiers: list[str | x509.UserNotice] | None = [cps_url] if cps_url else None
    return builder.add_extension(
        x509.CertificatePolicies(
            [x509.PolicyInformation(ObjectIdentifier(policy_oid), qualifiers)]
        ),
        critical=False,
    )


def _sign(
    builder: x509.CertificateBuilder, issuer_key: PrivateKey, hash_alg: CertHash
) -> x509.Certificate:
    if isinstance(hash_alg, hashes.SHA1):
        return _resign(builder.sign(issuer_key, hashes.SHA256()), issuer_key, hash_alg)
    return builder.sign(issuer_key, hash_alg)


def _ski_aki(
    builder: x509.CertificateBuilder, subject_key: PrivateKey, issuer: x509.Certificate | None
) -> x509.CertificateBuilder:
    ski = x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key())
    builder = builder.add_extension(ski, critical=False)
    if issuer is None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    else:
        issuer_ski = _ext_or_none(issuer, x509.SubjectKeyIdentifier)
        if isinstance(issuer_ski, x509.SubjectKeyIdentifier):
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)
        else:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return builder.add_extension(aki, critical=False)


# ------------------------------------------------------------------------------- CAs


def make_root_ca(
    common_name: str,
    *,
    now: dt.datetime,
    years: int = 20,
    organization: str | None = None,
    country: str = "VN",
    key_type: KeyType = "rsa",
    key_size: int | None = None,
    hash: CertHash | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A self-signed root CA: basicConstraints critical CA:TRUE (no path length),
    keyUsage critical keyCertSign+cRLSign, SKI and AKI (= SKI).

    ``key_size`` defaults to 3072 for RSA (the real government roots use 4096;
    :func:`gov_like_chain` does) and 256 (P-256) for EC.
    """
    key = generate_key(key_type, key_size or (3072 if key_type == "rsa" else 256))
    start, end = _validity(now, dt.timedelta(days=365 * years + years // 4), not_before, not_after)
    name = _name(
        (NameOID.COUNTRY_NAME, country),
        (NameOID.ORGANIZATION_NAME, organization or common_name),
        (NameOID.COMMON_NAME, common_name),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage({"key_cert_sign", "crl_sign"}), critical=True)
    )
    builder = _ski_aki(builder, key, None)
    cert = _sign(builder, key, hash or _default_hash(key))
    return Issued(cert=cert, key=key, chain=())


def make_issuing_ca(
    root: Issued,
    common_name: str,
    *,
    now: dt.datetime,
    years: int = 10,
    pathlen: int | None = 0,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    ca_issuers_url: str | None = None,
    policy_oid: str | None = None,
    cps_url: str | None = None,
    organization: str | None = None,
    country: str = "VN",
    key_type: KeyType = "rsa",
    key_size: int | None = None,
    hash: CertHash | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A subordinate CA issued by ``root`` (or by any CA ``Issued``).

    Extensions: basicConstraints critical CA:TRUE with ``pathlen``, keyUsage critical
    keyCertSign+cRLSign, SKI, AKI (the issuer's SKI), and when given: CRL distribution
    point ``crl_url``, AIA with ``ca_issuers_url`` and OCSP ``ocsp_url``, certificate
    policy ``policy_oid`` (with CPS ``cps_url``). Leaves issued by this CA copy the CRL
    URL, OCSP URL and policy by default.
    """
    key = generate_key(key_type, key_size or (3072 if key_type == "rsa" else 256))
    start, end = _validity(now, dt.timedelta(days=365 * years + years // 4), not_before, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            _name(
                (NameOID.COUNTRY_NAME, country),
                (NameOID.ORGANIZATION_NAME, organization or common_name),
                (NameOID.COMMON_NAME, common_name),
            )
        )
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=pathlen), critical=True)
        .add_extension(_key_usage({"key_cert_sign", "crl_sign"}), critical=True)
    )
    builder = _ski_aki(builder, key, root.cert)
    builder = _add_revocation_pointers(
        builder, crl_url=crl_url, ocsp_url=ocsp_url, ca_issuers_url=ca_issuers_url
    )
    builder = _add_policy(builder, policy_oid, cps_url)
    cert = _sign(builder, root.key, hash or _default_hash(root.key))
    return Issued(cert=cert, key=key, chain=(root.cert, *root.chain))


# ---------------------------------------------------------------------------- leaves


def _leaf(
    ca: Issued,
    *,
    subject: x509.Name,
    now: dt.datetime,
    days: int,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    key_type: KeyType,
    key_size: int | None,
    hash_alg: CertHash | None,
    key_usage: frozenset[str] | None,
    eku: Sequence[ObjectIdentifier | str] | None,
    ca_flag: bool,
    crl_url: str | Inherit | None,
    ocsp_url: str | Inherit | None,
    policy_oid: str | Inherit | None,
    san: Sequence[x509.GeneralName] = (),
    key: PrivateKey | None = None,
) -> Issued:
    start, end = _validity(now, dt.timedelta(days=days), not_before, not_after)
    key = key or generate_key(key_type, key_size)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
    )
    if key_usage is not None:
        builder = builder.add_extension(_key_usage(key_usage), critical=True)
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [o if isinstance(o, ObjectIdentifier) else ObjectIdentifier(o) for o in eku]
            ),
            critical=False,
        )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    builder = _ski_aki(builder, key, ca.cert)
    builder = _add_revocation_pointers(
        builder,
        crl_url=_resolve(crl_url, _ca_crl_url(ca.cert)),
        ocsp_url=_resolve(ocsp_url, _ca_ocsp_url(ca.cert)),
    )
    builder = _add_policy(builder, _resolve(policy_oid, _ca_policy_oid(ca.cert)))
    cert = _sign(builder, ca.key, hash_alg or _default_hash(ca.key))
    return Issued(cert=cert, key=key, chain=(ca.cert, *ca.chain))


def issue_signing_cert(
    ca: Issued,
    *,
    organ_id: str,
    name: str,
    now: dt.datetime,
    days: int = 730,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_type: KeyType = "rsa",
    key_size: int | None = None,
    hash: CertHash | None = None,
    key_usage: frozenset[str] | None = DEFAULT_SIGNING_KEY_USAGE,
    eku: Sequence[ObjectIdentifier | str] | None = None,
    ca_flag: bool = False,
    crl_url: str | Inherit | None = INHERIT,
    ocsp_url: str | Inherit | None = INHERIT,
    policy_oid: str | Inherit | None = INHERIT,
    key: PrivateKey | None = None,
) -> Issued:
    """An agency's document-signing certificate issued by ``ca``.

    Subject ``C=VN, O=<name>, CN=<name>, UID=<organ_id>`` (CN cut to 64 UTF-8 bytes).
    keyUsage (critical) is ``key_usage`` (names from :data:`KEY_USAGE_NAMES`; ``None``
    omits the extension); ``eku`` adds an extendedKeyUsage (e.g.
    ``(DOCUMENT_SIGNING_EKU,)``). CRL URL, OCSP URL and policy are copied from the CA's
    certificate unless given (``None`` omits them).

    For negative tests: ``key_usage=frozenset({"key_encipherment"})``, ``ca_flag=True``
    (basicConstraints CA:TRUE on a leaf), ``key_size=1024``, ``hash=hashes.SHA1()``.
    ``key`` reuses an existing private key instead of generating one.
    """
    subject = _name(
        (NameOID.COUNTRY_NAME, "VN"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.COMMON_NAME, name),
        (NameOID.USER_ID, organ_id),
    )
    return _leaf(
        ca,
        subject=subject,
        now=now,
        days=days,
        not_before=not_before,
        not_after=not_after,
        key_type=key_type,
        key_size=key_size,
        hash_alg=hash,
        key_usage=key_usage,
        eku=eku,
        ca_flag=ca_flag,
        crl_url=crl_url,
        ocsp_url=ocsp_url,
        policy_oid=policy_oid,
        key=key,
    )


def issue_server_cert(
    ca: Issued,
    *,
    now: dt.datetime,
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    days: int = 825,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_type: KeyType = "rsa",
    key_size: int | None = None,
) -> Issued:
    """A TLS server certificate (EKU serverAuth) for ``hostnames`` and ``ips``.

    Subject CN is the first host name (or IP). No CRL/OCSP pointers.
    """
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if not names:
        raise ConfigError("A server certificate needs a host name or an IP.", code="pki.no-names")
    cn = hostnames[0] if hostnames else ips[0]
    usage = {"digital_signature"} | ({"key_encipherment"} if key_type == "rsa" else set())
    return _leaf(
        ca,
        subject=_name((NameOID.COUNTRY_NAME, "VN"), (NameOID.COMMON_NAME, cn)),
        now=now,
        days=days,
        not_before=not_before,
        not_after=not_after,
        key_type=key_type,
        key_size=key_size,
        hash_alg=None,
        key_usage=frozenset(usage),
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        ca_flag=False,
        crl_url=None,
        ocsp_url=None,
        policy_oid=None,
        san=names,
    )


def issue_client_cert(
    ca: Issued,
    *,
    system_id: str,
    now: dt.datetime,
    days: int = 825,
    organ_id: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_type: KeyType = "rsa",
    key_size: int | None = None,
) -> Issued:
    """A TLS client certificate (EKU clientAuth) for an mTLS caller.

    Subject ``C=VN, CN=<system_id>`` (plus ``UID=<organ_id>`` when given); subjectAltName
    URI ``urn:axis:system:<system_id>`` (web-PKI client verifiers require a SAN).
    """
    attrs: list[tuple[ObjectIdentifier, str]] = [
        (NameOID.COUNTRY_NAME, "VN"),
        (NameOID.COMMON_NAME, system_id),
    ]
    if organ_id:
        attrs.append((NameOID.USER_ID, organ_id))
    return _leaf(
        ca,
        subject=_name(*attrs),
        now=now,
        days=days,
        not_before=not_before,
        not_after=not_after,
        key_type=key_type,
        key_size=key_size,
        hash_alg=None,
        key_usage=frozenset({"digital_signature"}),
        eku=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        ca_flag=False,
        crl_url=None,
        ocsp_url=None,
        policy_oid=None,
        san=[x509.UniformResourceIdentifier(f"urn:axis:system:{system_id}")],
    )


# ---------------------------------------------------------------------- revocation


def make_crl(
    ca: Issued,
    revoked: Sequence[tuple[int, dt.datetime, x509.ReasonFlags | None]],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime,
    crl_number: int = 1,
    hash: SigningHash | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` listing ``(serial, revocation_time, reason)`` entries.

    Carries the CRL number and the AKI (the CA's SKI); a reason, when given, becomes the
    entry's CRLReason extension.
    """
    _require_utc("this_update", this_update)
    _require_utc("next_update", next_update)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
    )
    ski = _ext_or_none(ca.cert, x509.SubjectKeyIdentifier)
    if isinstance(ski, x509.SubjectKeyIdentifier):
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    for serial, when, reason in revoked:
        _require_utc("revocation_time", when)
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca.key, hash or _default_hash(ca.key))


def make_ocsp_response(
    ca: Issued,
    cert: x509.Certificate,
    status: Literal["good", "revoked", "unknown"],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    revocation_time: dt.datetime | None = None,
    revocation_reason: x509.ReasonFlags | None = None,
    cert_id_hash: hashes.HashAlgorithm | None = None,
    hash: SigningHash | None = None,
) -> ocsp.OCSPResponse:
    """A successful OCSP response about ``cert``, signed by its issuing CA ``ca``
    (the CA is its own responder, identified by key hash).

    ``status="revoked"`` needs ``revocation_time``. The CertID uses SHA-1 by default
    (what responders and requests commonly use).
    """
    _require_utc("this_update", this_update)
    if next_update is not None:
        _require_utc("next_update", next_update)
    statuses = {
        "good": ocsp.OCSPCertStatus.GOOD,
        "revoked": ocsp.OCSPCertStatus.REVOKED,
        "unknown": ocsp.OCSPCertStatus.UNKNOWN,
    }
    if status == "revoked":
        if revocation_time is None:
            raise ConfigError(
                "A 'revoked' OCSP response needs a revocation_time.", code="pki.ocsp-revocation"
            )
        _require_utc("revocation_time", revocation_time)
    else:
        revocation_time = None
        revocation_reason = None
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert,
            issuer=ca.cert,
            algorithm=cert_id_hash or hashes.SHA1(),  # noqa: S303 - CertID, not a signature
            cert_status=statuses[status],
            this_update=this_update,
            next_update=next_update,
            revocation_time=revocation_time,
            revocation_reason=revocation_reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)
    )
    return builder.sign(ca.key, hash or _default_hash(ca.key))


# ------------------------------------------------------------------ government-like


#: Test URLs standing in for ``http://ca.gov.vn/...`` (``.test`` never resolves).
GOV_LIKE_CRL_URL: Final = "http://ca.gov.vn.test/pki/pub/crl/rootcag2.crl"
GOV_LIKE_LEAF_CRL_URL: Final = "http://ca.gov.vn.test/pki/pub/crl/cpcag2.crl"
GOV_LIKE_OCSP_URL: Final = "http://ocsp.ca.gov.vn.test/"
GOV_LIKE_CA_ISSUERS_URL: Final = "http://ca.gov.vn.test/pki/pub/crt/rootcag2.crt"
GOV_LIKE_CPS_URL: Final = "https://ca.gov.vn.test/pki/pub/policies/CP"


def gov_like_chain(now: dt.datetime, *, key_size: int = 4096) -> tuple[Issued, Issued]:
    """A TEST root and issuing CA shaped like the government's G2 chain.

    Mirrors ``RootCA chuyên dùng Chính phủ G2`` / ``CA phục vụ các cơ quan Nhà nước G2``:
    RSA-4096 (``key_size`` may lower it for speed), sha256WithRSA, ``C=VN, O=Ban Cơ yếu
    Chính phủ`` naming (marked TEST), root with basicConstraints CA:TRUE (no pathlen),
    SKI, AKI; issuing CA with pathlen 0, keyUsage keyCertSign+cRLSign, AIA (caIssuers +
    OCSP), certificate policy 2.16.704.1.1.1.1.1 with a CPS URI, a CRL distribution point,
    SKI and AKI. URLs use the reserved ``.test`` domain. The issuing CA's CRL DP names the
    root's CRL, as the real one does; leaves issued from it inherit that URL unless
    ``crl_url=GOV_LIKE_LEAF_CRL_URL`` is passed.
    """
    org = "Ban Cơ yếu Chính phủ (TEST)"
    root = make_root_ca(
        "RootCA chuyên dùng Chính phủ G2 (TEST)",
        now=now,
        years=30,
        organization=org,
        key_type="rsa",
        key_size=key_size,
        hash=hashes.SHA256(),
    )
    issuing = make_issuing_ca(
        root,
        "CA phục vụ các cơ quan Nhà nước G2 (TEST)",
        now=now,
        years=30,
        pathlen=0,
        crl_url=GOV_LIKE_CRL_URL,
        ocsp_url=GOV_LIKE_OCSP_URL,
        ca_issuers_url=GOV_LIKE_CA_ISSUERS_URL,
        policy_oid=GOV_POLICY_OID,
        cps_url=GOV_LIKE_CPS_URL,
        organization=org,
        key_type="rsa",
        key_size=key_size,
        hash=hashes.SHA256(),
    )
    return root, issuing


# ------------------------------------------------------------- SHA-1 re-signing (DER)


def _der_read(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read the TLV at ``pos``: return (start of content, end of content, end of TLV)."""
    pos += 1  # tag (all tags here are single-byte)
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return pos, pos + length, pos + length


def _der_len(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _der_children(data: bytes) -> list[bytes]:
    """The encoded children of the SEQUENCE ``data``."""
    start, end, _ = _der_read(data, 0)
    children = []
    pos = start
    while pos < end:
        _, _, nxt = _der_read(data, pos)
        children.append(data[pos:nxt])
        pos = nxt
    return children


_SIG_ALG_IDS: Final[dict[tuple[str, str], bytes]] = {
    # sha1WithRSAEncryption, with NULL parameters.
    ("rsa", "sha1"): bytes.fromhex("300d06092a864886f70d0101050500"),
    # ecdsa-with-SHA1, absent parameters.
    ("ec", "sha1"): bytes.fromhex("300906072a8648ce3d0401"),
}


def _resign(cert: x509.Certificate, key: PrivateKey, hash_alg: hashes.SHA1) -> x509.Certificate:
    """Re-sign ``cert`` with ``hash_alg`` (SHA-1), which ``CertificateBuilder`` refuses.

    Replaces the signature AlgorithmIdentifier inside the TBSCertificate and outside it,
    signs the new TBS bytes directly with the key, and re-assembles the DER.
    """
    kind = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"
    alg_id = _SIG_ALG_IDS[(kind, hash_alg.name)]
    tbs = cert.tbs_certificate_bytes
    fields = _der_children(tbs)
    # TBSCertificate: [0] version, serialNumber, signature AlgorithmIdentifier, ...
    index = 2 if fields[0][0] == 0xA0 else 1
    fields[index] = alg_id
    new_tbs = _der_tlv(0x30, b"".join(fields))
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(new_tbs, padding.PKCS1v15(), hash_alg)
    else:
        signature = key.sign(new_tbs, ec.ECDSA(hash_alg))
    bit_string = _der_tlv(0x03, b"\x00" + signature)
    der = _der_tlv(0x30, new_tbs + alg_id + bit_string)
    return x509.load_der_x509_certificate(der)
