"""The CPU-heavy, pure part of intake, and the pool of processes that runs it.

:func:`analyze` takes the bytes of one packet and does everything that needs no store:

    signature verification (hardened single parse) -> the verdict the axis refuses?
      -> schema validation of the *signed* tree -> the edXML model -> content checks

and returns an :class:`Analysis`: small, picklable data (the verdict without its tree,
the :class:`PacketFacts` intake routes and records, the sender, or the refusal as an
:class:`Refused` that the caller raises again), which a worker sends back as plain
tuples (:func:`to_wire`, :func:`from_wire`). The facts are a flat tuple of strings
rather than the edXML model: an answer crosses from a worker to the daemon for every
packet, and unpickling the model's ~25 nested dataclasses was the daemon's largest
single cost of the hand-off. Only the signed tree is read: the
verifier hands it over and nothing here reads the raw bytes except to verify them (and,
for a refused packet, to name the sender it *claims*, for counting only).

:class:`Analyzer` runs it either in the daemon's process (``workers = 0``: a small
thread pool, as before; tests and small deployments) or in a pool of worker processes
(``server.workers``, default the CPU count), because the verifier holds the GIL for most
of its work and threads give one core. The pool is :class:`axis.procpool.ProcessPool`:
workers started with ``forkserver`` (never ``fork``: the daemon has threads and an
event loop), each on a socket the event loop reads itself. The trust material and
policy are sent once per worker (initializer), each worker keeps its own
:class:`PathCache`. A worker whose daemon is gone (killed) exits by itself: its socket
closes. Receipts are not signed here: one signature serves a whole batch of them
(:class:`axis.receipts.ReceiptBatcher`, in the daemon).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.reduction import ForkingPickler
from typing import Any, Final, Literal, NamedTuple, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from axis.eventloop import settle_heap
from axis.pades import AttachmentVerdict, verify_attachments
from axis.procpool import ProcessPool
from axis.store.models import VN_TZ
from axis_errors import AxisError, PacketError
from edxml.checks import check_packet
from edxml.model import DocumentPacket, StatusPacket
from edxml.reader import read_packet
from edxml.safe import DEFAULT_LIMITS, ParseLimits, parse_xml
from schemas import validate as validate_schema
from signing.certpath import PathCache, SignerDetails
from signing.policy import DEFAULT_POLICY, Outcome, SignaturePolicy
from signing.trust import NO_REVOCATION_DATA, RevocationData, TrustStore
from signing.verify import Verdict, verify_packet

__all__ = [
    "Analysis",
    "AnalysisSettings",
    "Analyzer",
    "PacketFacts",
    "Refused",
    "analyze",
    "claimed_sender",
    "from_wire",
    "to_wire",
]

T = TypeVar("T")


@dataclass(frozen=True)
class AnalysisSettings:
    """What :func:`analyze` needs: trust material, policy, limits (fixed per pool)."""

    policy: SignaturePolicy = DEFAULT_POLICY
    trust: TrustStore = field(default_factory=lambda: TrustStore(anchors=()))
    revocation: RevocationData = NO_REVOCATION_DATA
    limits: ParseLimits = DEFAULT_LIMITS
    #: verdicts that make the axis refuse a packet (``invalid`` always)
    refuse_outcomes: frozenset[str] = frozenset({Outcome.INVALID.value})


@dataclass(frozen=True)
class Refused:
    """An :class:`~axis_errors.AxisError` as data (it crosses a process boundary)."""

    error_type: type[AxisError]
    message: str
    code: str
    details: dict[str, Any]

    @classmethod
    def of(cls, exc: AxisError) -> Refused:
        return cls(type(exc), exc.message, exc.code, dict(exc.details))

    def error(self) -> AxisError:
        """The same error again (class, message, code, details)."""
        return self.error_type(self.message, code=self.code, details=self.details)


Packet = DocumentPacket | StatusPacket


class PacketFacts(NamedTuple):
    """What intake routes and records of an accepted packet, read from its signed tree.

    ``recipients``: To/OrganId of a document, the original sender (ResponseFor) of a
    status. ``edxml_document_id``: a document's DocumentId, the one a status answers.
    ``response_for*``: the document a status or a document's ResponseFor names.
    """

    kind: Literal["document", "status"]
    sender: str
    recipients: tuple[str, ...]
    edxml_document_id: str
    business_type: str | None  # a document's BusinessDocType as a number ("0".."4")
    status_code: str | None  # a status packet's StatusCode ("01".."16")
    response_for: str | None
    response_for_organ: str | None
    subject: str | None  # a document's Subject, a status's Description
    code_number: str | None
    code_notation: str | None

    @classmethod
    def of(cls, packet: Packet) -> PacketFacts:
        if isinstance(packet, DocumentPacket):
            response = packet.response_for[0] if packet.response_for else None
            return cls(
                kind="document",
                sender=packet.sender,
                recipients=tuple(packet.recipients),
                edxml_document_id=packet.document_id,
                business_type=str(int(packet.business_type)),
                status_code=None,
                response_for=response.document_id if response else None,
                response_for_organ=response.organ_id if response else None,
                subject=packet.subject,
                code_number=packet.code.code_number,
                code_notation=packet.code.code_notation,
            )
        return cls(
            kind="status",
            sender=packet.sender,
            recipients=(packet.addressed_to,),
            edxml_document_id=packet.response_for.document_id or "",
            business_type=None,
            status_code=packet.status_code.value,
            response_for=packet.response_for.document_id,
            response_for_organ=packet.response_for.organ_id,
            subject=packet.description,
            code_number=None,
            code_notation=None,
        )


@dataclass(frozen=True)
class Analysis:
    """The outcome of :func:`analyze`.

    ``verdict`` has no ``signed_root`` (the tree stays where it was read); it is None
    when the bytes could not be verified at all (not XML, too large...). ``packet`` is
    what intake needs of the packet (:class:`PacketFacts`; the axis stores the original
    bytes), None when refused. ``sender`` is From/OrganId: the packet's when it was
    read, else what a refused packet claims (for counting only).
    ``verify_seconds`` is the verifier's time (None when it raised); ``packet_sha256``
    the SHA-256 of the bytes (hex) of an accepted analysis (its receipt states it).
    """

    verdict: Verdict | None
    packet: PacketFacts | None
    sender: str | None
    refused: Refused | None = None
    verify_seconds: float | None = None
    packet_sha256: str | None = None
    #: a verdict per PDF attachment file of an accepted document (axis.pades)
    attachments: tuple[AttachmentVerdict, ...] = ()


def _check_verdict(verdict: Verdict, settings: AnalysisSettings) -> None:
    outcome = verdict.outcome.value
    if outcome in settings.refuse_outcomes:
        raise PacketError(
            f"The packet's signature is {outcome}: " + "; ".join(verdict.reasons),
            code=f"signature.{outcome}",
            details={"verdict": outcome, "reasons": list(verdict.reasons)},
        )
    unsigned = {Outcome.UNSIGNED.value, Outcome.LEGACY_UNVERIFIABLE.value}
    if settings.policy.require_signature and outcome in unsigned:
        raise PacketError(
            "This axis requires a verifiable XML signature (XMLDSig) on every packet.",
            code="signature.required",
            details={"verdict": outcome},
        )


def analyze(
    body: bytes, settings: AnalysisSettings, at: datetime, cache: PathCache | None = None
) -> Analysis:
    """Verify, validate, read and check one packet (pure: no I/O, no clock)."""
    verdict: Verdict | None = None
    packet: Packet | None = None
    seconds: float | None = None
    try:
        started = time.perf_counter()
        verdict = verify_packet(
            body,
            policy=settings.policy,
            trust=settings.trust,
            revocation=settings.revocation,
            at=at,
            limits=settings.limits,
            cache=cache,
        )
        seconds = time.perf_counter() - started
        _check_verdict(verdict, settings)
        root = verdict.signed_root
        if root is None:  # only invalid verdicts lack a tree, and those are refused above
            raise PacketError("The packet has no readable content.", code="packet.unreadable")
        validate_schema(root)
        packet = read_packet(root)
        problems = check_packet(packet, today=at.astimezone(VN_TZ).date())
        if problems:
            first = problems[0]
            raise PacketError(
                "; ".join(f"{p.element}: {p.message}" for p in problems),
                code=first.code,
                details={"problems": [p.__dict__ for p in problems]},
            )
    except AxisError as exc:
        sender = packet.sender if packet is not None else claimed_sender(body, settings.limits)
        return Analysis(
            verdict=replace(verdict, signed_root=None) if verdict is not None else None,
            packet=None,
            sender=sender,
            refused=Refused.of(exc),
            verify_seconds=seconds,
        )
    return Analysis(
        verdict=replace(verdict, signed_root=None),
        packet=PacketFacts.of(packet),
        sender=packet.sender,
        verify_seconds=seconds,
        packet_sha256=hashlib.sha256(body).hexdigest(),
        attachments=_pdf_verdicts(packet, settings, at),
    )


def _pdf_verdicts(
    packet: Packet, settings: AnalysisSettings, at: datetime
) -> tuple[AttachmentVerdict, ...]:
    """The PAdES verdicts of a document's PDF attachments (same trust material)."""
    if not isinstance(packet, DocumentPacket) or not packet.attachments:
        return ()
    return verify_attachments(
        packet.attachments,
        trust=settings.trust,
        revocation=settings.revocation,
        policy=settings.policy,
        at=at,
    )


_FROM_XPATH = etree.XPath(
    "string(/*[local-name()='edXML']/*[local-name()='edXMLEnvelope']"
    "/*[local-name()='edXMLHeader']/*[local-name()='MessageHeader' or local-name()='Status']"
    "/*[local-name()='From']/*[local-name()='OrganId'])"
)


def claimed_sender(body: bytes, limits: ParseLimits) -> str | None:
    """From/OrganId as a refused packet claims it, for counting the refusal only.

    Nothing is routed on it: a refused packet's content is not trusted.
    """
    try:
        root = parse_xml(body, limits)
    except AxisError:
        return None
    value = str(_FROM_XPATH(root)).strip()
    return value or None


# ------------------------------------------------------------------- the worker side


def _cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _crl(der: bytes) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(der)


def _reduce_cert(cert: x509.Certificate) -> tuple[Any, tuple[bytes]]:
    return _cert, (cert.public_bytes(serialization.Encoding.DER),)


def _reduce_crl(crl: x509.CertificateRevocationList) -> tuple[Any, tuple[bytes]]:
    return _crl, (crl.public_bytes(serialization.Encoding.DER),)


# Trust anchors and CRLs cross to the workers once (initializer) as DER; cryptography's
# objects do not pickle by themselves. Only multiprocessing's pickler learns this.
ForkingPickler.register(x509.Certificate, _reduce_cert)
ForkingPickler.register(x509.CertificateRevocationList, _reduce_crl)


class _Worker:
    """This worker process's state (set once by its initializer)."""

    settings: AnalysisSettings | None = None
    cache: PathCache | None = None


#: how much lower than the daemon's the workers' scheduling priority is (nice(2))
WORKER_NICENESS: Final = 5


def _init_worker(settings: AnalysisSettings) -> None:
    _Worker.settings = settings
    _Worker.cache = PathCache()
    # The daemon's threads (HTTP, the group commit) must not wait behind analyses: when
    # they did, a group commit took longer than analysing the packets of the batch
    # before it, and the workers ran out of work ~16 % of the time under a closed-loop
    # load; at +5 they wait ~5 % (ADR 0014, addendum). +10 starved the daemon instead:
    # it then ran more often with less to do each time, and spent more CPU a packet.
    os.nice(WORKER_NICENESS)
    settle_heap()


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    """``at`` as whole microseconds since the epoch, for a call to a worker: exact, and
    an int pickles in well under a microsecond where an aware datetime (its timezone
    and timedelta by reference) took ~9-11 µs, most of the ~13-22 µs that framing a
    100 KB call cost the event loop (:func:`_instant` reads it back)."""
    return (at - _EPOCH) // _MICROSECOND


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _analyze_in_worker(body: bytes, micros: int) -> Wire:
    assert _Worker.settings is not None, "worker not initialised"
    return to_wire(analyze(body, _Worker.settings, _instant(micros), _Worker.cache))


# ------------------------------------------------------------- the answer's wire form
#
# A worker's answer crosses to the daemon for every packet. Pickled as they are, its
# dataclasses (an enum, aware datetimes, frozen classes rebuilt field by field) cost
# the worker ~35 µs to dump and the event loop ~31 µs to load in a quiet process
# (60-80 µs each in the daemon under load), for a ~1.8 KB answer. As tuples and lists
# of plain values, 1.2 KB, ~10 µs to dump and ~21 µs to load and rebuild
# (``python -m bench wire``, which measures both in one run).

#: an analysis as plain values: see :func:`to_wire`
Wire = tuple[Any, ...]

_SIGNER_FIELDS: Final = tuple(f.name for f in fields(SignerDetails))
#: SignerDetails' aware UTC datetimes, by position
_SIGNER_TIMES: Final = tuple(
    i for i, f in enumerate(fields(SignerDetails)) if f.name in ("not_before", "not_after")
)
_ATTACHMENT_FIELDS: Final = tuple(f.name for f in fields(AttachmentVerdict))
#: Verdict's fields in order (``outcome`` first, then ``signer``, converted), without
#: the tree: :func:`analyze` has dropped it
_VERDICT_FIELDS: Final = tuple(f.name for f in fields(Verdict) if f.name != "signed_root")
assert _VERDICT_FIELDS[:3] == ("outcome", "reasons", "signer"), _VERDICT_FIELDS


def _signer_to_wire(signer: SignerDetails) -> list[Any]:
    values = [getattr(signer, name) for name in _SIGNER_FIELDS]
    for i in _SIGNER_TIMES:
        value = values[i]
        if isinstance(value, datetime) and value.tzinfo is UTC:  # else pickled as it is
            values[i] = _micros(value)
    return values


def _signer_from_wire(values: list[Any]) -> SignerDetails:
    for i in _SIGNER_TIMES:
        if isinstance(values[i], int):
            values[i] = _instant(values[i])
    return SignerDetails(*values)


def to_wire(analysis: Analysis) -> Wire:
    """``analysis`` as nested tuples and lists of plain values, for :func:`from_wire`
    (a refusal, rare, is sent as it is)."""
    v = analysis.verdict
    verdict = None
    if v is not None:
        verdict = [getattr(v, name) for name in _VERDICT_FIELDS]
        verdict[0] = v.outcome.value
        verdict[2] = _signer_to_wire(v.signer) if v.signer is not None else None
    return (
        verdict,
        tuple(analysis.packet) if analysis.packet is not None else None,
        analysis.sender,
        analysis.refused,
        analysis.verify_seconds,
        analysis.packet_sha256,
        [[getattr(a, name) for name in _ATTACHMENT_FIELDS] for a in analysis.attachments],
    )


def from_wire(wire: Wire) -> Analysis:
    """The :class:`Analysis` that :func:`to_wire` was given (equal to it).

    The verdict's and the signer's lists in ``wire`` are converted in place (a freshly
    unpickled answer is never looked at again), which spares copying them.
    """
    verdict_w, packet_w, sender, refused, verify_seconds, packet_sha256, attachments_w = wire
    verdict = None
    if verdict_w is not None:
        verdict_w[0] = Outcome(verdict_w[0])
        if verdict_w[2] is not None:
            verdict_w[2] = _signer_from_wire(verdict_w[2])
        verdict = Verdict(*verdict_w)
    return Analysis(
        verdict=verdict,
        packet=PacketFacts._make(packet_w) if packet_w is not None else None,
        sender=sender,
        refused=refused,
        verify_seconds=verify_seconds,
        packet_sha256=packet_sha256,
        attachments=tuple(AttachmentVerdict(*values) for values in attachments_w),
    )


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


class Analyzer:
    """Runs :func:`analyze` off the event loop.

    ``workers = 0``: in this process, on a small thread pool. ``workers > 0``: that many
    worker processes (:class:`axis.procpool.ProcessPool`).
    """

    def __init__(
        self,
        settings: AnalysisSettings,
        *,
        workers: int = 0,
        executor: Executor | None = None,
        cache: PathCache | None = None,
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.cache = cache if cache is not None else PathCache()
        self._threads = executor or ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="axis-verify"
        )
        self._processes: ProcessPool | None = None
        if workers > 0:
            self._processes = ProcessPool(
                workers,
                initializer=_init_worker,
                initargs=(settings,),
                preload=["axis.analysis"],
            )

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, fn, *args)

    async def start(self) -> set[int]:
        """Start the workers now (so that the first packets do not pay for it); the
        process ids that answered."""
        if self._processes is None:
            return set()
        return await self._processes.start()

    async def analyze(self, body: bytes, at: datetime) -> Analysis:
        """:func:`analyze` of ``body`` in a worker (or a thread of this process)."""
        if self._processes is None:
            return await self._in_thread(analyze, body, self.settings, at, self.cache)
        return from_wire(await self._processes.call(_analyze_in_worker, body, _micros(at)))

    async def aclose(self) -> None:
        """Stop the workers (each exits once its socket closes) and the threads."""
        if self._processes is not None:
            await self._processes.aclose()
        self._threads.shutdown(wait=False, cancel_futures=True)
