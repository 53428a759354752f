"""A small deployment for audit and report tests: an axis identity made by certs.pki, a
config file, and a store filled through the Store's own methods (real commits, group
commit included), then tampered with directly in the database by the tests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from axis.auditsign import AxisSigner, load_axis_signer, sign_head_now
from axis.config import Config, load_config
from axis.directory import Agency, Tier
from axis.store import NewDelivery, NewPacket, Refusal, Store, dedup_key, open_configured_store
from axis.store.packetfiles import packet_dir
from certs.pki import issue_signing_cert, make_root_ca

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AGENCIES: dict[str, Tier] = {
    "000.00.00.H36": "province",
    "000.01.00.H36": "province",
    "000.30.00.H36": "district",
    "000.01.30.H36": "commune",
    "000.00.00.G22": "central",
    "000.00.00.G12": "central",
}
PARENTS = {
    "000.01.00.H36": "000.00.00.H36",
    "000.30.00.H36": "000.00.00.H36",
    "000.01.30.H36": "000.30.00.H36",
}
SIGNER_A = "a" * 64
SIGNER_B = "b" * 64


def make_identity(directory: Path) -> tuple[Path, Path, Path]:
    """(axis cert, axis key, root) PEM files: the axis's own certificate from a root CA."""
    directory.mkdir(parents=True, exist_ok=True)
    root = make_root_ca("Axis Test Root", now=T0 - timedelta(days=30), key_size=2048)
    axis = issue_signing_cert(
        root,
        organ_id="000.99.00.H36",
        name="Trục liên thông (test)",
        now=T0 - timedelta(days=30),
        days=3650,
        key_size=2048,
        crl_url=None,
        ocsp_url=None,
    )
    (directory / "axis.pem").write_bytes(axis.cert_pem())
    (directory / "axis.key").write_bytes(axis.key_pem())
    (directory / "root.pem").write_bytes(root.cert_pem())
    return directory / "axis.pem", directory / "axis.key", directory / "root.pem"


def write_config(directory: Path, database_url: str | None = None) -> Path:
    cert, key, root = make_identity(directory / "pki")
    lines = [
        "[server]",
        "port = 0",
        "[axis]",
        f'data_dir = "{directory / "data"}"',
        "[trust]",
        f'anchors = ["{root}"]',
        "[audit]",
        f'cert = "{cert}"',
        f'key = "{key}"',
    ]
    if database_url:
        lines += ["[database]", f'url = "{database_url}"']
    path = directory / "axis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def packet(
    n: int,
    sender: str,
    recipients: list[str],
    verdict: str,
    *,
    hours: int = 0,
    signer: str | None = None,
    national: tuple[str, ...] = (),
    kind: str = "document",
) -> NewPacket:
    deliveries = tuple(NewDelivery(r, r, "local", AGENCIES[r]) for r in recipients) + tuple(
        NewDelivery(r, r, "national") for r in national
    )
    doc = f"{n}/UBND-VP"
    return NewPacket(
        kind=kind,  # type: ignore[arg-type]
        sender_code=sender,
        sender_tier=AGENCIES[sender],
        system_id="sys",
        edxml_document_id=doc,
        dedup_key=dedup_key(kind, sender, doc),  # type: ignore[arg-type]
        received_at=T0 + timedelta(hours=hours),
        verdict=verdict,
        data=f"<edXML n='{n}'>{'x' * (n % 7)}</edXML>".encode(),
        deliveries=deliveries,
        answer={"n": n},
        signer_sha256=signer,
        signer_subject=None if signer is None else f"CN=Signer {signer[:4]}",
        issuer=None if signer is None else "CN=Test Issuing CA",
    )


@dataclass
class Filled:
    config: Config
    document_ids: list[str]
    packets: list[NewPacket]


PLAN: list[tuple[str, list[str], str, str | None, int]] = [
    ("000.00.00.H36", ["000.01.00.H36", "000.30.00.H36"], "valid", SIGNER_A, 0),
    ("000.00.00.H36", ["000.00.00.G22"], "valid", SIGNER_A, 1),
    ("000.00.00.H36", ["000.00.00.G22", "000.00.00.G12"], "unsigned", None, 2),
    ("000.01.00.H36", ["000.00.00.G12", "000.00.00.H36"], "valid", SIGNER_B, 3),
    ("000.30.00.H36", ["000.01.30.H36"], "legacy-unverifiable", None, 30),
    ("000.01.30.H36", ["000.30.00.H36"], "unsigned", None, 31),
    ("000.00.00.G22", ["000.00.00.H36"], "valid", SIGNER_B, 24 * 40),
    ("000.01.00.H36", ["000.00.00.G22"], "revoked", SIGNER_B, 24 * 40 + 1),
    ("000.00.00.H36", ["000.01.00.H36"], "valid", SIGNER_A, 24 * 40 + 2),
]


async def fill(store: Store, signer: AxisSigner | None, *, sign_at_end: bool = True) -> list[str]:
    """Agencies, packets (some committed concurrently: one group commit), an ack, a
    refusal, an admin event; the head signed once midway and once at the end."""
    await store.upsert_agencies([Agency(c, c, t, PARENTS.get(c)) for c, t in AGENCIES.items()])
    first = [packet(i, s, r, v, signer=sg, hours=h) for i, (s, r, v, sg, h) in enumerate(PLAN)]
    done = await asyncio.gather(*(store.commit_packet(p) for p in first[:5]))
    for p in first[5:]:
        done.append(await store.commit_packet(p))
    if signer is not None:
        await sign_head_now(store, signer, T0 + timedelta(days=50))
    national = packet(
        100,
        "000.00.00.H36",
        ["000.01.00.H36"],
        "valid",
        signer=SIGNER_A,
        national=("000.00.00.G13",),
    )
    done.append(await store.commit_packet(national))
    inbox = await store.list_inbox(["000.01.00.H36"])
    await store.ack_delivery(inbox[0].delivery_id, ["000.01.00.H36"])
    await store.record_refusal(
        Refusal(
            system_id="sys",
            code="signature.invalid",
            message="bad",
            at=T0 + timedelta(hours=5),
            sender_code="000.30.00.H36",
            sender_tier="district",
            verdict="invalid",
        )
    )
    await store.record_event("admin.test", actor="admin", detail={"x": 1})
    if signer is not None and sign_at_end:
        await sign_head_now(store, signer, T0 + timedelta(days=60))
    return [c.document_id for c in done]


async def filled(directory: Path, database_url: str | None = None, **kw: Any) -> Filled:
    config = load_config(write_config(directory, database_url), {})
    store = await open_configured_store(config)
    try:
        ids = await fill(store, load_axis_signer(config), **kw)
    finally:
        await store.close()
    return Filled(config, ids, [])


# --------------------------------------------------------------------- tampering


class Db:
    """Direct SQL on the deployment's database, around the store (as an intruder would)."""

    def __init__(self, config: Config) -> None:
        self.url = config.database.url

    async def execute(self, sql: str, *args: Any) -> None:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            con = sqlite3.connect(path)
            try:
                con.execute(re.sub(r"\$\d", "?", sql), args)
                con.commit()
            finally:
                con.close()
            return
        conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def alter_packet(self, document_id: str, forged: bytes) -> bytes:
        """Change a stored packet's bytes where they are (PostgreSQL: the row; SQLite:
        its segment file, overwritten in place from the start); the bytes now stored."""
        if not self.url.startswith("sqlite"):
            await self.execute(
                "UPDATE packets SET data = $1 WHERE document_id = $2", forged, document_id
            )
            return forged
        ((segment, offset, length),) = await self.fetch(
            "SELECT file_segment, file_offset, file_length FROM packets WHERE document_id = $1",
            document_id,
        )
        path = packet_dir(Path(self.url.split("///", 1)[1])) / f"{segment:08d}.seg"
        return _overwrite(path, offset, length, forged)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            con = sqlite3.connect(path)
            try:
                return list(con.execute(re.sub(r"\$\d", "?", sql), args))
            finally:
                con.close()
        conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()


def _overwrite(path: Path, offset: int, length: int, forged: bytes) -> bytes:
    with open(path, "r+b") as f:
        f.seek(offset)
        altered = forged + f.read(length)[len(forged) :]
        f.seek(offset)
        f.write(altered)
    return altered


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detail(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value
