"""Intake: the one pipeline behind both APIs (VXP-compatible and native).

    body (already read with a size cap)
      -> signature verification (hardened single parse)
      -> schema validation of the *signed* tree -> the edXML model -> content checks
         (these three: axis.analysis, off the event loop, in worker processes or threads)
      -> the caller may speak for From; a signer belongs to From
      -> every recipient resolved (directory, successors, routes)
      -> ONE transaction in the store (bytes, metadata, verdict, deliveries, counters, event)
      -> the answer, only after commit

Every refusal is recorded (counted and audited) and raised as an ``AxisError`` with a
stable code. Only what the signature covered is read: the verifier hands back the signed
tree and nothing else here looks at the raw bytes except to store them untouched.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from axis.analysis import AnalysisSettings, Analyzer, PacketFacts, claimed_sender
from axis.credentials import may_act_for
from axis.directory import DEFAULT_ROUTES, Agency, RouteRule, match_route, resolve_recipient
from axis.hops import Hop, append_hop
from axis.observe import NULL_OBSERVER, IntakeObserver, current_request_id
from axis.pades import AttachmentVerdict
from axis.store import NewDelivery, NewPacket, Refusal, Store, dedup_key, new_document_id
from axis_errors import AuthError, AxisError, PacketError
from edxml.safe import DEFAULT_LIMITS, ParseLimits
from signing.certpath import PathCache
from signing.policy import DEFAULT_POLICY, Outcome, SignaturePolicy
from signing.trust import NO_REVOCATION_DATA, RevocationData, TrustStore
from signing.verify import Verdict

__all__ = ["Accepted", "Caller", "Intake", "IntakeSettings", "StoredFacts", "claimed_sender"]

Channel = Literal["vxp", "native", "national"]

log = logging.getLogger("axis.intake")


@dataclass(frozen=True)
class Caller:
    """An authenticated system and the agencies it may speak for (codes or patterns)."""

    system_id: str
    role: Literal["agency", "auditor", "admin"]
    patterns: tuple[str, ...]

    def may_act_for(self, code: str) -> bool:
        return may_act_for(self.patterns, code)


@dataclass(frozen=True)
class IntakeSettings:
    policy: SignaturePolicy = DEFAULT_POLICY
    trust: TrustStore = field(default_factory=lambda: TrustStore(anchors=()))
    revocation: RevocationData = NO_REVOCATION_DATA
    limits: ParseLimits = DEFAULT_LIMITS
    # Verdicts that make the axis refuse a packet. ``invalid`` always; a province may add
    # ``revoked``/``untrusted``; ``policy.require_signature`` adds unsigned/legacy.
    refuse_outcomes: frozenset[str] = frozenset({Outcome.INVALID.value})
    routes: tuple[RouteRule, ...] = DEFAULT_ROUTES
    national_enabled: bool = False
    organ_id: str | None = None  # this axis's OrganId: the hop it records (axis.hops)

    def analysis(self) -> AnalysisSettings:
        """The part the pure analysis needs (sent once to each worker process)."""
        return AnalysisSettings(
            policy=self.policy,
            trust=self.trust,
            revocation=self.revocation,
            limits=self.limits,
            refuse_outcomes=self.refuse_outcomes,
        )


@dataclass(frozen=True)
class Accepted:
    document_id: str
    created: bool
    answer: dict[str, Any]
    #: what the commit stored, for a receipt without reading it back (a new packet only;
    #: None for a duplicate, whose stored original is what a receipt must describe)
    stored: StoredFacts | None = None


@dataclass(frozen=True)
class Plan:
    """Where a packet goes: one delivery per distinct recipient, notes for the trace
    (successors), and whether the delivery engine has work in it (a national route or
    a target that receives by push; pull inboxes are not its business)."""

    deliveries: tuple[NewDelivery, ...]
    notes: tuple[str, ...]
    wakes_engine: bool


@dataclass(frozen=True)
class StoredFacts:
    """The fields of a freshly committed packet that its receipt states."""

    edxml_document_id: str
    sender_code: str
    packet_sha256: str
    verdict: str
    received_at: datetime  # aware UTC, as the store gives it back


class Intake:
    """Accepts packets. Built once by the composition root; safe to share between tasks."""

    def __init__(
        self,
        store: Store,
        settings: IntakeSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        executor: Executor | None = None,
        path_cache: PathCache | None = None,
        observer: IntakeObserver = NULL_OBSERVER,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.observer = observer  # metrics (axis.metrics); may be replaced before serving
        self.store = store
        self.settings = settings
        self.clock = clock
        #: runs the pure analysis (worker processes, or ``executor`` threads in-process);
        #: built from ``settings``, which are fixed for the analyzer's life
        self.analyzer = analyzer or Analyzer(
            settings.analysis(), workers=0, executor=executor, cache=path_cache
        )
        #: called after a commit that stored a new packet (the delivery engine's wake-up)
        self.on_commit: Callable[[], None] | None = None

    async def submit(
        self,
        body: bytes,
        caller: Caller,
        *,
        channel: Channel,
        claimed_from: str | None = None,
        hops: Sequence[Hop] = (),
    ) -> Accepted:
        """Accept ``body`` from ``caller`` or raise a recorded refusal.

        ``claimed_from`` is the sender a protocol names outside the packet (VXP's signed
        ``from``); when given it must equal From/OrganId. ``hops`` are the axes the packet
        went through before (told by an authenticated peer axis); this axis's own hop is
        appended and the list is kept in the answer (``answer["hops"]``, ADR 0010).

        On the ``national`` channel (a packet the national axis delivered to us) only
        recipients routed ``local`` get a delivery: the others were the national axis's.
        """
        now = self.clock()
        sender: str | None = None
        verdict_label: str | None = None
        try:
            analysis = await self.analyzer.analyze(body, now)
            verdict = analysis.verdict
            if verdict is not None:
                verdict_label = verdict.outcome.value
                if analysis.verify_seconds is not None:
                    self.observer.verified(analysis.verify_seconds, verdict_label)
            if analysis.refused is not None or analysis.packet is None or verdict is None:
                sender = analysis.sender
                if analysis.refused is None:  # pragma: no cover (analyze always says why)
                    raise PacketError(
                        "The packet has no readable content.", code="packet.unreadable"
                    )
                raise analysis.refused.error()
            packet = analysis.packet
            sender = packet.sender
            verdict_label = verdict.outcome.value
            if claimed_from is not None and claimed_from != sender:
                raise AuthError(
                    f"The request says it is from {claimed_from!r} but the packet's "
                    f"From/OrganId is {sender!r}.",
                    code="auth.from-mismatch",
                )
            if not caller.may_act_for(sender):
                raise AuthError(
                    f"System {caller.system_id!r} may not send as {sender!r} (From/OrganId).",
                    code="auth.forged-from",
                )
            await self._check_signer(verdict, sender)
            plan = await self._plan(packet, channel)
            organ = self.settings.organ_id
            trace = append_hop(hops, Hop(organ, now, verdict_label)) if organ else tuple(hops)
            accepted = await self._commit(
                packet,
                verdict,
                body=body,
                caller=caller,
                now=now,
                plan=plan,
                hops=trace,
                sha256=analysis.packet_sha256,
                attachments=analysis.attachments,
            )
        except AxisError as exc:
            await self._record_refusal(exc, sender, verdict_label, caller, now)
            self.observer.refused(exc.code, verdict_label, channel)
            raise
        kind = packet.kind
        self.observer.accepted(kind, verdict_label, channel, accepted.created)
        log.info(
            "%s %s from %s via %s: %s (%s)",
            kind,
            accepted.document_id,
            sender,
            channel,
            verdict_label,
            "new" if accepted.created else "duplicate",
        )
        return accepted

    async def _check_signer(self, verdict: Verdict, sender: str) -> None:
        signer = verdict.signer
        if signer is None:
            return
        if signer.organ_id == sender:
            return
        registered = await self.store.agency_cert_fingerprints(sender)
        if signer.sha256 in registered:
            return
        raise PacketError(
            f"The signing certificate ({signer.subject}) is not registered for {sender} "
            "and does not name it in its subject.",
            code="signature.signer-mismatch",
            details={"signer": signer.subject, "from": sender},
        )

    async def _plan(self, packet: PacketFacts, channel: Channel = "native") -> Plan:
        """One delivery per recipient; unknown or unroutable codes refuse the packet.

        A code the directory knows as closed goes to its successor first, and the route
        is the successor's (a code of a merged province may now be ours). A code the
        directory does not know is routed as it is.
        """
        recipients = packet.recipients
        deliveries: list[NewDelivery] = []
        notes: list[str] = []
        unknown: list[str] = []
        not_local: list[str] = []
        engine = False  # national, or a target that receives by push
        for code in recipients:
            resolved = await self._resolve(code)
            routed = resolved[0].code if resolved is not None else code
            route = match_route(routed, self.settings.routes) or "local"
            if route == "national":
                if channel == "national":
                    continue  # the national axis delivers it; it came to us for the others
                if not self.settings.national_enabled:
                    not_local.append(code)
                    continue
                via_codes = resolved[1] if resolved is not None else ()
                deliveries.append(NewDelivery(code, routed, "national", None, via_codes))
                engine = True
                continue
            if resolved is None:
                unknown.append(code)
                continue
            target, via = resolved
            if via:
                notes.append(
                    f"{code} is closed; delivered to its successor {target.code}"
                    + (f" (via {' → '.join(via[1:])})" if len(via) > 1 else "")
                )
            deliveries.append(NewDelivery(code, target.code, "local", target.tier, via))
            engine = engine or target.delivery_mode == "push"
        if not_local:
            raise PacketError(
                "Recipient(s) not local to this axis and no national axis is configured: "
                + ", ".join(not_local),
                code="route.not-local",
                details={"recipients": not_local},
            )
        if unknown:
            raise PacketError(
                "Unknown recipient code(s): " + ", ".join(unknown),
                code="route.unknown-recipient",
                details={"recipients": unknown},
            )
        if not deliveries:
            raise PacketError(
                "None of the packet's recipients is local to this axis: " + ", ".join(recipients),
                code="route.no-local-recipient",
                details={"recipients": list(recipients)},
            )
        return Plan(tuple(deliveries), tuple(notes), engine)

    async def _resolve(self, code: str) -> tuple[Agency, tuple[str, ...]] | None:
        """The active agency a code reaches (following successors), or None if unknown."""
        known: dict[str, Agency] = {}
        current: str | None = code
        for _ in range(10):  # resolve_recipient refuses chains deeper than 8
            if current is None or current in known:
                break
            agency = await self.store.get_agency(current)
            if agency is None:
                break
            known[current] = agency
            current = agency.successor if agency.status == "closed" else None
        resolution = resolve_recipient(code, known.get)
        if resolution is None:
            return None
        return resolution.target, resolution.via_successor

    async def _commit(
        self,
        packet: PacketFacts,
        verdict: Verdict,
        *,
        body: bytes,
        caller: Caller,
        now: datetime,
        plan: Plan,
        hops: Sequence[Hop] = (),
        sha256: str | None = None,
        attachments: tuple[AttachmentVerdict, ...] = (),
    ) -> Accepted:
        deliveries, notes = plan.deliveries, plan.notes
        sha256 = sha256 or hashlib.sha256(body).hexdigest()
        sender_agency = await self.store.get_agency(packet.sender)
        signer = verdict.signer
        kind = packet.kind
        document_id = new_document_id()
        answer: dict[str, Any] = {
            "document_id": document_id,
            "kind": kind,
            "verdict": verdict.outcome.value,
            "reasons": list(verdict.reasons),
            "signer": signer.to_dict() if signer else None,
            "recipients": [
                {"addressed": d.recipient_code, "target": d.target_code, "route": d.route}
                for d in deliveries
            ],
            "notes": list(notes),
            "received_at": now.isoformat(),
            "hops": [h.to_json() for h in hops],
        }
        if kind == "document":  # each PDF attachment's signature (PAdES), axis.pades
            answer["attachments"] = [v.to_dict() for v in attachments]
        new = NewPacket(
            document_id=document_id,
            kind=kind,
            sender_code=packet.sender,
            sender_tier=sender_agency.tier if sender_agency else None,
            system_id=caller.system_id,
            edxml_document_id=packet.edxml_document_id,
            dedup_key=dedup_key(
                kind,
                packet.sender,
                packet.edxml_document_id,
                packet.business_type,
                packet.status_code,
            ),
            received_at=now,
            verdict=verdict.outcome.value,
            data=body,
            deliveries=deliveries,
            answer=answer,
            business_type=packet.business_type,
            status_code=packet.status_code,
            response_for=packet.response_for,
            response_for_organ=packet.response_for_organ,
            subject=packet.subject,
            code_number=packet.code_number,
            code_notation=packet.code_notation,
            verdict_reasons=tuple(verdict.reasons),
            signer_sha256=signer.sha256 if signer else None,
            signer_subject=signer.subject if signer else None,
            signer_organ_id=signer.organ_id if signer else None,
            issuer=signer.issuer if signer else None,
            algorithm=verdict.algorithm,
            notes=notes,
            request_id=current_request_id(),
            attachment_verdicts=attachments if kind == "document" else None,
            packet_sha256=sha256,
        )
        committed = await self.store.commit_packet(new)
        if committed.created and self.on_commit is not None and plan.wakes_engine:
            self.on_commit()
        stored = None
        if committed.created:  # what the store now holds, as it gives it back
            stored = StoredFacts(
                edxml_document_id=new.edxml_document_id,
                sender_code=new.sender_code,
                packet_sha256=sha256,
                verdict=new.verdict,
                received_at=now.astimezone(UTC),
            )
        return Accepted(committed.document_id, committed.created, committed.answer, stored)

    async def _record_refusal(
        self,
        exc: AxisError,
        sender: str | None,
        verdict: str | None,
        caller: Caller,
        now: datetime,
    ) -> None:
        tier = None
        if sender is not None:
            agency = await self.store.get_agency(sender)
            tier = agency.tier if agency else None
        await self.store.record_refusal(
            Refusal(
                sender_code=sender,
                sender_tier=tier,
                system_id=caller.system_id,
                code=exc.code,
                message=exc.message,
                verdict=verdict,
                at=now,
            )
        )
