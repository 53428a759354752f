"""The composition root: builds the store, trust material, intake and the web app from
the configuration. Tests build the same root with another configuration."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.crl import fetch_crl
from axis import web as web_ui
from axis.analysis import Analyzer, default_workers
from axis.api import admin, native, vxp
from axis.api import auditor as auditor_api
from axis.api import national as national_api
from axis.api.common import SERVICES, request_id_middleware
from axis.auditsign import AxisSigner, audit_heads_ctx, load_axis_signer
from axis.config import Config
from axis.credentials import default_system_id, new_secret, new_token, validate_system_id
from axis.delivery import DeliveryEngine, delivery_ctx, engine_from_config
from axis.directory import Agency, agency_from_fields
from axis.eventloop import settle_heap
from axis.hops import hops_of_answer
from axis.intake import Caller, Intake, IntakeSettings
from axis.national import NationalRuntime
from axis.receipts import ReceiptBatcher
from axis.store import InboxItem, NewSystem, Store, System, open_configured_store
from axis_errors import ConfigError, InputError
from certs.profiles import load_profile
from edxml.safe import ParseLimits
from signing.certpath import PathCache
from signing.policy import (
    CIRCULAR_15_2025_POLICY,
    DEFAULT_POLICY,
    UNSAFE_LEGACY_POLICY,
    RevocationMode,
    SignaturePolicy,
)
from signing.trust import (
    NO_REVOCATION_DATA,
    RevocationData,
    TrustStore,
    load_certificates,
    load_crl,
)

log = logging.getLogger("axis")


POLICY_PRESETS: dict[str, SignaturePolicy] = {
    "default": DEFAULT_POLICY,
    "circular-15-2025": CIRCULAR_15_2025_POLICY,
    "unsafe-legacy": UNSAFE_LEGACY_POLICY,
}


def policy_from_config(config: Config) -> SignaturePolicy:
    """The signature policy: a named algorithm preset plus the configured switches."""
    p = config.policy
    preset = POLICY_PRESETS.get(p.algorithms)
    if preset is None:
        raise ConfigError(
            f"policy.algorithms must be one of {', '.join(POLICY_PRESETS)}, not {p.algorithms!r}.",
            code="config.bad-value",
        )
    mode = (
        RevocationMode.HARD_FAIL if p.revocation_mode == "hard-fail" else RevocationMode.SOFT_FAIL
    )
    return replace(
        preset,
        unsafe_accept_sha1_as_legacy=preset.unsafe_accept_sha1_as_legacy
        or p.unsafe_accept_sha1_as_legacy,
        require_signature=p.require_signature,
        revocation_mode=mode,
    )


def parse_limits(config: Config) -> ParseLimits:
    lim = config.limits
    return ParseLimits(
        max_bytes=lim.max_bytes, max_depth=lim.max_depth, max_elements=lim.max_elements
    )


async def load_trust(config: Config) -> tuple[TrustStore, RevocationData]:
    """Read anchors, intermediates and CRLs named by the configuration (files or URLs)."""
    anchors: list[Any] = []
    intermediates: list[Any] = []
    if config.trust.profile:
        anchors.extend(load_profile(config.trust.profile))
    for path in [*config.trust.anchors, *config.trust.intermediates]:
        try:
            certs = load_certificates(await asyncio.to_thread(path.read_bytes))
        except OSError as exc:
            raise ConfigError(
                f"Cannot read trust file {path}: {exc.strerror}.", code="config.trust-unreadable"
            ) from exc
        for cert in certs:
            (anchors if cert.issuer == cert.subject else intermediates).append(cert)
    crls = []
    if config.policy.revocation_mode == "off":
        return TrustStore(anchors=tuple(anchors), intermediates=tuple(intermediates)), (
            NO_REVOCATION_DATA
        )
    for source in config.trust.crls:
        if source.startswith(("http://", "https://")):
            blob = await fetch_crl(source)
        else:
            try:
                blob = await asyncio.to_thread(Path(source).read_bytes)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot read CRL {source}: {exc.strerror}.", code="config.crl-unreadable"
                ) from exc
        crls.append(load_crl(blob))
    return (
        TrustStore(anchors=tuple(anchors), intermediates=tuple(intermediates)),
        RevocationData(crls=tuple(crls)),
    )


@dataclass
class Services:
    """Everything a request handler may use. Built once per daemon."""

    config: Config
    store: Store
    intake: Intake
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: the axis's own key and certificate ([audit]): signs audit heads and receipts
    axis_signer: AxisSigner | None = None
    #: signs receipts in batches with ``axis_signer`` (None without one)
    receipts: ReceiptBatcher | None = None
    #: the delivery engine (push, and national once its transport is plugged in)
    delivery: DeliveryEngine | None = None
    #: the national axis link (``national.endpoint`` set): its transport serves the route
    #: "national" of the engine; it polls and syncs the directory on its schedule
    national: NationalRuntime | None = None

    # --- callers -------------------------------------------------------------------
    @staticmethod
    def caller_of(system: System) -> Caller:
        return Caller(system_id=system.id, role=system.role, patterns=tuple(system.patterns))

    async def caller_by_token(self, token: str) -> Caller | None:
        system = await self.store.find_system_by_token(token)
        return None if system is None or system.disabled else self.caller_of(system)

    async def caller_by_client_cert(self, request: web.Request) -> Caller | None:
        transport = request.transport
        sslobj = transport.get_extra_info("ssl_object") if transport else None
        if sslobj is None:
            return None
        der = sslobj.getpeercert(binary_form=True)
        if not der:
            return None
        system = await self.store.find_system_by_client_cert(hashlib.sha256(der).hexdigest())
        return None if system is None or system.disabled else self.caller_of(system)

    async def may_see_document(self, caller: Caller, doc: Any) -> bool:
        if caller.role in ("admin", "auditor"):
            return True
        if caller.may_act_for(doc.sender_code):
            return True
        return any(
            caller.may_act_for(d.target_code) or caller.may_act_for(d.recipient_code)
            for d in doc.deliveries
        )

    # --- shapes ----------------------------------------------------------------------
    @staticmethod
    def inbox_item_json(item: InboxItem) -> dict[str, Any]:
        return {
            "delivery_id": item.delivery_id,
            "document_id": item.document_id,
            "kind": item.kind,
            "from": item.sender_code,
            "to": item.target_code,
            "addressed_to": item.recipient_code,
            "state": item.state,
            "verdict": item.verdict,
            "edxml_document_id": item.edxml_document_id,
            "business_type": item.business_type,
            "status_code": item.status_code,
            "subject": item.subject,
            "created_at": item.created_at.isoformat(),
        }

    @staticmethod
    def document_json(doc: Any) -> dict[str, Any]:
        return {
            "document_id": doc.id,
            "kind": doc.kind,
            "from": doc.sender_code,
            "edxml_document_id": doc.edxml_document_id,
            "business_type": doc.business_type,
            "status_code": doc.status_code,
            "response_for": doc.response_for,
            "subject": doc.subject,
            "verdict": doc.verdict,
            "received_at": doc.received_at.isoformat(),
            "packet_sha256": doc.packet_sha256,
            "hops": [h.to_json() for h in hops_of_answer(doc.answer)],
        }

    def trace_json(self, event: Any) -> dict[str, Any]:
        return {
            "at": event.at.isoformat(),
            "kind": event.kind,
            "node": event.node or self.config.axis.organ_id,
            "agency": event.agency_code,
            "status_code": event.status_code,
            "detail": dict(event.detail or {}),
        }

    @staticmethod
    def system_json(system: System) -> dict[str, Any]:
        return {
            "systemid": system.id,
            "name": system.name,
            "role": system.role,
            "agencies": list(system.patterns),
        }

    @staticmethod
    def agency_from_json(data: dict[str, Any]) -> Agency:
        return agency_from_fields(data, "the request body")

    async def create_system_from_json(self, data: Any) -> dict[str, str]:
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("agencies"), list)
            or not all(isinstance(a, str) for a in data["agencies"])
            or not data["agencies"]
        ):
            raise InputError(
                'Expected {"agencies": [codes or patterns], "role": ..., "name": ...}.',
                code="input.bad-json",
            )
        patterns = tuple(data["agencies"])
        role = data.get("role", "agency")
        if role not in ("agency", "auditor", "admin"):
            raise InputError("role must be agency, auditor or admin.", code="input.bad-param")
        system_id = validate_system_id(str(data.get("systemid") or default_system_id(patterns[0])))
        secret, token = new_secret(), new_token()
        await self.store.add_system(
            NewSystem(
                id=system_id,
                name=str(data.get("name") or system_id),
                role=role,
                patterns=patterns,
                secret=secret,
                token=token,
            )
        )
        return {"systemid": system_id, "secret": secret, "token": token}

    async def audit_admin(self, caller: Caller, action: str, detail: dict[str, Any]) -> None:
        await self.store.record_event(action, actor=caller.system_id, detail=detail)


def build_web_app(services: Services) -> web.Application:
    app = web.Application(
        middlewares=[request_id_middleware, native.native_errors],
        client_max_size=services.config.server.max_body_bytes + 1024,
    )
    app[SERVICES] = services
    app.cleanup_ctx.append(audit_heads_ctx)  # signs the audit chain head periodically
    app.cleanup_ctx.append(national_api.national_ctx)  # polls the national axis
    app.cleanup_ctx.append(delivery_ctx)  # the delivery engine runs with the app
    native.add_routes(app)
    auditor_api.add_routes(app)  # receipts, the signature report
    admin.add_routes(app)
    if services.national is not None:
        national_api.add_routes(app)
    vxp.add_routes(app, services.config.vxp.prefix)
    web_ui.setup(app)  # dashboard at /, /metrics, /healthz, /readyz, the alert job
    return app


async def build_services(
    config: Config, *, clock: Callable[[], datetime] | None = None
) -> Services:
    axis_signer = await asyncio.to_thread(load_axis_signer, config)
    store = await open_configured_store(config)
    trust, revocation = await load_trust(config)
    settings = IntakeSettings(
        policy=policy_from_config(config),
        trust=trust,
        revocation=revocation,
        limits=parse_limits(config),
        routes=config.routes,
        national_enabled=config.national.enabled,
        organ_id=config.axis.organ_id,
    )
    workers = config.server.workers
    analyzer = Analyzer(  # verification and reading: worker processes (0: threads here)
        settings.analysis(),
        workers=default_workers() if workers is None else workers,
        cache=PathCache(),
    )
    real_clock = clock or (lambda: datetime.now(UTC))
    intake = Intake(store, settings, clock=real_clock, analyzer=analyzer)
    delivery = engine_from_config(config, store, clock=real_clock)
    intake.on_commit = delivery.wake
    national_link: NationalRuntime | None = None
    if config.national.enabled:
        national_link = NationalRuntime(config, store, intake, clock=real_clock)
        delivery.add_transport("national", national_link.transport)
        # as many sendEdoc in flight as connections to the national axis
        limits = {**(delivery.settings.destination_limits or {})}
        limits.setdefault("national", config.national.connections)
        delivery.settings = replace(delivery.settings, destination_limits=limits)
    return Services(
        config=config,
        store=store,
        intake=intake,
        clock=real_clock,
        axis_signer=axis_signer,
        receipts=ReceiptBatcher(axis_signer, real_clock) if axis_signer else None,
        delivery=delivery,
        national=national_link,
    )


def server_ssl_context(config: Config) -> ssl.SSLContext | None:
    s = config.server
    if not s.tls_cert:
        return None
    if not s.tls_key:
        raise ConfigError("server.tls_cert needs server.tls_key.", code="config.tls-incomplete")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(s.tls_cert, s.tls_key)
    if s.tls_client_ca:
        ctx.load_verify_locations(s.tls_client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # a client certificate, or a secret/token
    return ctx


@dataclass
class RunningDaemon:
    """A daemon serving on a real socket; ``stop()`` closes it and its store."""

    services: Services
    runner: web.AppRunner
    base_url: str

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.services.store.close()
        await self.services.intake.analyzer.aclose()


async def start_daemon(
    config: Config, *, clock: Callable[[], datetime] | None = None
) -> RunningDaemon:
    """Build everything from ``config`` and listen (port 0 picks a free port)."""
    services = await build_services(config, clock=clock)
    await services.intake.analyzer.start()  # the workers, before the first packet
    app = build_web_app(services)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    ctx = server_ssl_context(config)
    site = web.TCPSite(
        runner, config.server.host, config.server.port, ssl_context=ctx, reuse_address=True
    )
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await services.store.close()
        await services.intake.analyzer.aclose()
        raise ConfigError(
            f"Cannot listen on {config.server.host}:{config.server.port}: {exc.strerror}.",
            code="config.cannot-listen",
        ) from exc
    port = config.server.port
    server = site._server
    sockets = getattr(server, "sockets", None)
    if port == 0 and sockets:
        port = sockets[0].getsockname()[1]
    scheme = "https" if ctx else "http"
    base = f"{scheme}://{config.server.host}:{port}"
    log.info(
        "axis listening on %s (store: %s, event loop: %s)",
        base,
        services.store.dialect,
        type(asyncio.get_running_loop()).__module__.split(".")[0],
    )
    return RunningDaemon(services, runner, base)


async def run_server(config: Config, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve until cancelled. ``ready`` is called with the base URL once listening."""
    daemon = await start_daemon(config)
    settle_heap()  # what start-up built lives as long as the process
    if ready:
        ready(daemon.base_url)
    try:
        await asyncio.Event().wait()
    finally:
        await daemon.stop()
