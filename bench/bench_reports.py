"""Benchmark: the signature report over 10 million counted packets, 2,000 agencies.

Fills ``signature_counters`` synthetically (SQLite: executemany through the DBAPI;
PostgreSQL with ``AXIS_BENCH_PG_URL``: COPY) as nine months of traffic would leave it:
every agency sends ~18 packets a day, ~73 % validly signed, the rest unsigned, each
packet counted once under ``*`` and once under its recipient's tier. Then times the
report engine (:func:`axis.reporting.signatures`, exactly what the API and the CLI
call) for the slices an auditor asks for. Target: under 2 s each.

``AXIS_BENCH_PACKETS`` (default 10,000,000) and ``AXIS_BENCH_AGENCIES`` (2,000) change
the size. Run: ``.venv/bin/python -m bench reports``.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from axis.reporting import SignatureQuery, signatures
from axis.store import Store, open_store

DAYS = 273  # nine months
START = date(2026, 1, 1)
TIERS = ("central", "province", "district", "commune")


def _agencies(n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        tier = TIERS[1 + i % 3] if i >= 30 else "central"
        code = (
            f"000.{i // 100:02d}.{i % 100:02d}.H36" if tier != "central" else f"000.00.00.G{i:02d}"
        )
        out.append((code, tier))
    return out


def _rows(packets: int, agencies: list[tuple[str, str]]) -> Iterator[tuple[Any, ...]]:
    """(day, agency, sender_tier, recipient_tier, kind, verdict, signer, count)."""
    rng = random.Random(7)
    per_day = packets / (len(agencies) * DAYS)
    left = packets
    for d in range(DAYS):
        day = (START + timedelta(days=d)).isoformat()
        for a, (code, tier) in enumerate(agencies):
            n = min(left, int(per_day) + (1 if rng.random() < per_day % 1 else 0))
            if n <= 0:
                continue
            left -= n
            valid = round(n * 0.73)
            signer = f"{a:064x}"
            split = rng.choice(
                (("province", "central"), ("central", "commune"), ("district", "province"))
            )
            k = rng.randint(0, n)
            for rt, m in ((split[0], k), (split[1], n - k)):
                mv = min(valid, m) if rt == split[0] else valid - min(valid, k)
                if mv:
                    yield (day, code, tier, rt, "document", "valid", signer, mv)
                if m - mv:
                    yield (day, code, tier, rt, "document", "unsigned", "", m - mv)
            yield (day, code, tier, "*", "document", "valid", signer, valid)
            if n - valid:
                yield (day, code, tier, "*", "document", "unsigned", "", n - valid)


def _fill_sqlite(path: Path, packets: int, agencies: list[tuple[str, str]]) -> int:
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    sql = (
        "INSERT INTO signature_counters (day, agency_code, sender_tier, recipient_tier, kind,"
        " verdict, signer_sha256, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    rows = 0
    batch: list[tuple[Any, ...]] = []
    for row in _rows(packets, agencies):
        batch.append(row)
        if len(batch) >= 100_000:
            con.executemany(sql, batch)
            rows += len(batch)
            batch = []
    con.executemany(sql, batch)
    rows += len(batch)
    con.execute(  # the monthly roll-up the store keeps in the same transaction
        "INSERT INTO signature_counters_month SELECT strftime('%Y-%m-01', day), agency_code,"
        " sender_tier, recipient_tier, kind, verdict, signer_sha256, sum(count)"
        " FROM signature_counters GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )
    con.executemany(
        "INSERT INTO signers (sha256, subject, issuer) VALUES (?, ?, ?)",
        [
            (f"{a:064x}", f"CN={code}", "CN=Ban Cơ yếu Chính phủ CA")
            for a, (code, _) in enumerate(agencies)
        ],
    )
    con.commit()
    con.close()
    return rows


async def _fill_pg(url: str, schema: str, packets: int, agencies: list[tuple[str, str]]) -> int:
    import asyncpg  # noqa: PLC0415

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        rows = 0
        batch: list[tuple[Any, ...]] = []
        cols = [
            "day",
            "agency_code",
            "sender_tier",
            "recipient_tier",
            "kind",
            "verdict",
            "signer_sha256",
            "count",
        ]
        for row in _rows(packets, agencies):
            batch.append((date.fromisoformat(row[0]), *row[1:]))
            if len(batch) >= 200_000:
                await conn.copy_records_to_table("signature_counters", records=batch, columns=cols)
                rows += len(batch)
                batch = []
        await conn.copy_records_to_table("signature_counters", records=batch, columns=cols)
        rows += len(batch)
        await conn.copy_records_to_table(
            "signers",
            records=[(f"{a:064x}", f"CN={c}", "CN=CA", None) for a, (c, _) in enumerate(agencies)],
            columns=["sha256", "subject", "issuer", "organ_id"],
        )
        await conn.execute(
            "INSERT INTO signature_counters_month SELECT date_trunc('month', day)::date,"
            " agency_code, sender_tier, recipient_tier, kind, verdict, signer_sha256, sum(count)"
            " FROM signature_counters GROUP BY 1, 2, 3, 4, 5, 6, 7"
        )
        await conn.execute("ANALYZE signature_counters")
        await conn.execute("ANALYZE signature_counters_month")
    finally:
        await conn.close()
    return rows


QUERIES = [
    ("whole province, by tier", SignatureQuery(by="tier")),
    (
        "15 Mar - 14 Aug (partial months), by agency",
        SignatureQuery(by="agency", day_from=date(2026, 3, 15), day_to=date(2026, 8, 14)),
    ),
    ("sent to ministries, by agency", SignatureQuery(by="agency", recipient_tier="central")),
    ("sent to ministries, trend by month", SignatureQuery(by="month", recipient_tier="central")),
    (
        "one quarter, communes, by agency",
        SignatureQuery(
            by="agency",
            day_from=date(2026, 4, 1),
            day_to=date(2026, 6, 30),
            sender_tiers=("commune",),
        ),
    ),
]


async def _time(store: Store, label: str, packets: int) -> None:
    for name, q in QUERIES:
        best = float("inf")
        total = 0
        for _ in range(3):
            t0 = time.perf_counter()
            report = await signatures(store, q)
            best = min(best, time.perf_counter() - t0)
            total = report.total.total
        print(
            f"[{label}] {name:44} {best:6.2f} s  ({total:,} packets, "
            f"{len(report.lines):,} lines, share {report.total.share or 0:.1%})"
        )
    whole = await signatures(store, SignatureQuery(by="all"))
    assert whole.total.total == packets, (whole.total.total, packets)


def main() -> None:
    packets = int(os.environ.get("AXIS_BENCH_PACKETS", "10000000"))
    agencies = _agencies(int(os.environ.get("AXIS_BENCH_AGENCIES", "2000")))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "axis.db"

        async def sqlite_run() -> None:
            store = await open_store(f"sqlite+aiosqlite:///{db}")
            await store.close()
            t0 = time.perf_counter()
            rows = await asyncio.to_thread(_fill_sqlite, db, packets, agencies)
            print(
                f"[sqlite] {packets:,} packets of {len(agencies):,} agencies over {DAYS} days "
                f"-> {rows:,} counter rows, filled in {time.perf_counter() - t0:.0f} s"
            )
            store = await open_store(f"sqlite+aiosqlite:///{db}")
            try:
                await _time(store, "sqlite", packets)
            finally:
                await store.close()

        asyncio.run(sqlite_run())
    pg = os.environ.get("AXIS_BENCH_PG_URL")
    if pg:
        schema = "bench_" + secrets.token_hex(4)

        async def pg_run() -> None:
            import asyncpg  # noqa: PLC0415

            store = await open_store(pg, schema=schema)
            try:
                t0 = time.perf_counter()
                rows = await _fill_pg(pg, schema, packets, agencies)
                print(
                    f"[postgresql] {rows:,} counter rows, COPY in {time.perf_counter() - t0:.0f} s"
                )
                await _time(store, "postgresql", packets)
            finally:
                await store.close()
                conn = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"))
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                await conn.close()

        asyncio.run(pg_run())


if __name__ == "__main__":
    main()
