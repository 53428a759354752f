"""The axis's own signing identity (``[audit]`` cert and key) and the periodic signing
of the audit chain head.

The same key signs the chain heads (:mod:`axis.auditchain`) and the receipts
(:mod:`axis.receipts`). Whoever checks them offline needs only the certificate
(``audit.cert``; its chain is taken from the file and the configured trust material).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from axis.api.common import SERVICES
from axis.auditchain import SignedHead
from axis.config import Config
from axis.store import Store
from axis.store.audit import sign_current_head
from axis_errors import AxisError, ConfigError
from certs.devpki import load_issued
from edxml.b64 import encode_text
from signing.trust import load_certificates

if TYPE_CHECKING:
    from axis.app import Services

__all__ = [
    "AxisSigner",
    "audit_heads_ctx",
    "axis_certificates",
    "load_axis_signer",
    "sign_head_now",
]

log = logging.getLogger("axis.audit")


@dataclass(frozen=True)
class AxisSigner:
    """The axis's key, its certificate and the certificates above it (nearest first)."""

    key: PrivateKeyTypes
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @cached_property
    def certificate_texts(self) -> tuple[str, ...]:
        """The certificate then its chain as KeyInfo carries them (base64 of the DER),
        encoded once: every receipt repeats them."""
        return tuple(encode_text(c.public_bytes(serialization.Encoding.DER)) for c in self.certs)

    @property
    def certs(self) -> tuple[x509.Certificate, ...]:
        """The certificate then its chain (nearest first)."""
        return (self.cert, *self.chain)

    @property
    def cert_sha256(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def chain_pem(self) -> bytes:
        """The certificate then its chain, PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.certs)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {what} {path}: {exc.strerror}.", code="config.audit-unreadable"
        ) from exc


def _issuers(
    cert: x509.Certificate, pool: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """The chain above ``cert`` found in ``pool`` by issuer name (nearest first)."""
    out: list[x509.Certificate] = []
    current = cert
    for _ in range(8):
        if current.issuer == current.subject:
            break
        parent = next((c for c in pool if c.subject == current.issuer and c not in out), None)
        if parent is None:
            break
        out.append(parent)
        current = parent
    return tuple(out)


def _trust_pool(config: Config) -> list[x509.Certificate]:
    pool: list[x509.Certificate] = []
    for path in (*config.trust.intermediates, *config.trust.anchors):
        with contextlib.suppress(ConfigError, AxisError, OSError, ValueError):
            pool.extend(load_certificates(path.read_bytes()))
    return pool


def axis_certificates(config: Config) -> tuple[x509.Certificate, ...]:
    """``audit.cert`` (first) and its chain, without reading the key: what a verifier
    needs. Empty when no audit certificate is configured."""
    if config.audit.cert is None:
        return ()
    certs = load_certificates(_read(config.audit.cert, "audit.cert"))
    if not certs:
        raise ConfigError(f"{config.audit.cert} holds no certificate.", code="config.audit-cert")
    leaf, extra = certs[0], list(certs[1:])
    return (leaf, *_issuers(leaf, [*extra, *_trust_pool(config)]))


def load_axis_signer(config: Config) -> AxisSigner | None:
    """The axis's signing identity from ``audit.cert``/``audit.key`` (None if unset)."""
    if config.audit.cert is None or config.audit.key is None:
        return None
    issued = load_issued(config.audit.cert, config.audit.key)
    chain = axis_certificates(config)[1:]
    return AxisSigner(key=issued.key, cert=issued.cert, chain=chain)


async def sign_head_now(store: Store, signer: AxisSigner, at: datetime) -> SignedHead | None:
    """Sign the current chain head (None when it is signed already or the chain is empty)."""
    return await sign_current_head(store, signer.key, signer.cert, at=at)


async def _periodic(
    store: Store, signer: AxisSigner, interval: float, clock: Callable[[], datetime]
) -> None:
    while True:
        try:
            await sign_head_now(store, signer, clock())
        except AxisError as exc:
            log.warning("could not sign the audit chain head: [%s] %s", exc.code, exc.message)
        await asyncio.sleep(interval)


async def audit_heads_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: sign the chain head at start, every
    ``audit.sign_interval`` seconds, and once more at shutdown."""
    services: Services = app[SERVICES]
    signer = services.axis_signer
    if signer is None:
        yield
        return
    task = asyncio.create_task(
        _periodic(services.store, signer, services.config.audit.sign_interval, services.clock)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await sign_head_now(services.store, signer, services.clock())
        except AxisError as exc:
            log.warning("could not sign the final audit head: [%s] %s", exc.code, exc.message)
