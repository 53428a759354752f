"""Signed PDF attachments (PAdES): one verdict per PDF file a document carries.

Pure (no I/O, no clock: the moment is an argument) and CPU-heavy, so it runs where the
packet's XML signature is verified (:mod:`axis.analysis`, off the event loop).

- Every attachment's files are taken (a ZIP yields its members, with the model's caps);
  only files starting with ``%PDF`` are checked, others get no verdict.
- Each PDF's embedded signatures are validated with pyHanko
  (``validate_pdf_signature``) against a ``ValidationContext`` built from the SAME trust
  anchors, intermediates and CRLs the daemon loaded for XML signatures, with fetching
  off and the revocation mode of the signature policy.
- The vocabulary is :class:`signing.policy.Outcome`'s: ``valid``, ``invalid`` (the
  bytes do not match the signature, the file was changed after signing beyond what its
  signature allows, or the PDF cannot be read), ``untrusted``, ``revoked``, ``expired``,
  ``not-yet-valid``, ``weak-algorithm``, ``unsigned`` (a PDF without signatures).
  A PDF with several signatures gets the worst of their verdicts, the first signer's
  subject and every signature's reasons.
- Nothing here raises for a bad PDF: an unreadable one is ``invalid`` with a reason.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding

from axis_errors import AxisError
from edxml.model import Attachment
from signing.policy import Outcome, RevocationMode, SignaturePolicy
from signing.trust import RevocationData, TrustStore

__all__ = [
    "AttachmentVerdict",
    "attachment_summary",
    "verify_attachments",
    "verify_pdf",
]

log = logging.getLogger("axis.pades")
# pyHanko logs an expected path-building failure (an untrusted signer) with a traceback;
# the verdict and its reasons already say it.
logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.CRITICAL)

PDF_MAGIC: Final = b"%PDF"
#: worst first: a PDF with several signatures gets the worst of their verdicts
SEVERITY: Final = (
    Outcome.INVALID.value,
    Outcome.REVOKED.value,
    Outcome.UNTRUSTED.value,
    Outcome.EXPIRED.value,
    Outcome.NOT_YET_VALID.value,
    Outcome.WEAK_ALGORITHM.value,
    Outcome.UNSIGNED.value,
    Outcome.VALID.value,
)
NO_PDF: Final = "none"  # the attachment summary of a document without a PDF


@dataclass(frozen=True, slots=True)
class AttachmentVerdict:
    """The verdict on one PDF file of a document (small, picklable)."""

    content_id: str
    name: str
    verdict: str
    signatures: int = 0
    signer_subject: str | None = None
    signer_sha256: str | None = None
    issuer: str | None = None
    reasons: tuple[str, ...] = ()
    sha256: str = ""
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_id": self.content_id,
            "name": self.name,
            "verdict": self.verdict,
            "signatures": self.signatures,
            "signer_subject": self.signer_subject,
            "signer_sha256": self.signer_sha256,
            "issuer": self.issuer,
            "reasons": list(self.reasons),
            "sha256": self.sha256,
            "size": self.size,
        }


def attachment_summary(verdicts: Iterable[AttachmentVerdict]) -> str:
    """A document's attachments in one word: ``valid`` when at least one PDF is validly
    signed, else the best other verdict among its PDFs (``unsigned`` before
    ``untrusted``... by :data:`SEVERITY`, best last), ``none`` without a PDF."""
    found = [v.verdict for v in verdicts]
    if not found:
        return NO_PDF
    rank = {v: i for i, v in enumerate(SEVERITY)}
    return max(found, key=lambda v: rank.get(v, -1))


# ------------------------------------------------------------------- trust material


@dataclass(frozen=True)
class _Material:
    roots: tuple[asn1_x509.Certificate, ...]
    others: tuple[asn1_x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]


_CACHE: list[tuple[TrustStore, RevocationData, _Material]] = []


def _material(trust: TrustStore, revocation: RevocationData) -> _Material:
    """The daemon's anchors, intermediates and CRLs as pyHanko wants them, converted
    once per (trust, revocation) pair (CRL objects are not hashable: kept by identity)."""
    for t, r, m in _CACHE:
        if t is trust and r is revocation:
            return m

    def cert(c: Any) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))

    material = _Material(
        roots=tuple(cert(c) for c in trust.anchors),
        others=tuple(cert(c) for c in trust.intermediates),
        crls=tuple(
            asn1_crl.CertificateList.load(c.public_bytes(Encoding.DER)) for c in revocation.crls
        ),
    )
    _CACHE[:] = [*_CACHE[-3:], (trust, revocation, material)]
    return material


def _context(
    trust: TrustStore, revocation: RevocationData, policy: SignaturePolicy, at: datetime
) -> Any:
    from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415 - heavy import

    m = _material(trust, revocation)
    mode = {
        RevocationMode.HARD_FAIL: "hard-fail",
    }.get(policy.revocation_mode, "soft-fail")
    return ValidationContext(
        trust_roots=list(m.roots),
        other_certs=list(m.others),
        crls=list(m.crls),
        allow_fetching=False,
        moment=at,
        revocation_mode=mode,
    )


# ------------------------------------------------------------------- one PDF


def _name_of(cert: Any) -> str:
    try:
        return str(cert.subject.human_friendly)
    except Exception:
        return "?"


def _verdict_of(status: Any) -> tuple[str, list[str]]:
    """Our vocabulary for one pyHanko signature status, with the reasons."""
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate  # noqa: PLC0415
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # noqa: PLC0415

    reasons: list[str] = []
    if not status.intact:
        return Outcome.INVALID.value, ["the PDF's bytes do not match its signature"]
    if not status.valid:
        return Outcome.INVALID.value, ["the signature value does not verify"]
    coverage = status.coverage
    if coverage == SignatureCoverageLevel.ENTIRE_REVISION:
        if not status.docmdp_ok:
            return Outcome.INVALID.value, [
                "the PDF was changed after signing beyond what the signature allows"
            ]
        reasons.append("the PDF has allowed changes after this signature")
    elif coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return Outcome.INVALID.value, ["the signature does not cover the whole document"]
    indic = status.trust_problem_indic
    if indic is None and status.trusted:
        return Outcome.VALID.value, reasons
    if indic is None:
        return Outcome.UNTRUSTED.value, [*reasons, "no trusted certificate path"]
    name = getattr(indic, "name", str(indic))
    reasons.append(f"certificate path: {name.lower().replace('_', ' ')}")
    if indic in (
        AdESFailure.REVOKED,
        AdESIndeterminate.REVOKED_NO_POE,
        AdESIndeterminate.REVOKED_CA_NO_POE,
    ):
        return Outcome.REVOKED.value, reasons
    if indic in (AdESIndeterminate.EXPIRED, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
                 AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED):  # fmt: skip
        return Outcome.EXPIRED.value, reasons
    if indic in (AdESFailure.NOT_YET_VALID, AdESIndeterminate.NOT_YET_VALID):
        return Outcome.NOT_YET_VALID.value, reasons
    if indic in (
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    ):
        return Outcome.WEAK_ALGORITHM.value, reasons
    if indic in (AdESFailure.HASH_FAILURE, AdESFailure.SIG_CRYPTO_FAILURE,
                 AdESFailure.FORMAT_FAILURE):  # fmt: skip
        return Outcome.INVALID.value, reasons
    return Outcome.UNTRUSTED.value, reasons


_EOF_MARKER: Final = b"%%EOF"
_BYTE_RANGE: Final = b"/ByteRange"


def verify_pdf(
    data: bytes,
    *,
    content_id: str,
    name: str,
    trust: TrustStore,
    revocation: RevocationData,
    policy: SignaturePolicy,
    at: datetime,
) -> AttachmentVerdict:
    """The verdict on one PDF file (never raises for a bad file)."""
    digest = hashlib.sha256(data).hexdigest()

    def verdict_of(verdict: str, reasons: Sequence[str] = (), **more: Any) -> AttachmentVerdict:
        return AttachmentVerdict(
            content_id=content_id,
            name=name,
            verdict=verdict,
            reasons=tuple(reasons),
            sha256=digest,
            size=len(data),
            **more,
        )

    # Two answers that need no PDF parser (pyHanko reads in pure Python: ~0.3-0.5 ms
    # for even a small file, the largest part of a packet's analysis):
    # - no end-of-file marker anywhere: pyHanko refuses such a file with this reason;
    # - no /ByteRange anywhere: no signature dictionary can be in it, for a signature's
    #   dictionary is never compressed (its byte range must skip the raw /Contents
    #   string in the file), so the file carries no signature to check. (A writer that
    #   spelled the key with #-escapes, /Byte#52ange, would be counted unsigned: never
    #   more trusted than pyHanko's answer.)
    if data.rfind(_EOF_MARKER) < 0:  # from the end: where a PDF's marker is
        return verdict_of(Outcome.INVALID.value, ["unreadable PDF: EOF marker not found"])
    if _BYTE_RANGE not in data:
        return verdict_of(Outcome.UNSIGNED.value)
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415
        from pyhanko.sign.validation import validate_pdf_signature  # noqa: PLC0415
        from pyhanko.sign.validation.settings import KeyUsageConstraints  # noqa: PLC0415

        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:
        return verdict_of(Outcome.INVALID.value, [f"unreadable PDF: {_short(exc)}"])
    if not embedded:
        return verdict_of(Outcome.UNSIGNED.value)
    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )
    verdicts: list[str] = []
    reasons: list[str] = []
    first_cert: Any = None
    for i, sig in enumerate(embedded, 1):
        label = f"signature {i}" + (f" ({sig.field_name})" if sig.field_name else "")
        try:
            cert = sig.signer_cert
            first_cert = first_cert if first_cert is not None else cert
            status = validate_pdf_signature(
                sig,
                signer_validation_context=_context(trust, revocation, policy, at),
                key_usage_settings=usage,
            )
            verdict, why = _verdict_of(status)
        except Exception as exc:
            verdict, why = Outcome.INVALID.value, [f"cannot be validated: {_short(exc)}"]
        verdicts.append(verdict)
        reasons.extend(f"{label}: {r}" for r in why)
    rank = {v: i for i, v in enumerate(SEVERITY)}
    worst = min(verdicts, key=lambda v: rank.get(v, 0))
    subject = issuer = sha = None
    if first_cert is not None:
        subject = _name_of(first_cert)
        try:
            issuer = str(first_cert.issuer.human_friendly)
            sha = hashlib.sha256(first_cert.dump()).hexdigest()
        except Exception as exc:
            log.debug("signer certificate of %s not described: %s", name, exc)
    return verdict_of(
        worst,
        reasons,
        signatures=len(embedded),
        signer_subject=subject,
        signer_sha256=sha,
        issuer=issuer,
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def verify_attachments(
    attachments: Sequence[Attachment],
    *,
    trust: TrustStore,
    revocation: RevocationData,
    policy: SignaturePolicy,
    at: datetime,
) -> tuple[AttachmentVerdict, ...]:
    """A verdict per PDF file among these attachments (members of ZIPs included).

    An attachment whose payload cannot be unpacked (bad base64, bad or oversized ZIP)
    is not refused here (the content checks decide that): it yields no verdict.
    """
    out: list[AttachmentVerdict] = []
    for att in attachments:
        try:
            files = att.files()
        except AxisError as exc:
            log.info("attachment %s not checked for PDF signatures: %s", att.content_id, exc)
            continue
        for f in files:
            if not f.data.startswith(PDF_MAGIC):
                continue
            out.append(
                verify_pdf(
                    f.data,
                    content_id=att.content_id,
                    name=f.name,
                    trust=trust,
                    revocation=revocation,
                    policy=policy,
                    at=at,
                )
            )
    return tuple(out)
