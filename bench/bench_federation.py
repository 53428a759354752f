"""Benchmark: latency across the federation, commune → province → national → province.

What it does (about a minute on 2 cores):

1. creates three development deployments (``tests.federation_support``): the national
   axis and two provinces (Lâm Đồng H36, Tây Ninh H53), cross-trusting their dev PKIs,
   with ``national.poll_interval = 1`` s (the benchmark configuration; the default is
   30 s) and the delivery engine's sweep at 0.2 s;
2. starts each as ``python -m axis serve`` in its own child process (SQLite, WAL,
   ``synchronous=FULL``);
3. signs the packets first (documents from a ward of Đà Lạt to the Home Affairs
   department of Tây Ninh, distinct DocumentIds, no attachment);
4. **open loop** at ``AXIS_BENCH_RATE`` packets/s (default 20) for ``AXIS_BENCH_SECONDS``
   (default 30): the ward's office system calls VXP ``sendEdoc`` at H36 on a fixed
   schedule, whatever the answers do;
5. the department's office system polls VXP ``getReceivedEdocList`` at H53 every 50 ms;
   an item's latency is from its scheduled send to the first list that shows it (its
   DocumentId read with getEdoc; then updateStatus done, as an office system does);
6. prints p50 / p90 / p99 / max, lost and duplicated packets, and a Markdown table.

Target: p99 under 2 s with a 1 s poll interval. Run: ``.venv/bin/python -m bench
federation``.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from adapters.vxp.client import VxpClient
from axis.store import open_configured_store
from axis_errors import PeerError
from tests.daemon_process import DaemonProcess
from tests.federation_support import (
    H36_WARD,
    H53_DEPT,
    Federation,
    create_federation,
    document,
    signed_document,
)

POLL_INTERVAL = 1.0
LIST_EVERY = 0.05
_DOC_ID = re.compile(rb"<(?:\w+:)?DocumentId>([^<]+)</(?:\w+:)?DocumentId>")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _receiver(
    vxp: VxpClient, seen: dict[str, float], dupes: list[str], stop: asyncio.Event
) -> None:
    handled: set[str] = set()
    while not stop.is_set():
        try:
            items = await vxp.get_received_edoc_list("edoc")
            now = time.monotonic()
            for item in items:
                if item.doc_id in handled:
                    continue
                data = await vxp.get_edoc(item.doc_id)
                match = _DOC_ID.search(data)
                key = match.group(1).decode() if match else item.doc_id
                if key in seen:
                    dupes.append(key)
                else:
                    seen[key] = now
                handled.add(item.doc_id)
                await vxp.update_status(item.doc_id, "done")
        except PeerError:  # a dropped keep-alive connection: the next round retries
            pass
        await asyncio.sleep(LIST_EVERY)


async def run(root: Path, rate: float, seconds: float) -> None:
    fed = await create_federation(root, poll_interval=POLL_INTERVAL)
    daemons = {
        name: DaemonProcess(
            dep.config_path, f"http://127.0.0.1:{dep.config.server.port}", root / f"{name}.log"
        )
        for name, dep in (("national", fed.national), ("h36", fed.h36), ("h53", fed.h53))
    }
    count = int(rate * seconds)
    print(f"signing {count} packets ...", flush=True)
    packets = [
        signed_document(fed, document(H36_WARD, [H53_DEPT], number=str(1000 + i)))
        for i in range(count + 5)
    ]
    keys = [_DOC_ID.search(p).group(1).decode() for p in packets]  # type: ignore[union-attr]
    try:
        for d in daemons.values():
            await d.start()
        cpu_before = {name: _cpu_seconds(d.pid) for name, d in daemons.items()}
        await _measure(fed, daemons, (packets, keys), rate, seconds)
        print()
        print("| daemon | CPU per packet |")
        print("|---|---:|")
        for name, d in daemons.items():
            used = _cpu_seconds(d.pid) - cpu_before[name]
            print(f"| {name} | {used / len(packets) * 1000:.1f} ms |")
    finally:
        for d in daemons.values():
            d.stop()
    await _legs(fed, keys[5:])


async def _legs(fed: Federation, keys: list[str]) -> None:
    """Where the time went: each axis's commit time of each packet (from the stores)."""
    received: dict[str, dict[str, float]] = {}
    for name, dep in (("h36", fed.h36), ("national", fed.national), ("h53", fed.h53)):
        store = await open_configured_store(dep.config)
        try:
            for doc in await store.sent_by([H36_WARD], limit=100_000):
                at = doc.received_at.timestamp()
                received.setdefault(doc.edxml_document_id, {})[name] = at
        finally:
            await store.close()
    legs: dict[str, list[float]] = {"h36 -> national": [], "national -> h53": []}
    for key in keys:
        times = received.get(key, {})
        if {"h36", "national", "h53"} <= times.keys():
            legs["h36 -> national"].append(times["national"] - times["h36"])
            legs["national -> h53"].append(times["h53"] - times["national"])
    print()
    print("| leg (commit to commit) | p50 | p99 |")
    print("|---|---:|---:|")
    for leg, values in legs.items():
        if values:
            print(
                f"| {leg} | {_pct(values, 50) * 1000:.0f} ms | {_pct(values, 99) * 1000:.0f} ms |"
            )


async def _measure(
    fed: Federation,
    daemons: dict[str, DaemonProcess],
    signed: tuple[list[bytes], list[str]],
    rate: float,
    seconds: float,
) -> None:
    packets, keys = signed
    sender = fed.h36.systems["qlvb.phuong"]
    receiver = fed.h53.systems["qlvb.tayninh"]
    h36_url = daemons["h36"].base_url + "/vxp"
    h53_url = daemons["h53"].base_url + "/vxp"
    seen: dict[str, float] = {}
    dupes: list[str] = []
    stop = asyncio.Event()
    async with (
        VxpClient(h36_url, sender.systemid, sender.secret, limit=64) as out,
        VxpClient(h53_url, receiver.systemid, receiver.secret) as inbox,
    ):
        listener = asyncio.create_task(_receiver(inbox, seen, dupes, stop))
        # warm-up: five packets through the whole path
        for data in packets[:5]:
            await out.send_edoc(data, from_code=H36_WARD)
        while not all(k in seen for k in keys[:5]):  # noqa: ASYNC110 - a benchmark's wait
            await asyncio.sleep(0.1)
        packets, keys = packets[5:], keys[5:]

        scheduled: dict[str, float] = {}
        errors: list[str] = []
        start = time.monotonic() + 0.5

        async def send(i: int) -> None:
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            scheduled[keys[i]] = at
            try:
                await out.send_edoc(packets[i], from_code=H36_WARD)
            except Exception as exc:  # counted, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}")

        print(f"open loop: {rate:g} packets/s for {seconds:g} s ...", flush=True)
        await asyncio.gather(*(send(i) for i in range(len(packets))))
        deadline = time.monotonic() + 60
        while len([k for k in keys if k in seen]) < len(keys) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(2 * POLL_INTERVAL)  # a late duplicate would show now
        stop.set()
        await listener

    latencies = [seen[k] - scheduled[k] for k in keys if k in seen and k in scheduled]
    lost = len(keys) - len(latencies)
    p50, p90, p99 = (_pct(latencies, p) for p in (50, 90, 99)) if latencies else (0, 0, 0)
    worst = max(latencies) if latencies else 0.0
    mean = statistics.fmean(latencies) if latencies else 0.0
    print()
    print(
        f"Federation latency, commune sendEdoc at H36 -> national -> getReceivedEdocList at "
        f"H53 ({rate:g} packets/s for {seconds:g} s, national.poll_interval = "
        f"{POLL_INTERVAL:g} s, three `axis serve` processes on SQLite):"
    )
    print()
    print("| packets | p50 | p90 | p99 | max | mean | lost | duplicated | send errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(keys)} | {p50 * 1000:.0f} ms | {p90 * 1000:.0f} ms | {p99 * 1000:.0f} ms "
        f"| {worst * 1000:.0f} ms | {mean * 1000:.0f} ms | {lost} | {len(dupes)} "
        f"| {len(errors)} |"
    )
    print()
    verdict = "meets" if latencies and p99 < 2.0 and lost == 0 else "MISSES"
    print(f"Target p99 < 2 s: {verdict} it.")
    if errors:
        print("first send errors:", *errors[:3], sep="\n  ")


def main() -> None:
    rate = float(os.environ.get("AXIS_BENCH_RATE", "20"))
    seconds = float(os.environ.get("AXIS_BENCH_SECONDS", "30"))
    with tempfile.TemporaryDirectory(prefix="axis-bench-federation-") as tmp:
        asyncio.run(run(Path(tmp), rate, seconds))


if __name__ == "__main__":
    main()
