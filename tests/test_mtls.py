"""HTTPS and client certificates (mTLS), with the development PKI of ``certs``.

With ``server.tls_cert``/``server.tls_key`` the daemon serves HTTPS; with
``server.tls_client_ca`` it asks for a client certificate (optional: a token or the VXP
HMAC still works) and verifies it against those CAs only. A system registered with a
certificate's SHA-256 (of its DER) is authenticated by it on the native API, no token.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from adapters.vxp.client import VxpClient
from axis.app import RunningDaemon, server_ssl_context, start_daemon
from axis.config import Config
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.store import NewSystem
from axis_errors import PeerError
from certs import pki
from tests.harness import NOW, signed_document

WARD2 = "000.02.30.H36"  # Phường 2, Đà Lạt: the agency the mTLS system speaks for
CITY = "000.30.00.H36"
MTLS_SYSTEM = "qlvb.phuong2"


def tls_config(dep: DevDeployment, *, client_ca: bool = True) -> Config:
    server = dataclasses.replace(
        dep.config.server,
        tls_cert=dep.pki.server.cert,
        tls_key=dep.pki.server.key,
        tls_client_ca=dep.pki.ca_chain if client_ca else None,
    )
    return dataclasses.replace(dep.config, server=server)


def der_sha256(cert_pem: Path) -> str:
    """What a system is registered with: SHA-256 of the certificate's DER, hex."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


def client_context(
    dep: DevDeployment, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A client trusting the dev root, presenting ``cert`` when given."""
    ctx = ssl.create_default_context(cafile=str(dep.pki.root_cert))
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def write_issued(issued: pki.Issued, directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return cert, key


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW
    )


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(tls_config(deployment))
    # the mTLS system: no token it knows of, only its client certificate
    await d.services.store.add_system(
        NewSystem(
            id=MTLS_SYSTEM,
            name="QLVB Phường 2 (mTLS)",
            role="agency",
            patterns=(WARD2,),
            secret="unused-secret-of-the-mtls-system",
            token="axis_unused-token-of-the-mtls-system",
            client_cert_sha256=der_sha256(deployment.pki.client.cert),
        )
    )
    yield d
    await d.stop()


async def call(
    ctx: ssl.SSLContext,
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    token: str | None = None,
) -> tuple[int, Any, str]:
    """One request on a fresh connection; (status, JSON or bytes, WWW-Authenticate)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=data, headers=headers, ssl=ctx) as r,
    ):
        body: Any = await r.json() if r.content_type == "application/json" else await r.read()
        return r.status, body, r.headers.get("WWW-Authenticate", "")


def test_server_context_asks_for_an_optional_client_certificate(
    deployment: DevDeployment,
) -> None:
    assert server_ssl_context(deployment.config) is None  # no tls_cert: plain HTTP
    ctx = server_ssl_context(tls_config(deployment, client_ca=False))
    assert ctx is not None and ctx.verify_mode == ssl.CERT_NONE
    ctx = server_ssl_context(tls_config(deployment))
    assert ctx is not None and ctx.verify_mode == ssl.CERT_OPTIONAL
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    # trusted for client certificates: the configured chain, nothing else
    assert ctx.cert_store_stats()["x509_ca"] == 2


async def test_a_registered_client_certificate_authenticates_without_a_token(
    daemon: RunningDaemon, deployment: DevDeployment
) -> None:
    assert daemon.base_url.startswith("https://")
    base = f"{daemon.base_url}/api/v1"
    mtls = client_context(deployment, deployment.pki.client.cert, deployment.pki.client.key)
    anon = client_context(deployment)
    province = deployment.systems["qlvb.lamdong"].token

    # the province sends to the ward over TLS with its token (no client certificate)
    incoming = signed_document(deployment, PROVINCE, [WARD2], number="401")
    status, answer, _ = await call(anon, "POST", f"{base}/packets", data=incoming, token=province)
    assert status == 201, answer

    # the ward's system: the certificate alone
    status, inbox, _ = await call(mtls, "GET", f"{base}/inbox")
    assert status == 200, inbox
    (item,) = inbox["items"]
    assert (item["from"], item["to"]) == (PROVINCE, WARD2)
    status, body, _ = await call(mtls, "GET", f"{base}/inbox/{item['delivery_id']}")
    assert (status, body) == (200, incoming)
    status, acked, _ = await call(mtls, "POST", f"{base}/inbox/{item['delivery_id']}/ack")
    assert status == 200 and acked["first"] is True

    outgoing = signed_document(deployment, WARD2, [CITY], number="12", notation="UBND")
    status, answer, _ = await call(mtls, "POST", f"{base}/packets", data=outgoing)
    assert status == 201 and answer["verdict"] == "valid", answer
    documents = await daemon.services.store.sent_by([WARD2])
    assert [(d.id, d.system_id) for d in documents] == [(answer["document_id"], MTLS_SYSTEM)]

    # it speaks only for its agency
    forged = signed_document(deployment, CITY, [PROVINCE], number="13", notation="UBND")
    status, answer, _ = await call(mtls, "POST", f"{base}/packets", data=forged)
    assert status == 403 and answer["error"]["code"] == "auth.forged-from"


async def test_no_certificate_or_an_unknown_one_is_401(
    daemon: RunningDaemon, deployment: DevDeployment, tmp_path: Path
) -> None:
    base = f"{daemon.base_url}/api/v1"
    # no client certificate, no token
    status, answer, challenge = await call(client_context(deployment), "GET", f"{base}/inbox")
    assert (status, answer["error"]["code"]) == (401, "auth.unauthenticated")
    assert challenge.startswith("Bearer")

    # a certificate of the same CA, valid for TLS, but registered for no system
    other = pki.issue_client_cert(
        deployment.pki.issuing_ca(), system_id="qlvb.khong-dang-ky", now=NOW
    )
    cert, key = write_issued(other, tmp_path / "other", "client")
    status, answer, _ = await call(client_context(deployment, cert, key), "GET", f"{base}/inbox")
    assert (status, answer["error"]["code"]) == (401, "auth.unauthenticated")

    # a token that is not valid does not fall back to the (valid) certificate
    mtls = client_context(deployment, deployment.pki.client.cert, deployment.pki.client.key)
    status, answer, _ = await call(mtls, "GET", f"{base}/inbox", token="axis_not-a-token")
    assert status == 401
    # a valid token names its own system, whatever the certificate
    token = deployment.systems["qlvb.ductrong"].token
    status, answer, _ = await call(mtls, "GET", f"{base}/inbox", token=token)
    assert status == 200 and answer["items"] == []

    # a disabled system's certificate no longer authenticates
    await daemon.services.store.set_system_disabled(MTLS_SYSTEM)
    status, answer, _ = await call(mtls, "GET", f"{base}/inbox")
    assert status == 401


async def test_a_certificate_of_another_ca_is_refused_in_the_handshake(
    daemon: RunningDaemon, deployment: DevDeployment, tmp_path: Path
) -> None:
    root = pki.make_root_ca("Foreign Root", now=NOW, key_size=2048)
    foreign = pki.issue_client_cert(root, system_id="qlvb.foreign", now=NOW, key_size=2048)
    cert, key = write_issued(foreign, tmp_path / "foreign", "client")
    await daemon.services.store.add_system(
        NewSystem(
            id="qlvb.foreign",
            name="foreign",
            role="agency",
            patterns=(CITY,),
            secret="unused-secret-of-the-foreign-system",
            token="axis_unused-token-of-the-foreign-system",
            client_cert_sha256=der_sha256(cert),
        )
    )
    with pytest.raises(aiohttp.ClientError):
        await call(client_context(deployment, cert, key), "GET", f"{daemon.base_url}/api/v1/inbox")


async def test_only_the_configured_cas_are_trusted_for_client_certificates(
    deployment: DevDeployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA in the machine's default store (here put there through OpenSSL's
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``) is not a CA of client certificates: only
    ``server.tls_client_ca`` is. Even a certificate whose SHA-256 is registered is refused
    when it chains to another CA."""
    root = pki.make_root_ca("Machine Store Root", now=NOW, key_size=2048)
    ca_file = tmp_path / "machine-store.pem"
    ca_file.write_bytes(root.cert_pem())
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "empty"))
    foreign = pki.issue_client_cert(root, system_id="qlvb.machine", now=NOW, key_size=2048)
    cert, key = write_issued(foreign, tmp_path / "machine", "client")

    daemon = await start_daemon(tls_config(deployment))
    try:
        await daemon.services.store.add_system(
            NewSystem(
                id="qlvb.machine",
                name="machine-store CA",
                role="agency",
                patterns=(CITY,),
                secret="unused-secret-of-the-machine-system",
                token="axis_unused-token-of-the-machine-system",
                client_cert_sha256=der_sha256(cert),
            )
        )
        ctx = client_context(deployment, cert, key)
        with pytest.raises(aiohttp.ClientError):
            await call(ctx, "GET", f"{daemon.base_url}/api/v1/inbox")
    finally:
        await daemon.stop()


async def test_an_expired_registered_certificate_is_refused(
    daemon: RunningDaemon, deployment: DevDeployment, tmp_path: Path
) -> None:
    old = pki.issue_client_cert(
        deployment.pki.issuing_ca(),
        system_id="qlvb.het-han",
        now=NOW,
        not_before=NOW - timedelta(days=400),
        not_after=NOW - timedelta(days=1),
    )
    cert, key = write_issued(old, tmp_path / "old", "client")
    await daemon.services.store.add_system(
        NewSystem(
            id="qlvb.het-han",
            name="expired",
            role="agency",
            patterns=(CITY,),
            secret="unused-secret-of-the-expired-system",
            token="axis_unused-token-of-the-expired-system",
            client_cert_sha256=der_sha256(cert),
        )
    )
    with pytest.raises(aiohttp.ClientError):
        await call(client_context(deployment, cert, key), "GET", f"{daemon.base_url}/api/v1/inbox")


async def test_the_vxp_api_over_tls_still_uses_the_hmac(
    daemon: RunningDaemon, deployment: DevDeployment
) -> None:
    ctx = client_context(deployment)
    creds = deployment.systems["qlvb.lamdong"]
    data = signed_document(deployment, PROVINCE, [WARD2], number="402")
    async with VxpClient(
        f"{daemon.base_url}/vxp", creds.systemid, creds.secret, ssl=ctx, sdk_sticky_params=True
    ) as province:
        doc_id = await province.send_edoc(data, from_code=PROVINCE)
        sent = await province.get_sent_edoc_list()
        assert [(s.sender_doc_id, s.to_code) for s in sent] == [(doc_id, WARD2)]
    # the client certificate is no VXP credential: the HMAC is
    mtls = client_context(deployment, deployment.pki.client.cert, deployment.pki.client.key)
    async with VxpClient(
        f"{daemon.base_url}/vxp", MTLS_SYSTEM, "not-its-secret", ssl=mtls
    ) as wrong:
        with pytest.raises(PeerError) as refused:
            await wrong.count_receive_edoc()
    assert refused.value.details["ErrorCode"] == "vxp.bad-hmac"
