"""The daemon's event loop choice and its heap settling, each in a fresh interpreter
(both change process-wide state)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOOP_SCRIPT = """
import asyncio
from axis import eventloop

async def main():
    return type(asyncio.get_running_loop()).__module__

print(eventloop.loop_name(), eventloop.run(main()))
"""

HEAP_SCRIPT = """
import gc, weakref
from axis import eventloop

class Node:
    pass

eventloop.settle_heap()
assert gc.get_threshold() == eventloop.GC_THRESHOLD, gc.get_threshold()
assert gc.get_freeze_count() > 0
# a cycle made after start-up is still collected
a, b = Node(), Node()
a.other, b.other = b, a
alive = weakref.ref(a)
del a, b
gc.collect()
print("collected" if alive() is None else "leaked")
"""


def _python(script: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_uvloop_by_default_and_asyncio_on_request() -> None:
    assert _python(LOOP_SCRIPT, AXIS_EVENT_LOOP="") == "uvloop uvloop"
    assert _python(LOOP_SCRIPT, AXIS_EVENT_LOOP="asyncio") == "asyncio asyncio.unix_events"


def test_settled_heap_still_collects_new_cycles() -> None:
    assert _python(HEAP_SCRIPT) == "collected"
