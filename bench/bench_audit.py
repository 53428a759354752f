"""Benchmark: ``axis audit verify`` throughput (events/s) over a large chain.

Fills a fresh SQLite store (and PostgreSQL when ``AXIS_BENCH_PG_URL`` is set) with a
chain of ``AXIS_BENCH_EVENTS`` events (default 300,000) linked by
:func:`axis.auditchain.link` and inserted with executemany (a packet event every third
row, with its 2 KB packet), signs the head, then times
:func:`axis.store.audit.verify_store`:

- the chain only (``--no-packets``): canonical form + SHA-256 per event, heads;
- the chain and every packet's bytes re-hashed.

Target: at least 20,000 events/s. Run: ``.venv/bin/python -m bench audit``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from axis.auditchain import GENESIS, link
from axis.store import Store, open_store
from axis.store import schema as t
from axis.store.audit import sign_current_head, verify_store
from certs.pki import issue_signing_cert, make_root_ca

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _fill(store: Store, n: int) -> int:
    """n chained events (every third one about a packet); returns the document count."""
    prev = GENESIS
    next_id = 1
    docs = 0
    step = 10_000
    for start in range(0, n, step):
        events: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        packets: list[dict[str, Any]] = []
        for i in range(start, min(n, start + step)):
            at = T0 + timedelta(seconds=i)
            doc_id = None
            sha = None
            if i % 3 == 0:
                docs += 1
                doc_id = f"D{i:012d}"
                data = (f"<edXML i='{i}'>" + "x" * 2000 + "</edXML>").encode()
                sha = hashlib.sha256(data).hexdigest()
                documents.append(
                    {
                        "id": doc_id,
                        "kind": "document",
                        "sender_code": "000.00.00.H36",
                        "edxml_document_id": f"{i}/UBND",
                        "dedup_key": f"k{i}",
                        "received_at": at,
                        "verdict": "valid",
                        "verdict_reasons": "[]",
                        "packet_sha256": sha,
                        "size": len(data),
                        "answer": "{}",
                    }
                )
                packets.append({"document_id": doc_id, "data": data})
            events.append(
                {
                    "at": at,
                    "kind": "packet.accepted" if doc_id else "delivery.fetched",
                    "node": "bench",
                    "document_id": doc_id,
                    "agency_code": "000.00.00.H36",
                    "actor": "qlvb.lamdong",
                    "detail": json.dumps({"i": i, "verdict": "valid"}, separators=(",", ":")),
                    "packet_sha256": sha,
                }
            )
        prev = link(events, prev_hash=prev, first_id=next_id)
        next_id += len(events)
        async with store._write() as conn:
            if documents:
                await conn.execute(t.documents.insert(), documents)
                await conn.execute(t.packets.insert(), packets)
            await conn.execute(t.events.insert(), events)
    return docs


async def _run(url: str, n: int, label: str, **kw: Any) -> None:
    store = await open_store(url, node="bench", **kw)
    try:
        root = make_root_ca("Bench Root", now=T0, key_size=2048)
        axis = issue_signing_cert(
            root, organ_id="000.99.00.H36", name="Axis", now=T0, key_size=2048
        )
        t0 = time.perf_counter()
        docs = await _fill(store, n)
        print(
            f"[{label}] filled {n:,} events ({docs:,} packets) in {time.perf_counter() - t0:.1f} s"
        )
        await sign_current_head(store, axis.key, axis.cert, at=T0 + timedelta(days=30))
        for check_packets in (False, True):
            t0 = time.perf_counter()
            report = await verify_store(store, certs=[axis.cert], check_packets=check_packets)
            dt = time.perf_counter() - t0
            assert report.ok, report.problems[:3]
            what = "chain + packets" if check_packets else "chain only    "
            print(
                f"[{label}] verify {what}: {report.events:,} events in {dt:.2f} s = "
                f"{report.events / dt:,.0f} events/s"
                + (f" ({report.documents_checked:,} packets re-hashed)" if check_packets else "")
            )
    finally:
        await store.close()


def main() -> None:
    n = int(os.environ.get("AXIS_BENCH_EVENTS", "300000"))
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(f"sqlite+aiosqlite:///{Path(tmp) / 'axis.db'}", n, "sqlite"))
    pg = os.environ.get("AXIS_BENCH_PG_URL")
    if pg:
        schema = "bench_" + secrets.token_hex(4)

        async def pg_run() -> None:
            await _run(pg, n, "postgresql", schema=schema)
            import asyncpg  # noqa: PLC0415

            conn = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            finally:
                await conn.close()

        asyncio.run(pg_run())


if __name__ == "__main__":
    main()
