"""Trust material and revocation data as values (no file reads: callers pass bytes).

:class:`TrustStore` holds the anchors a path must end in and optional known
intermediates; :class:`RevocationData` holds CRLs and OCSP responses the caller fetched
(``adapters/`` does the fetching). Both are frozen and carry a stable ``fingerprint`` so
that path results can be cached per (trust set, revocation data) pair.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.verification import Store

from axis_errors import ConfigError, SignatureError

__all__ = [
    "NO_REVOCATION_DATA",
    "RevocationData",
    "TrustStore",
    "cert_sha256",
    "load_certificates",
    "load_crl",
    "load_ocsp_response",
]

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_CRL = b"-----BEGIN X509 CRL-----"


def load_certificates(blob: bytes) -> tuple[x509.Certificate, ...]:
    """Every certificate in ``blob``: one or more PEM blocks, or a single DER certificate.

    Raises :class:`ConfigError` (``config.certificate-unreadable``) if nothing readable.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise ConfigError(
            f"Certificate data must be bytes, not {type(blob).__name__}.",
            code="config.certificate-unreadable",
        )
    data = bytes(blob)
    try:
        if _PEM_CERT in data:
            certs = tuple(x509.load_pem_x509_certificates(data))
        else:
            certs = (x509.load_der_x509_certificate(data),)
    except ValueError as exc:
        raise ConfigError(
            f"Certificate data is neither PEM nor DER X.509 ({exc}).",
            code="config.certificate-unreadable",
        ) from exc
    return certs


def load_crl(blob: bytes) -> x509.CertificateRevocationList:
    """One CRL from PEM or DER bytes; :class:`SignatureError` ``sig.crl-unreadable``."""
    data = bytes(blob)
    try:
        if _PEM_CRL in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise SignatureError(
            f"CRL data is neither PEM nor DER X.509 CRL ({exc}).", code="sig.crl-unreadable"
        ) from exc


def load_ocsp_response(blob: bytes) -> ocsp.OCSPResponse:
    """One OCSP response (DER, or PEM-armoured); ``sig.ocsp-unreadable`` if not."""
    data = bytes(blob)
    if data.lstrip().startswith(b"-----BEGIN"):
        lines = [ln for ln in data.strip().splitlines() if not ln.startswith(b"-----")]
        try:
            data = base64.b64decode(b"".join(lines), validate=True)
        except ValueError as exc:
            raise SignatureError(
                "OCSP response PEM armour holds no valid base64.", code="sig.ocsp-unreadable"
            ) from exc
    try:
        return ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise SignatureError(
            f"OCSP response data is not a DER OCSPResponse ({exc}).", code="sig.ocsp-unreadable"
        ) from exc


#: at most this many certificates keep their fingerprint in :func:`cert_sha256`
_FINGERPRINTS_KEPT = 4096
_fingerprints: dict[int, tuple[x509.Certificate, bytes]] = {}


def cert_sha256(cert: x509.Certificate) -> bytes:
    """The SHA-256 of ``cert``'s DER, remembered for the object itself.

    The verifier meets the same certificate objects packet after packet (a KeyInfo is
    decoded once, anchors are loaded once), and cryptography computes a fingerprint by
    serializing the certificate again: ~19 us, where this lookup is well under 1 us. The
    key is the object's identity (``hash()`` and ``==`` of a certificate cost ~4-5 us
    each: they serialize too); the entry holds the object, so its id cannot be reused
    while the entry exists. Thread-safe under the GIL (dict operations only).
    """
    hit = _fingerprints.get(id(cert))
    if hit is not None and hit[0] is cert:
        return hit[1]
    fp = cert.fingerprint(hashes.SHA256())
    if len(_fingerprints) >= _FINGERPRINTS_KEPT:
        _fingerprints.clear()
    _fingerprints[id(cert)] = (cert, fp)
    return fp


@dataclass(frozen=True)
class TrustStore:
    """Anchors (trusted roots or pinned CAs) and optional known intermediates."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        for name in ("anchors", "intermediates"):
            value = tuple(getattr(self, name))
            for cert in value:
                if not isinstance(cert, x509.Certificate):
                    raise ConfigError(
                        f"TrustStore.{name} must hold x509.Certificate objects, "
                        f"not {type(cert).__name__}.",
                        code="config.trust-invalid",
                    )
            object.__setattr__(self, name, value)
        if not self.anchors:
            raise ConfigError(
                "TrustStore has no anchors: no certificate path could ever be trusted.",
                code="config.trust-empty",
            )

    @classmethod
    def from_pem_bytes(cls, *blobs: bytes, intermediates: Iterable[bytes] = ()) -> TrustStore:
        """Anchors from each blob (PEM, possibly several per blob, or DER)."""
        anchors = tuple(c for blob in blobs for c in load_certificates(blob))
        inter = tuple(c for blob in intermediates for c in load_certificates(blob))
        return cls(anchors=anchors, intermediates=inter)

    @cached_property
    def verification_store(self) -> Store:
        """The anchors as a ``cryptography`` verification store (built once)."""
        return Store(list(self.anchors))

    @cached_property
    def fingerprint(self) -> str:
        """Stable id of the set (order-insensitive, duplicates ignored): hex SHA-256."""
        h = hashlib.sha256(b"axis-trust-v1")
        for label, certs in ((b"A", self.anchors), (b"I", self.intermediates)):
            for fp in sorted({cert_sha256(c) for c in certs}):
                h.update(label + fp)
        return h.hexdigest()


@dataclass(frozen=True)
class RevocationData:
    """CRLs and OCSP responses the caller holds for this verification."""

    crls: tuple[x509.CertificateRevocationList, ...] = ()
    ocsp_responses: tuple[ocsp.OCSPResponse, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "crls", tuple(self.crls))
        object.__setattr__(self, "ocsp_responses", tuple(self.ocsp_responses))
        for crl in self.crls:
            if not isinstance(crl, x509.CertificateRevocationList):
                raise SignatureError(
                    f"RevocationData.crls must hold CRL objects, not {type(crl).__name__}.",
                    code="sig.crl-unreadable",
                )
        for resp in self.ocsp_responses:
            if not isinstance(resp, ocsp.OCSPResponse):
                raise SignatureError(
                    "RevocationData.ocsp_responses must hold OCSPResponse objects, "
                    f"not {type(resp).__name__}.",
                    code="sig.ocsp-unreadable",
                )

    @classmethod
    def from_bytes(
        cls, *, crls: Iterable[bytes] = (), ocsp_responses: Iterable[bytes] = ()
    ) -> RevocationData:
        """Parse CRLs (PEM or DER) and OCSP responses (DER or PEM armour)."""
        return cls(
            crls=tuple(load_crl(b) for b in crls),
            ocsp_responses=tuple(load_ocsp_response(b) for b in ocsp_responses),
        )

    @cached_property
    def fingerprint(self) -> str:
        """Stable id of the data (order-insensitive): hex SHA-256 over the DER items."""
        h = hashlib.sha256(b"axis-revocation-v1")
        items = sorted(
            [b"C" + hashlib.sha256(c.public_bytes(Encoding.DER)).digest() for c in self.crls]
            + [
                b"O" + hashlib.sha256(r.public_bytes(Encoding.DER)).digest()
                for r in self.ocsp_responses
            ]
        )
        for item in dict.fromkeys(items):
            h.update(item)
        return h.hexdigest()


#: Revocation data with nothing in it (valid under soft-fail only).
NO_REVOCATION_DATA = RevocationData()
