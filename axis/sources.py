"""Where the dashboard, ``/metrics``, ``/readyz`` and the alert job get their facts.

One place that knows the providers: the delivery queue (:mod:`axis.store.deliveries`),
the national link's health (:mod:`axis.store.national`), the dashboard's own figures
(:mod:`axis.store.dashboard`) and the trust material the daemon loaded (anchors,
intermediates, CRLs) plus the axis's own certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from axis import alerts
from axis.store import deliveries as dq
from axis.store.dashboard import node_state, registered_certs

if TYPE_CHECKING:
    from axis.app import Services

__all__ = ["NATIONAL_POLL_STATE", "NationalHealth", "Sources", "cert_fact"]

#: The ``node_state`` key under which the national poller keeps its health.
NATIONAL_POLL_STATE = "national.poll"


@dataclass(frozen=True, slots=True)
class NationalHealth:
    """The link to the national axis as the poller last recorded it."""

    last_poll: datetime | None
    last_success: datetime | None
    backlog: int | None
    last_error: str | None = None
    last_error_at: datetime | None = None


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def cert_fact(kind: str, cert: x509.Certificate, owner: str | None = None) -> alerts.CertFact:
    return alerts.CertFact(
        kind=kind,  # type: ignore[arg-type]
        subject=_name(cert),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_after=cert.not_valid_after_utc,
        owner=owner,
    )


def _read_certs(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    try:
        if b"-----BEGIN" in data:
            return list(x509.load_pem_x509_certificates(data))
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return []


class Sources:
    """Facts for one daemon (built once, cheap to call)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.intake.settings
        self._trust = [cert_fact("anchor", c) for c in settings.trust.anchors] + [
            cert_fact("intermediate", c) for c in settings.trust.intermediates
        ]
        own: list[alerts.CertFact] = []
        tls = services.config.server.tls_cert
        if tls is not None:
            own = [cert_fact("axis", c) for c in _read_certs(tls)[:1]]
        self._own = own

    # --- the queues -------------------------------------------------------------------

    async def queue_stats(self, now: datetime) -> list[dq.QueueStats]:
        return await dq.queue_stats(self.services.store, now, include_pull=True)

    # --- the national link ------------------------------------------------------------

    async def national_health(self) -> NationalHealth | None:
        """None when this axis has no national link configured; empty fields until the
        poller (``axis.national``) has recorded its first poll (``national.poll``)."""
        if not self.services.config.national.enabled:
            return None
        state = await node_state(self.services.store, NATIONAL_POLL_STATE) or {}
        backlog = state.get("backlog")
        return NationalHealth(
            last_poll=_instant(state.get("last_poll")),
            last_success=_instant(state.get("last_success")),
            backlog=int(backlog) if isinstance(backlog, int) else None,
            last_error=str(state["last_error"]) if state.get("last_error") else None,
            last_error_at=_instant(state.get("last_error_at")),
        )

    # --- trust material ---------------------------------------------------------------

    def crls(self) -> list[alerts.CrlFact]:
        out = []
        for crl in self.services.intake.settings.revocation.crls:
            out.append(alerts.CrlFact(crl.issuer.rfc4514_string(), crl.next_update_utc))
        return out

    def trust_certs(self) -> list[alerts.CertFact]:
        """Anchors, intermediates and the axis's own certificate, soonest expiry first."""
        return sorted([*self._trust, *self._own], key=lambda c: (c.not_after, c.sha256))

    async def agency_certs(self, expiring_before: datetime | None = None) -> list[alerts.CertFact]:
        rows = await registered_certs(self.services.store, expiring_before=expiring_before)
        return [
            alerts.CertFact("agency", r.subject, r.sha256, r.not_after, r.agency_code) for r in rows
        ]

    # --- alerts -----------------------------------------------------------------------

    async def facts(self, now: datetime, thresholds: alerts.Thresholds) -> alerts.Facts:
        queues = await self.queue_stats(now)
        destinations = [
            alerts.DestinationFact(q.destination, q.failing_since, q.paused, q.last_error)
            for q in queues
            if q.mode != "pull"
        ]
        inboxes = [
            alerts.InboxFact(
                q.destination.removeprefix(dq.INBOX_PREFIX), q.oldest_pending_at, q.pending
            )
            for q in queues
            if q.mode == "pull"
        ]
        horizon = now + thresholds.cert_expiry + timedelta(days=1)
        certs = [c for c in self.trust_certs() if c.not_after <= horizon]
        certs += await self.agency_certs(expiring_before=horizon)
        return alerts.Facts(now, destinations, inboxes, self.crls(), certs)
