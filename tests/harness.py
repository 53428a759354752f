"""Real deployments for tests: the dev PKI, a config file, a daemon on a loopback port.

Nothing here replaces a part of Axis: packets are built by ``edxml``, signed by
``signing`` with certificates from ``certs``, and sent over HTTP to a daemon built by
the same composition root as ``axis serve``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from axis.app import RunningDaemon
from axis.demodata import party
from axis.devsetup import Credentials, DevDeployment
from edxml.builder import build_document, build_status
from edxml.compose import compose_document, compose_status
from edxml.model import DocumentPacket, StatusCode
from signing.sign import SigningAlgorithm, sign_packet

NOW = datetime.now(UTC)


def document(
    sender: str,
    recipients: Sequence[str],
    *,
    number: str = "101",
    notation: str = "UBND-VP",
    subject: str = "Về việc triển khai chuyển đổi số năm 2026",
    **kw: Any,
) -> DocumentPacket:
    return compose_document(
        party(sender),
        [party(r) for r in recipients],
        when=NOW,
        number=number,
        notation=notation,
        subject=subject,
        **kw,
    )


def signed(
    dep: DevDeployment, code: str, data: bytes, algorithm: SigningAlgorithm = "rsa-sha256"
) -> bytes:
    issued = dep.pki.issued(dep.pki.agency(code))
    return sign_packet(data, issued.key, issued.cert, chain=issued.chain[:1], algorithm=algorithm)


def signed_document(dep: DevDeployment, sender: str, recipients: Sequence[str], **kw: Any) -> bytes:
    return signed(dep, sender, build_document(document(sender, recipients, **kw)))


def status_bytes(sender: str, doc: DocumentPacket, code: str) -> bytes:
    return build_status(compose_status(party(sender), doc, StatusCode(code), when=NOW))


@dataclass
class Native:
    """A client of the native API for one system."""

    base: str
    creds: Credentials
    session: aiohttp.ClientSession

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.token}"}

    async def send(self, data: bytes) -> tuple[int, dict[str, Any]]:
        async with self.session.post(
            f"{self.base}/api/v1/packets", data=data, headers=self.auth
        ) as r:
            return r.status, await r.json()

    async def inbox(self, **params: str) -> list[dict[str, Any]]:
        async with self.session.get(
            f"{self.base}/api/v1/inbox", params=params, headers=self.auth
        ) as r:
            assert r.status == 200, await r.text()
            items: list[dict[str, Any]] = (await r.json())["items"]
            return items

    async def fetch(self, delivery_id: int) -> tuple[int, bytes]:
        async with self.session.get(
            f"{self.base}/api/v1/inbox/{delivery_id}", headers=self.auth
        ) as r:
            return r.status, await r.read()

    async def ack(self, delivery_id: int) -> tuple[int, dict[str, Any]]:
        async with self.session.post(
            f"{self.base}/api/v1/inbox/{delivery_id}/ack", headers=self.auth
        ) as r:
            return r.status, await r.json()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.session.get(f"{self.base}{path}", params=params, headers=self.auth) as r:
            return r.status, await r.json()


def native(
    daemon: RunningDaemon, dep: DevDeployment, systemid: str, session: aiohttp.ClientSession
) -> Native:
    return Native(daemon.base_url, dep.systems[systemid], session)


def tmp_root(tmp_path: Path) -> Path:
    return tmp_path / "deployment"
