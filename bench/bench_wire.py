"""Benchmark: a worker's answer on its way back to the daemon (axis.analysis wire form).

Analyses signed ~100 KB packets as the daemon's workers do (a document with a PDF-like
attachment, from the intake benchmark's routes), then times, per answer (median of
rounds over all of them):

* ``as dataclasses``: pickling and unpickling the :class:`~axis.analysis.Analysis`
  itself, as the workers' answers were sent before (the baseline, same run);
* ``wire form``: :func:`~axis.analysis.to_wire` then pickling, and unpickling then
  :func:`~axis.analysis.from_wire`, as they are sent now.

A quiet process times it with warm caches; in the daemon under load both cost more
(the figures of ADR 0014's addendum 2026-12-07d). Run: ``python -m bench wire``.
"""

from __future__ import annotations

import asyncio
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from axis.analysis import Analysis, AnalysisSettings, analyze, from_wire, to_wire
from axis.app import load_trust, parse_limits, policy_from_config
from axis.demodata import AGENCIES, SYSTEMS
from axis.devsetup import create_dev_deployment
from bench.bench_intake import Packets
from signing.certpath import PathCache

T = TypeVar("T")

PACKETS = 50
ROUNDS = 40


def _per_call(fn: Callable[[T], object], items: Sequence[T]) -> float:
    """Median over rounds of the mean time of ``fn`` over ``items`` (seconds)."""
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        for item in items:
            fn(item)
        times.append((time.perf_counter() - t) / len(items))
    return statistics.median(times)


def _load(blob: bytes) -> object:
    return pickle.loads(blob)


async def _analyses(root: Path) -> list[Analysis]:
    dep = await create_dev_deployment(
        root / "dep", agencies=AGENCIES, systems=SYSTEMS, now=datetime.now(UTC)
    )
    trust, revocation = await load_trust(dep.config)
    settings = AnalysisSettings(
        policy=policy_from_config(dep.config),
        trust=trust,
        revocation=revocation,
        limits=parse_limits(dep.config),
    )
    at, cache = datetime.now(UTC), PathCache()
    out = [analyze(p.data, settings, at, cache) for p in Packets(dep).make(PACKETS)]
    assert all(a.refused is None for a in out), [a.refused for a in out if a.refused]
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="axis-bench-wire-") as tmp:
        analyses = asyncio.run(_analyses(Path(tmp)))
    assert all(from_wire(pickle.loads(pickle.dumps(to_wire(a)))) == a for a in analyses)
    plain = [pickle.dumps(a, pickle.HIGHEST_PROTOCOL) for a in analyses]
    wired = [pickle.dumps(to_wire(a), pickle.HIGHEST_PROTOCOL) for a in analyses]
    rows = [
        ("as dataclasses", plain,
         _per_call(lambda a: pickle.dumps(a, pickle.HIGHEST_PROTOCOL), analyses),
         _per_call(_load, plain)),
        ("wire form", wired,
         _per_call(lambda a: pickle.dumps(to_wire(a), pickle.HIGHEST_PROTOCOL), analyses),
         _per_call(lambda b: from_wire(pickle.loads(b)), wired)),
    ]  # fmt: skip
    print(f"{len(analyses)} answers of signed ~100 KB packets, median of {ROUNDS} rounds")
    print(f"{'':>15} {'bytes':>6} {'dump (worker)':>14} {'load (daemon)':>14}")
    for name, blobs, dump, load in rows:
        size = statistics.mean(len(b) for b in blobs)
        print(f"{name:>15} {size:6.0f} {dump * 1e6:11.1f} µs {load * 1e6:11.1f} µs")
    (_, _, d0, l0), (_, _, d1, l1) = rows
    print(f"{'wire / before':>15} {'':>6} {d1 / d0:14.2f} {l1 / l0:14.2f}")


if __name__ == "__main__":
    main()
