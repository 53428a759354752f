"""The event loop the daemon runs on (uvloop where it is installed, else asyncio's),
and how a long-lived process of the daemon treats its heap.

uvloop (libuv, in C) runs the same asyncio programs with a cheaper loop and cheaper
transports. Under the intake benchmark's closed loop the daemon's own process spent
0.91-1.31 ms of CPU a packet on uvloop against 1.23-1.39 ms on asyncio's loop (seven
interleaved pairs, 2026-12-07; ~0.19 ms or a seventh less on average, and 818 against
736 packets/s: README, "Benchmarks"). Nothing in Axis depends on it: without it, or
with ``AXIS_EVENT_LOOP=asyncio``, the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

__all__ = ["loop_name", "run", "settle_heap"]

#: generation-0 threshold once started (CPython's default is 700 allocations)
GC_THRESHOLD: Final = (10_000, 20, 20)

T = TypeVar("T")


def _uvloop() -> Any:
    if os.environ.get("AXIS_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return None
    return uvloop


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: what :func:`run` would use."""
    return "uvloop" if _uvloop() is not None else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    uvloop = _uvloop()
    if uvloop is None:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def settle_heap() -> None:
    """Call once start-up is done: collect, then *freeze* what is left (modules,
    configuration, trust material, compiled SQL: it lives as long as the process) so
    that the cyclic collector stops walking it again and again, and collect the young
    generation less often. Under intake load the collector walking the start-up heap
    took about a tenth of the daemon's CPU. Reference counting frees as before; only
    cycles wait a little longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
