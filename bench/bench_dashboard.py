"""The dashboard with 1,000,000 deliveries: each page's answer time over HTTP.

Fills a development deployment's SQLite database by bulk insert (500,000 packets,
1,000,000 deliveries over 30 days: 95 % acknowledged, 2 % waiting in pull inboxes, 1 %
waiting for push or the national axis, 1 % fetched, 1 % dead letters with their
attempts; 5 push destinations; counters for every day), starts the daemon built by the
composition root, logs in like a browser and times each page (median and slowest of
``ROUNDS`` requests after a warm-up). Target: every page under 200 ms.

Run: ``python -m bench dashboard`` (set ``AXIS_BENCH_DELIVERIES`` for another size).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from axis.app import start_daemon
from axis.demodata import AGENCIES, SYSTEMS
from axis.devsetup import create_dev_deployment
from axis.passwords import hash_password
from axis.store import open_configured_store
from axis.store.models import counter_day

ROUNDS = 15
TARGET_MS = 200.0
FMT = "%Y-%m-%d %H:%M:%S.%f"
PUSH_AGENCIES = 5


def _fill(db: Path, deliveries: int, now: datetime) -> dict[str, Any]:
    """Bulk insert straight into SQLite (one transaction per table, executemany)."""
    codes = [a.code for a in AGENCIES]
    tiers = {a.code: a.tier for a in AGENCIES}
    push = codes[-PUSH_AGENCIES:]
    docs = deliveries // 2
    span = timedelta(days=30).total_seconds()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        for i, code in enumerate(push):
            conn.execute(
                "UPDATE agencies SET delivery_mode = 'push', push_url = ? WHERE code = ?",
                (f"http://127.0.0.1:{10000 + i}/inbox", code),
            )
    doc_rows = []
    for i in range(docs):
        at = (now - timedelta(seconds=span * (docs - i) / docs)).strftime(FMT)
        sender = codes[i % len(codes)]
        verdict = "valid" if i % 10 else ("unsigned" if i % 20 else "untrusted")
        doc_rows.append(
            (
                f"B{i:025d}",
                "document",
                sender,
                f"E{i}",
                f"k{i}",
                at,
                verdict,
                "x" * 64,
                40_000,
                "{}",
            )
        )
    with conn:
        conn.executemany(
            "INSERT INTO documents (id, kind, sender_code, edxml_document_id, dedup_key, "
            "received_at, verdict, packet_sha256, size, answer) VALUES (?,?,?,?,?,?,?,?,?,?)",
            doc_rows,
        )
    later = (now + timedelta(days=1)).strftime(FMT)
    rows = []
    dead_ids = []
    for n in range(deliveries):
        doc = n // 2
        created = doc_rows[doc][5]
        r = n % 100
        national = n % 10 == 9
        target = codes[(doc + 1 + n % 2) % len(codes)] if not national else "000.00.00.G22"
        route = "national" if national else "local"
        is_push = target in push and not national
        if r < 95:
            state, acked = "acked", created
        elif r < 97:
            state, acked = "pending", None
            if is_push or national:
                state = "acked"
                acked = created
        elif r == 97:
            state, acked = ("pending" if (is_push or national) else "fetched"), None
        elif r == 98:
            state, acked = "fetched" if not (is_push or national) else "pending", None
        else:
            state, acked = ("dead" if (is_push or national) else "pending"), None
        nxt = later if state == "pending" and (is_push or national) else None
        rows.append(
            (n + 1, doc_rows[doc][0], target, target, tiers.get(target), route, state,
             2 if state == "dead" else 0, nxt, created, acked,
             "push.http-503" if state == "dead" else None)
        )  # fmt: skip
        if state == "dead":
            dead_ids.append((n + 1, created, target, route))
    with conn:
        conn.executemany(
            "INSERT INTO deliveries (id, document_id, recipient_code, target_code, target_tier, "
            "route, state, attempts, next_attempt_at, created_at, acked_at, last_error) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    urls = {c: f"http://127.0.0.1:{10000 + i}" for i, c in enumerate(push)}
    with conn:  # one successful attempt per pushed or forwarded delivery
        conn.executemany(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, destination, ok, "
            "duration_ms) VALUES (?,1,?,?,1,15)",
            [
                (row[0], row[10], "national" if row[5] == "national" else urls[row[2]])
                for row in rows
                if row[6] == "acked" and (row[5] == "national" or row[2] in urls)
            ],
        )
    with conn:
        conn.executemany(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, destination, ok, "
            "error_code, error, duration_ms) VALUES (?,?,?,?,0,'push.http-503',"
            "'The endpoint answered HTTP 503.',12)",
            [
                (did, k, at, "national" if route == "national" else urls.get(target, "?"))
                for did, at, target, route in dead_ids
                for k in (1, 2)
            ],
        )
    counts: dict[tuple[Any, ...], int] = {}
    for row in doc_rows:
        at = datetime.strptime(row[5], FMT).replace(tzinfo=UTC)
        key = (counter_day(at).isoformat(), row[2], tiers[row[2]], "sent", row[6], "internal")
        counts[key] = counts.get(key, 0) + 1
    for row in rows:
        if row[6] == "acked" and row[5] == "local":
            at = datetime.strptime(row[9], FMT).replace(tzinfo=UTC)
            key = (counter_day(at).isoformat(), row[2], row[4] or "", "acknowledged", "valid",
                   "internal")  # fmt: skip
            counts[key] = counts.get(key, 0) + 1
    with conn:
        conn.executemany(
            "INSERT INTO counters (day, agency_code, tier, direction, verdict, scope, count) "
            "VALUES (?,?,?,?,?,?,?)",
            [(*k, v) for k, v in counts.items()],
        )
    conn.close()
    return {"documents": docs, "deliveries": deliveries, "dead": len(dead_ids), "push": urls}


async def _run(root: Path, deliveries: int) -> None:
    now = datetime.now(UTC)
    dep = await create_dev_deployment(root, agencies=AGENCIES, systems=SYSTEMS, now=now)
    db = Path(dep.config.database.url.removeprefix("sqlite+aiosqlite:///"))
    # a user, made through the store like `axis admin add-user`
    store = await open_configured_store(dep.config)
    await store.users.add_user("bench", "admin", hash_password("bench password 1"))
    await store.close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE users SET must_change = 0")
    started = time.perf_counter()
    info = await asyncio.to_thread(_fill, db, deliveries, now)
    size = await asyncio.to_thread(lambda: db.stat().st_size)
    print(
        f"filled {info['deliveries']:,} deliveries, {info['documents']:,} documents, "
        f"{info['dead']:,} dead letters in {time.perf_counter() - started:.1f} s "
        f"({size / 1e6:.0f} MB)"
    )
    daemon = await start_daemon(dep.config)
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            base = daemon.base_url
            async with http.post(
                f"{base}/login",
                data={"name": "bench", "password": "bench password 1"},
                headers={"Origin": base},
            ) as r:
                assert r.status == 200, r.status
            dest = next(iter(info["push"].values()))
            pull = "inbox:000.01.00.H36"
            with sqlite3.connect(db) as c:
                dead_id = c.execute("SELECT min(id) FROM deliveries WHERE state='dead'").fetchone()[
                    0
                ]
                doc_id = c.execute(
                    "SELECT document_id FROM deliveries WHERE id = ?", (dead_id,)
                ).fetchone()[0]
            pages = [
                ("overview", "/"),
                ("queues", "/queues"),
                ("queue: push, pending", f"/queue?d={dest}"),
                ("queue: push, dead", f"/queue?d={dest}&state=dead"),
                ("queue: push, all (history)", f"/queue?d={dest}&state=all"),
                ("queue: pull inbox, pending", f"/queue?d={pull}"),
                ("queue: national, pending", "/queue?d=national"),
                ("queue: national, all (history)", "/queue?d=national&state=all"),
                ("delivery + attempts", f"/deliveries/{dead_id}"),
                ("dead letters", "/dead"),
                ("document trace", f"/documents/{doc_id}"),
                ("national", "/national"),
                ("certificates", "/certificates"),
                ("/metrics", "/metrics"),
                ("/readyz", "/readyz"),
            ]
            results = []
            for name, path in pages:
                times = []
                for i in range(ROUNDS + 2):
                    t0 = time.perf_counter()
                    async with http.get(base + path) as r:
                        body = await r.read()
                        assert r.status == 200, (path, r.status, body[:300])
                    if i >= 2:
                        times.append((time.perf_counter() - t0) * 1000)
                results.append((name, path, statistics.median(times), max(times), len(body)))
    finally:
        await daemon.stop()
    print(f"\n{deliveries:,} deliveries, SQLite, {ROUNDS} requests per page after 2 warm-ups")
    print("| page | median ms | slowest ms | KB | < 200 ms |")
    print("|---|---:|---:|---:|:---:|")
    for name, _path, med, worst, size in results:
        ok = "yes" if worst < TARGET_MS else "NO"
        print(f"| {name} | {med:.1f} | {worst:.1f} | {size / 1024:.0f} | {ok} |")


def main() -> None:
    n = int(os.environ.get("AXIS_BENCH_DELIVERIES", "1000000"))
    with tempfile.TemporaryDirectory(prefix="axis-bench-dash-") as tmp:
        asyncio.run(_run(Path(tmp) / "dep", n))


if __name__ == "__main__":
    main()
