"""Self-contained audit archives: written by ``axis audit export``, checked offline (no
database) by ``axis audit verify --archive``.

A ZIP file holding::

    manifest.json     format, axis, period, event ids, SHA-256 of every other member
    events.jsonl      the chained events, one JSON object a line, in id order
    heads.jsonl       the signed chain heads naming those events
    documents.jsonl   document id -> packet SHA-256 (+ sender, time, verdict)
    certs.pem         the axis certificate (first) and its chain

The events run from the first event of the period to the first SIGNED head at or after
its last event (when there is one), so that a signature vouches for every exported
event. Whoever verifies should compare the axis certificate's fingerprint with one
obtained from the province out of band, or pin it with ``--cert``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zipfile
from collections.abc import AsyncIterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

from axis.auditchain import ChainEvent, ChainReport, ChainVerifier, SignedHead
from axis_errors import InputError
from signing.trust import load_certificates

__all__ = [
    "ARCHIVE_FORMAT",
    "ArchiveInfo",
    "ArchiveReport",
    "verify_archive",
    "write_archive",
]

ARCHIVE_FORMAT: Final = "axis-audit-archive/1"
MEMBERS: Final = ("events.jsonl", "heads.jsonl", "documents.jsonl", "certs.pem")


@dataclass(frozen=True)
class ArchiveInfo:
    """What an export says about itself (``manifest.json``)."""

    axis_organ_id: str
    axis_name: str
    period_from: str | None
    period_to: str | None
    created_at: str


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class _HashingWriter:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)


async def write_archive(
    out: Path,
    *,
    info: ArchiveInfo,
    events: AsyncIterable[Sequence[ChainEvent]],
    heads: Sequence[SignedHead],
    documents: Any,
    certs: Sequence[x509.Certificate],
) -> dict[str, Any]:
    """Write the archive; ``documents`` is an async callable taking the document ids
    seen in the events and returning objects with ``to_json()``. Returns the manifest."""
    digests: dict[str, str] = {}
    first_id: int | None = None
    last_id: int | None = None
    count = 0
    doc_ids: set[str] = set()
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("events.jsonl", "w", force_zip64=True) as fh:
            w = _HashingWriter(fh)
            async for batch in events:
                for ev in batch:
                    w.write(_line(ev.to_json()))
                    first_id = ev.id if first_id is None else first_id
                    last_id = ev.id
                    count += 1
                    if ev.document_id:
                        doc_ids.add(ev.document_id)
            digests["events.jsonl"] = w.sha.hexdigest()
        with zf.open("heads.jsonl", "w") as fh:
            w = _HashingWriter(fh)
            for head in heads:
                w.write(_line(head.to_json()))
            digests["heads.jsonl"] = w.sha.hexdigest()
        with zf.open("documents.jsonl", "w", force_zip64=True) as fh:
            w = _HashingWriter(fh)
            for doc in await documents(sorted(doc_ids)):
                w.write(_line(doc.to_json()))
            digests["documents.jsonl"] = w.sha.hexdigest()
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        zf.writestr("certs.pem", pem)
        digests["certs.pem"] = hashlib.sha256(pem).hexdigest()
        manifest = {
            "format": ARCHIVE_FORMAT,
            "axis": {"organ_id": info.axis_organ_id, "name": info.axis_name},
            "period": {"from": info.period_from, "to": info.period_to},
            "created_at": info.created_at,
            "events": count,
            "first_event_id": first_id,
            "last_event_id": last_id,
            "heads": len(heads),
            "documents": len(doc_ids),
            "axis_cert_sha256": certs[0].fingerprint(hashes.SHA256()).hex() if certs else None,
            "sha256": digests,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    tmp.replace(out)
    return manifest


@dataclass
class ArchiveReport:
    """The chain report of an archive plus what the archive says about itself."""

    chain: ChainReport
    manifest: dict[str, Any]
    axis_cert: x509.Certificate | None
    chain_ok: bool

    def to_json(self) -> dict[str, Any]:
        cert = self.axis_cert
        return self.chain.to_json() | {
            "manifest": self.manifest,
            "axis_cert": None
            if cert is None
            else {
                "subject": cert.subject.rfc4514_string(),
                "sha256": cert.fingerprint(hashes.SHA256()).hex(),
                "chain_ok": self.chain_ok,
            },
        }


def _bad(message: str) -> InputError:
    return InputError(message, code="audit.bad-archive")


def _lines(zf: zipfile.ZipFile, name: str, digest: str) -> Iterator[dict[str, Any]]:
    sha = hashlib.sha256()
    with zf.open(name) as raw:
        for line in raw:
            sha.update(line)
            if line.strip():
                yield json.loads(line)
    if sha.hexdigest() != digest:
        raise _bad(f"{name} does not match the SHA-256 in manifest.json: the archive was altered.")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_archive(
    path: Path,
    *,
    pinned: Sequence[x509.Certificate] = (),
    batch: int = 5000,
    progress: Any = None,
) -> ArchiveReport:
    """Check an archive offline: member digests, the chain of its events, the signed
    heads (with the archive's axis certificate, which must be one of ``pinned`` when
    given), and every event's packet hash against ``documents.jsonl``."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise _bad(f"{path} is not a readable audit archive ({exc}).") from exc
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (KeyError, ValueError) as exc:
            raise _bad(f"{path} has no readable manifest.json.") from exc
        if manifest.get("format") != ARCHIVE_FORMAT:
            raise _bad(f"{path} is not of format {ARCHIVE_FORMAT}.")
        digests = manifest.get("sha256", {})
        for name in MEMBERS:
            if name not in digests or name not in zf.namelist():
                raise _bad(f"{path} lacks {name}.")
        pem = zf.read("certs.pem")
        if hashlib.sha256(pem).hexdigest() != digests["certs.pem"]:
            raise _bad("certs.pem does not match the SHA-256 in manifest.json.")
        certs = load_certificates(pem) if pem.strip() else ()
        leaf = certs[0] if certs else None
        chain_ok = leaf is not None and all(_issued_by(c, p) for c, p in itertools.pairwise(certs))
        heads = [SignedHead.from_json(h) for h in _lines(zf, "heads.jsonl", digests["heads.jsonl"])]
        verifier = ChainVerifier(heads=heads, start_hash=None)
        if pinned:
            pins = {c.fingerprint(hashes.SHA256()) for c in pinned}
            if leaf is None or leaf.fingerprint(hashes.SHA256()) not in pins:
                verifier.problem(
                    "head-unknown-cert",
                    None,
                    "The archive's axis certificate is not the certificate given with --cert.",
                )
                leaf = None
        docs = {
            d["document_id"]: d["packet_sha256"]
            for d in _lines(zf, "documents.jsonl", digests["documents.jsonl"])
        }
        buf: list[ChainEvent] = []
        for obj in _lines(zf, "events.jsonl", digests["events.jsonl"]):
            ev = ChainEvent.from_json(obj)
            if ev.packet_sha256 and ev.document_id and docs.get(ev.document_id) != ev.packet_sha256:
                verifier.problem(
                    "packet-mismatch",
                    ev.id,
                    f"Event {ev.id} names packet hash {ev.packet_sha256[:16]}… but the archive "
                    f"lists {str(docs.get(ev.document_id))[:16]}… for document {ev.document_id}.",
                    ev.document_id,
                )
            buf.append(ev)
            if len(buf) >= batch:
                verifier.feed(buf)
                if progress is not None:
                    progress(len(buf))
                buf = []
        if buf:
            verifier.feed(buf)
            if progress is not None:
                progress(len(buf))
        verifier.check_heads([leaf] if leaf is not None else [])
        verifier.report.documents_checked = len(docs)
    return ArchiveReport(verifier.report, manifest, certs[0] if certs else None, chain_ok)
