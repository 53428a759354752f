"""Verify the XMLDSig signature of an edXML packet: a pure function returning a verdict.

:func:`verify_packet` is a **strict, single-parse verifier** for the edXML signature
profile (ADR 0003), not a generic XMLDSig engine. It parses the bytes once with the
hardened parser, then:

1. finds every ``ds:Signature`` in the document. None: ``unsigned``, or
   ``legacy-unverifiable`` when edXMLHeader holds a ``Signature`` in another namespace
   (what real producers write). More than one: ``invalid``.
2. checks the place: the root is ``edXML``, there is exactly one
   ``edXMLEnvelope/edXMLHeader`` and the signature is its last child element.
3. checks the shape: SignedInfo = CanonicalizationMethod, SignatureMethod, exactly one
   Reference with ``URI=""`` and the transforms enveloped-signature [+ one C14N];
   SignatureValue; KeyInfo with one X509Data holding the certificates (no KeyValue,
   no ds:Object, no HMACOutputLength, no XPath/XSLT/base64 transforms).
4. asks the policy about SignatureMethod and DigestMethod (refused: ``invalid``
   without doing any cryptography; SHA-1 under the unsafe legacy flag: checked, and at
   best ``weak-algorithm``).
5. canonicalizes SignedInfo *in place* (inherited namespaces and ``xml:*`` attributes
   count for inclusive C14N) and checks SignatureValue with the signer certificate's
   key (RSA PKCS#1 v1.5, RSA-PSS with MGF1 and salt = hash length, ECDSA ``r || s``).
6. detaches the Signature, canonicalizes the whole document without comments, and
   compares the digest with DigestValue.
7. validates the signer's certificate path (:func:`signing.certpath.validate_signer`,
   or a :class:`~signing.certpath.PathCache`).

Any deviation from the profile is ``invalid`` with a reason: that is the defence
against signature wrapping. Because the Reference always covers the whole document,
nothing outside the signature can be unsigned, and :attr:`Verdict.signed_root` is the
very tree that was digested: the Signature removed and **comments removed** (the
digest never covers comments, so ``<Subject>Foo<!-- x -->Bar</Subject>`` would
otherwise read ``Foo`` through ``.text`` while ``FooBar`` was signed; with comments
gone the text nodes are merged and ``.text`` is ``FooBar``).

Input that is not well-formed XML (or breaks the parse limits) is not a verdict: it
raises :class:`~axis_errors.XmlError` like every other parse in Axis.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from edxml.safe import DEFAULT_LIMITS, ParseLimits, parse_xml
from signing.certpath import (
    PathCache,
    PathResult,
    SignerDetails,
    signer_details,
    validate_signer,
)
from signing.policy import AlgorithmStatus, Outcome, SignaturePolicy
from signing.trust import RevocationData, TrustStore, cert_sha256
from signing.xmldsig import (
    C14N_ALGORITHMS,
    C14N_INCL,
    DIGESTS,
    DS,
    EC_NS,
    ENVELOPED,
    SIGNATURE_METHODS,
    C14nSpec,
    ProfileViolation,
    canonicalize_in_context,
    detach,
    document_digest,
    find_header,
    local_name,
)

__all__ = ["MAX_CERTIFICATES", "Verdict", "verify_packet"]

#: More certificates than this in X509Data is refused (a chain is 1-4 long).
MAX_CERTIFICATES = 10

_EC = "{" + EC_NS + "}"
_X509_INFORMATIONAL = frozenset(
    {DS + "X509SubjectName", DS + "X509IssuerSerial", DS + "X509SKI", DS + "X509CRL"}
)
_DSIG11_X509_DIGEST = "{http://www.w3.org/2009/xmldsig11#}X509Digest"


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify_packet` concluded about one packet.

    ``signer`` and ``chain_sha256`` are filled only when the signature value verified
    with the certificate's key (an ``invalid`` signature proves nothing about whoever
    its KeyInfo names). ``signed_root`` is what the rest of the system may read:

    * signature maths verified (``valid``, ``weak-algorithm``, ``untrusted``,
      ``expired``, ``not-yet-valid``, ``revoked``): the tree the signature covered,
      i.e. the packet without its ``ds:Signature`` and without comments;
    * ``unsigned`` / ``legacy-unverifiable``: the parsed packet without comments
      (nothing was signed; the caller's policy decides whether to take it);
    * ``invalid``: ``None``: nothing of an invalid packet is to be routed.

    Whether a packet is *accepted* is the daemon's decision (it refuses ``invalid``,
    and ``unsigned``/``legacy-unverifiable`` when ``policy.require_signature``); the
    verdict only reports. :attr:`valid` is true for ``valid`` alone.
    """

    outcome: Outcome
    reasons: tuple[str, ...]
    signer: SignerDetails | None = None
    #: SignatureMethod URI (None when there is no XMLDSig signature).
    algorithm: str | None = None
    #: DigestMethod URI of the Reference.
    digest_algorithm: str | None = None
    #: SHA-256 (lower-case hex) of each certificate of the validated path, signer first.
    chain_sha256: tuple[str, ...] = ()
    signed_root: etree._Element | None = field(default=None, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        """True only for outcome ``valid``."""
        return self.outcome is Outcome.VALID

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the tree)."""
        return {
            "verdict": self.outcome.value,
            "reasons": list(self.reasons),
            "signer": self.signer.to_dict() if self.signer is not None else None,
            "algorithm": self.algorithm,
            "digest_algorithm": self.digest_algorithm,
            "chain_sha256": list(self.chain_sha256),
        }


def verify_packet(
    data: bytes,
    *,
    policy: SignaturePolicy,
    trust: TrustStore,
    revocation: RevocationData,
    at: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
    cache: PathCache | None = None,
) -> Verdict:
    """Verify the signature of the edXML packet ``data`` at instant ``at``.

    Raises :class:`~axis_errors.XmlError` for bytes that are not acceptable XML;
    every other problem is a :class:`Verdict`.
    """
    root = parse_xml(data, limits)
    verdict = _verify_tree(
        root, policy=policy, trust=trust, revocation=revocation, at=at, cache=cache
    )
    signed_root = verdict.signed_root
    if signed_root is not None and next(signed_root.iter(etree.Comment), None) is not None:
        etree.strip_elements(signed_root, etree.Comment, with_tail=False)
    return verdict


# ------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class _Profile:
    """The parts of a ds:Signature that passed the shape checks."""

    signed_info: etree._Element
    si_c14n: C14nSpec
    si_prefixes: tuple[str, ...] | None
    method: str
    ref_c14n: C14nSpec
    ref_prefixes: tuple[str, ...] | None
    digest_method: str
    digest_value: bytes
    signature_value: bytes
    signer: _Signer


def _invalid(reason: str, **kw: Any) -> Verdict:
    return Verdict(Outcome.INVALID, (reason,), **kw)


def _verify_tree(
    root: etree._Element,
    *,
    policy: SignaturePolicy,
    trust: TrustStore,
    revocation: RevocationData,
    at: datetime,
    cache: PathCache | None,
) -> Verdict:
    signatures = list(root.iter(DS + "Signature"))
    if not signatures:
        return _unsigned(root, policy)
    if len(signatures) > 1:
        return _invalid(
            f"The packet holds {len(signatures)} ds:Signature elements; the edXML profile "
            "allows exactly one, as the last child of edXMLHeader."
        )
    sig = signatures[0]
    header = find_header(root)
    if header is None:
        return _invalid(
            f"The root element is {root.tag!r}, not an edXML packet with exactly one "
            "edXMLEnvelope/edXMLHeader; a signature cannot be placed or trusted there."
        )
    if sig.getparent() is not header:
        return _invalid(
            "The ds:Signature is not a child of edXML/edXMLEnvelope/edXMLHeader "
            f"(found under {_path(sig)})."
        )
    if any(isinstance(s.tag, str) for s in sig.itersiblings()):
        return _invalid("The ds:Signature is not the last child element of edXMLHeader.")

    try:
        prof = _read_profile(sig)
    except ProfileViolation as exc:
        return _invalid(str(exc))

    base: dict[str, Any] = {"algorithm": prof.method, "digest_algorithm": prof.digest_method}
    weak: list[str] = []
    for uri, status, what in (
        (prof.method, policy.signature_method_status(prof.method), "SignatureMethod"),
        (prof.digest_method, policy.digest_method_status(prof.digest_method), "DigestMethod"),
    ):
        if status is AlgorithmStatus.REFUSED:
            return _invalid(f"{what} {uri} is not allowed by the signature policy.", **base)
        if status is AlgorithmStatus.LEGACY:
            weak.append(f"{what} {uri} is a weak (SHA-1) algorithm, accepted as legacy only.")

    leaf = prof.signer.leaf
    try:
        signed_octets = canonicalize_in_context(prof.signed_info, prof.si_c14n, prof.si_prefixes)
    except ProfileViolation as exc:
        return _invalid(str(exc), **base)
    problem = _check_signature_value(leaf, prof.method, prof.signature_value, signed_octets)
    if problem is not None:
        return _invalid(problem, **base)

    # The maths of SignedInfo hold; now the Reference: the document without the
    # Signature (detached for good: what remains is exactly what was digested).
    detach(sig)
    digest = document_digest(root, prof.ref_c14n, prof.ref_prefixes, DIGESTS[prof.digest_method])
    if not hmac.compare_digest(digest, prof.digest_value):
        return _invalid(
            "The DigestValue does not match the packet: the signed content was changed "
            "after signing.",
            **base,
        )

    extra = tuple(c for c in prof.signer.certificates if c is not leaf)
    if cache is not None:
        path: PathResult = cache.validate(
            leaf, extra, trust=trust, revocation=revocation, policy=policy, at=at
        )
    else:
        path = validate_signer(
            leaf, extra, trust=trust, revocation=revocation, policy=policy, at=at
        )

    outcome = path.outcome
    reasons = list(path.reasons)
    if outcome is Outcome.VALID and weak:
        outcome = Outcome.WEAK_ALGORITHM
    reasons.extend(weak)
    if outcome is Outcome.VALID and not reasons:
        reasons.append("The signature holds and the signer's certificate path is valid.")
    return Verdict(
        outcome,
        tuple(reasons),
        signer=prof.signer.details,
        chain_sha256=tuple(_sha256_hex(c) for c in path.chain),
        signed_root=None if outcome is Outcome.INVALID else root,
        **base,
    )


def _unsigned(root: etree._Element, policy: SignaturePolicy) -> Verdict:
    header = find_header(root)
    legacy = [c for c in header if local_name(c) == "Signature"] if header is not None else []
    suffix = " The signature policy requires a signature." if policy.require_signature else ""
    if legacy:
        method = legacy[0].find("{*}SignedInfo/{*}SignatureMethod")
        algo = method.get("Algorithm") if method is not None else None
        namespace = etree.QName(legacy[0]).namespace or "no namespace"
        return Verdict(
            Outcome.LEGACY_UNVERIFIABLE,
            (
                f"edXMLHeader holds a Signature in {namespace}, not in the XMLDSig "
                "namespace, as legacy producers write it"
                + (f" (SignatureMethod {algo})" if algo else " (empty)")
                + "; it cannot be verified and proves nothing."
                + suffix,
            ),
            signed_root=root,
        )
    return Verdict(
        Outcome.UNSIGNED,
        ("The packet carries no XML signature." + suffix,),
        signed_root=root,
    )


def _path(el: etree._Element) -> str:
    parts = [local_name(a) for a in reversed(list(el.iterancestors()))]
    return "/" + "/".join(parts) if parts else "(the root)"


# ----------------------------------------------------------------------- the shape


def _children(el: etree._Element) -> list[etree._Element]:
    """Element children of ``el`` (comments skipped); stray text is a violation."""
    name = local_name(el)
    if el.text is not None and el.text.strip():
        raise ProfileViolation(f"ds:{name} holds unexpected text.")
    out: list[etree._Element] = []
    for child in el:
        if child.tail is not None and child.tail.strip():
            raise ProfileViolation(f"ds:{name} holds unexpected text.")
        if isinstance(child.tag, str):
            out.append(child)
    return out


def _expect(el: etree._Element, names: Sequence[str]) -> list[etree._Element]:
    children = _children(el)
    got = [c.tag for c in children]
    want = [DS + n for n in names]
    if got != want:
        shown = ", ".join(_short(t) for t in got) or "nothing"
        raise ProfileViolation(
            f"ds:{local_name(el)} must hold {', '.join('ds:' + n for n in names)} in that "
            f"order; it holds {shown}."
        )
    return children


def _short(tag: object) -> str:
    if not isinstance(tag, str):
        return str(tag)
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return ("ds:" if "{" + ns + "}" == DS else "") + local


def _algorithm(el: etree._Element) -> str:
    algo = el.get("Algorithm")
    if not algo:
        raise ProfileViolation(f"ds:{local_name(el)} has no Algorithm attribute.")
    return algo


def _c14n(el: etree._Element) -> tuple[C14nSpec, tuple[str, ...] | None]:
    """A canonicalization method or transform: its spec and InclusiveNamespaces."""
    algo = _algorithm(el)
    spec = C14N_ALGORITHMS.get(algo)
    if spec is None:
        raise ProfileViolation(f"Canonicalization {algo} is not supported by the edXML profile.")
    children = _children(el)
    if not children:
        return spec, None
    if not spec.exclusive or len(children) != 1 or children[0].tag != _EC + "InclusiveNamespaces":
        raise ProfileViolation(f"ds:{local_name(el)} ({algo}) holds unexpected elements.")
    prefixes = tuple((children[0].get("PrefixList") or "").split())
    if "#default" in prefixes:
        raise ProfileViolation("InclusiveNamespaces with #default is not supported.")
    return spec, prefixes or None


def _b64(el: etree._Element) -> bytes:
    if len(el):
        raise ProfileViolation(f"ds:{local_name(el)} must hold only base64 text.")
    text = "".join((el.text or "").split())
    if not text:
        raise ProfileViolation(f"ds:{local_name(el)} is empty.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProfileViolation(f"ds:{local_name(el)} is not valid base64.") from None


def _read_profile(sig: etree._Element) -> _Profile:
    signed_info, signature_value, key_info = _expect(
        sig, ("SignedInfo", "SignatureValue", "KeyInfo")
    )
    c14n_method, signature_method, reference = _expect(
        signed_info, ("CanonicalizationMethod", "SignatureMethod", "Reference")
    )
    si_c14n, si_prefixes = _c14n(c14n_method)

    method = _algorithm(signature_method)
    if method not in SIGNATURE_METHODS:
        raise ProfileViolation(f"SignatureMethod {method} is not supported.")
    if _children(signature_method):
        raise ProfileViolation("ds:SignatureMethod must not hold parameters.")

    uri = reference.get("URI")
    if uri is None:
        raise ProfileViolation('The ds:Reference has no URI; the profile requires URI="".')
    if uri != "":
        raise ProfileViolation(
            f'The ds:Reference points to {uri!r}; the profile requires URI="" (the whole '
            "packet), anything else could leave parts of the packet unsigned."
        )
    transforms, digest_method_el, digest_value_el = _expect(
        reference, ("Transforms", "DigestMethod", "DigestValue")
    )
    steps = _children(transforms)
    if not steps or any(t.tag != DS + "Transform" for t in steps):
        raise ProfileViolation("ds:Transforms must hold only ds:Transform elements.")
    if _algorithm(steps[0]) != ENVELOPED or _children(steps[0]):
        raise ProfileViolation("The first transform must be the enveloped-signature transform.")
    if len(steps) > 2:
        raise ProfileViolation(
            "The profile allows the enveloped-signature transform and at most one "
            f"canonicalization transform; this Reference has {len(steps)} transforms."
        )
    if len(steps) == 2:
        ref_c14n, ref_prefixes = _c14n(steps[1])
    else:  # the default conversion of a node-set to octets: inclusive C14N 1.0
        ref_c14n, ref_prefixes = C14N_ALGORITHMS[C14N_INCL], None

    digest_method = _algorithm(digest_method_el)
    if digest_method not in DIGESTS:
        raise ProfileViolation(f"DigestMethod {digest_method} is not supported.")
    if _children(digest_method_el):
        raise ProfileViolation("ds:DigestMethod must not hold parameters.")
    digest_value = _b64(digest_value_el)
    if len(digest_value) != DIGESTS[digest_method]().digest_size:
        raise ProfileViolation("The DigestValue has the wrong length for its DigestMethod.")

    return _Profile(
        signed_info=signed_info,
        si_c14n=si_c14n,
        si_prefixes=si_prefixes,
        method=method,
        ref_c14n=ref_c14n,
        ref_prefixes=ref_prefixes,
        digest_method=digest_method,
        digest_value=digest_value,
        signature_value=_b64(signature_value),
        signer=_read_key_info(key_info),
    )


@dataclass(frozen=True)
class _Signer:
    """The certificates of one KeyInfo, decoded once (memoized by their base64 text:
    the same agency sends the same KeyInfo thousands of times)."""

    certificates: tuple[x509.Certificate, ...]
    leaf: x509.Certificate
    details: SignerDetails


def _read_key_info(key_info: etree._Element) -> _Signer:
    x509_data: list[etree._Element] = []
    # KeyInfo has mixed content in the XMLDSig schema: text there is allowed (and,
    # like all of KeyInfo, neither signed nor read).
    for child in key_info.iterchildren(tag=etree.Element):
        if child.tag == DS + "X509Data":
            x509_data.append(child)
        elif child.tag != DS + "KeyName":
            raise ProfileViolation(
                f"ds:KeyInfo holds {_short(child.tag)}; the profile takes the key only from "
                "the certificate in ds:X509Data."
            )
    if len(x509_data) != 1:
        raise ProfileViolation(
            f"ds:KeyInfo must hold exactly one ds:X509Data, not {len(x509_data)}."
        )
    texts: list[str] = []
    for child in _children(x509_data[0]):
        if child.tag == DS + "X509Certificate":
            if len(texts) >= MAX_CERTIFICATES:
                raise ProfileViolation(
                    f"ds:X509Data holds more than {MAX_CERTIFICATES} certificates."
                )
            if len(child):
                raise ProfileViolation("ds:X509Certificate must hold only base64 text.")
            texts.append("".join((child.text or "").split()))
        elif child.tag not in _X509_INFORMATIONAL and child.tag != _DSIG11_X509_DIGEST:
            raise ProfileViolation(f"ds:X509Data holds unexpected {_short(child.tag)}.")
    if not texts:
        raise ProfileViolation(
            "ds:X509Data holds no ds:X509Certificate; the signer's certificate is required."
        )
    return _load_signer(tuple(texts))


@lru_cache(maxsize=512)
def _load_signer(texts: tuple[str, ...]) -> _Signer:
    certs: list[x509.Certificate] = []
    for text in texts:
        if not text:
            raise ProfileViolation("ds:X509Certificate is empty.")
        try:
            der = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ProfileViolation("ds:X509Certificate is not valid base64.") from None
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise ProfileViolation(
                f"A ds:X509Certificate is not a readable DER certificate ({exc})."
            ) from None
    leaf = _pick_leaf(certs)
    return _Signer(tuple(certs), leaf, signer_details(leaf))


def _sha256_hex(cert: x509.Certificate) -> str:
    return cert_sha256(cert).hex()


def _pick_leaf(certs: Sequence[x509.Certificate]) -> x509.Certificate:
    """The signer: the one certificate that issued none of the others (the profile
    writes it first; xmlsec may order them otherwise); the first one if ambiguous."""
    if len(certs) == 1:
        return certs[0]
    issuers = {c.issuer.public_bytes() for c in certs}
    ends = [c for c in certs if c.subject.public_bytes() not in issuers]
    return ends[0] if len(ends) == 1 else certs[0]


# ----------------------------------------------------------------------- the maths


def _check_signature_value(
    cert: x509.Certificate, method: str, value: bytes, octets: bytes
) -> str | None:
    """None when ``value`` is a good signature of ``octets``; else the reason."""
    spec = SIGNATURE_METHODS[method]
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"The signer certificate's public key cannot be read ({exc})."
    try:
        if spec.key in ("rsa", "rsa-pss"):
            if not isinstance(key, rsa.RSAPublicKey):
                return (
                    f"SignatureMethod {method} needs an RSA key; certificate "
                    f"{cert.subject.rfc4514_string()} has none."
                )
            if len(value) != (key.key_size + 7) // 8:
                return "The SignatureValue has the wrong length for the signer's RSA key."
            hash_alg = spec.hash()
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if spec.key == "rsa"
                else padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
            )
            key.verify(value, octets, pad, hash_alg)
        else:
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return (
                    f"SignatureMethod {method} needs an EC key; certificate "
                    f"{cert.subject.rfc4514_string()} has none."
                )
            size = (key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                return "The SignatureValue has the wrong length for the signer's EC key."
            r = int.from_bytes(value[:size], "big")
            s = int.from_bytes(value[size:], "big")
            key.verify(encode_dss_signature(r, s), octets, ec.ECDSA(spec.hash()))
    except InvalidSignature:
        return (
            "The SignatureValue does not verify with the key of the certificate in "
            f"KeyInfo ({cert.subject.rfc4514_string()}): SignedInfo was changed or signed "
            "by another key."
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"The SignatureValue cannot be checked ({exc})."
    return None
