"""``axis sign`` and ``axis verify``: XML signatures of edXML packets by hand.

Stable interfaces (auditors script them):

* ``axis verify FILE --trust PEM [--trust PEM ...] [--crl FILE ...] [--at ISO-8601]
  [--policy default|circular-15-2025] [--unsafe-accept-sha1] [--json]``
  prints the verdict: outcome, reasons, signer (subject, OrganId, issuer, validity) and
  algorithm. ``--json`` prints one object with at least ``verdict``, ``signer`` (object
  or null) and ``reasons``. Exit status: 0 only for ``valid``; 1 for any other verdict;
  2 for unusable input (unreadable file, not XML, no trust anchor...).
  ``--trust`` files may hold several PEM certificates: self-signed ones are anchors,
  the others intermediates. ``--at`` defaults to now (UTC).
* ``axis sign FILE --key KEY.pem --cert CERT.pem [--chain PEM ...]
  [--algorithm rsa-sha256|rsa-pss-sha256|ecdsa-sha256] -o OUT`` writes the signed
  packet (``-o -``: standard output). Certificates after the first in ``--cert`` and
  all of ``--chain`` go into KeyInfo after the signer's. The default algorithm follows
  the key: rsa-sha256 for RSA, ecdsa-sha256 for EC.

These are I/O edges: they read files and the clock and pass them into ``signing``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from axis_errors import ConfigError, InputError
from signing.policy import CIRCULAR_15_2025_POLICY, DEFAULT_POLICY, SignaturePolicy
from signing.sign import ALGORITHMS, SigningAlgorithm, sign_packet
from signing.trust import RevocationData, TrustStore, load_certificates, load_crl
from signing.verify import Verdict, verify_packet

POLICIES: dict[str, SignaturePolicy] = {
    "default": DEFAULT_POLICY,
    "circular-15-2025": CIRCULAR_15_2025_POLICY,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser(
        "verify",
        help="verify the XML signature of an edXML packet",
        description=(
            "Verify the XMLDSig signature of an edXML packet and print the verdict. "
            "Exit status 0 only for a valid signature, 1 for any other verdict, 2 for "
            "input that cannot be used."
        ),
    )
    v.add_argument("file", type=Path, metavar="FILE")
    v.add_argument(
        "--trust",
        type=Path,
        action="append",
        required=True,
        metavar="PEM",
        help="trusted certificates (repeatable; self-signed = anchor, others = intermediates)",
    )
    v.add_argument(
        "--crl", type=Path, action="append", default=[], metavar="FILE", help="CRL (PEM or DER)"
    )
    v.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="the instant to verify at (default: now, UTC; a time without zone is UTC)",
    )
    v.add_argument("--policy", choices=sorted(POLICIES), default="default")
    v.add_argument(
        "--unsafe-accept-sha1",
        action="store_true",
        help="check rsa-sha1/sha1 signatures (verdict weak-algorithm at best) instead of "
        "refusing them",
    )
    v.add_argument("--json", action="store_true", help="print the verdict as JSON")
    v.set_defaults(func=run_verify)

    s = sub.add_parser(
        "sign",
        help="sign an edXML packet (enveloped XMLDSig, last in edXMLHeader)",
        description=(
            "Sign an edXML packet: one ds:Signature as the last child of edXMLHeader, "
            "covering the whole packet (a legacy edXML-namespace Signature is replaced)."
        ),
    )
    s.add_argument("file", type=Path, metavar="FILE")
    s.add_argument("--key", type=Path, required=True, metavar="KEY.pem")
    s.add_argument("--cert", type=Path, required=True, metavar="CERT.pem")
    s.add_argument("--chain", type=Path, action="append", default=[], metavar="PEM")
    s.add_argument("--algorithm", choices=sorted(ALGORITHMS), default=None)
    s.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, or -")
    s.set_defaults(func=run_sign)


# ------------------------------------------------------------------------------ verify


def run_verify(args: argparse.Namespace) -> int:
    data = _read(args.file)
    trust = _trust_store(args.trust)
    revocation = RevocationData(crls=tuple(load_crl(_read(p)) for p in args.crl))
    policy = POLICIES[args.policy]
    if args.unsafe_accept_sha1:
        policy = dataclasses.replace(policy, unsafe_accept_sha1_as_legacy=True)
    at = _instant(args.at)
    verdict = verify_packet(data, policy=policy, trust=trust, revocation=revocation, at=at)
    if args.json:
        out: dict[str, Any] = {"file": str(args.file), "at": at.isoformat(), **verdict.to_dict()}
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(_human(verdict, args.file))
    return 0 if verdict.valid else 1


def _human(verdict: Verdict, path: Path) -> str:
    lines = [f"{path}: {verdict.outcome.value}"]
    if verdict.algorithm:
        lines.append(f"  algorithm: {verdict.algorithm}")
    signer = verdict.signer
    if signer is not None:
        lines += [
            f"  signer:    {signer.subject}",
            f"  OrganId:   {signer.organ_id or '(none)'}",
            f"  issuer:    {signer.issuer}",
            f"  valid:     {signer.not_before.isoformat()} .. {signer.not_after.isoformat()}",
            f"  sha256:    {signer.sha256}",
        ]
    lines += [f"  - {reason}" for reason in verdict.reasons]
    return "\n".join(lines)


def _instant(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--at {text!r} is not an ISO-8601 date or time (e.g. 2026-03-02T08:00:00+07:00).",
            code="cli.bad-time",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _trust_store(paths: Sequence[Path]) -> TrustStore:
    certs = [c for p in paths for c in load_certificates(_read(p))]
    anchors = tuple(c for c in certs if _is_self_signed(c))
    if not anchors:
        raise ConfigError(
            "None of the --trust files holds a self-signed certificate: there is no trust anchor.",
            code="cli.no-trust-anchor",
        )
    return TrustStore(
        anchors=anchors, intermediates=tuple(c for c in certs if not _is_self_signed(c))
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.", code="cli.unreadable") from None


# -------------------------------------------------------------------------------- sign


def run_sign(args: argparse.Namespace) -> int:
    data = _read(args.file)
    try:
        key = serialization.load_pem_private_key(_read(args.key), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{args.key} is not an unencrypted PEM private key ({exc}).",
            code="sig.key-unreadable",
        ) from None
    certs = load_certificates(_read(args.cert))
    chain = [*certs[1:], *(c for p in args.chain for c in load_certificates(_read(p)))]
    algorithm: SigningAlgorithm
    if args.algorithm is not None:
        algorithm = args.algorithm
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ecdsa-sha256"
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = "rsa-sha256"
    else:
        raise ConfigError(
            f"{args.key} holds a {type(key).__name__}; only RSA and EC keys can sign.",
            code="sig.key-unreadable",
        )
    signed = sign_packet(data, key, certs[0], chain=chain, algorithm=algorithm)
    if args.output == "-":
        sys.stdout.buffer.write(signed)
        sys.stdout.buffer.flush()
    else:
        try:
            Path(args.output).write_bytes(signed)
        except OSError as exc:
            raise InputError(
                f"Cannot write {args.output}: {exc.strerror}.", code="cli.unwritable"
            ) from None
        print(
            f"signed {args.file} -> {args.output} ({algorithm}, "
            f"{certs[0].subject.rfc4514_string()})",
            file=sys.stderr,
        )
    return 0
