"""bench.proccpu: CPU of a process and of its live descendants, read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.proccpu import tree_cpu

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# a child that starts a grandchild, which burns CPU, says so, then waits to be killed
_GRANDCHILD = "sum(range(20_000_000)); print('done', flush=True); import time; time.sleep(60)"
_CHILD = (
    "import subprocess, sys; "
    f"g = subprocess.Popen([sys.executable, '-c', {_GRANDCHILD!r}], stdout=sys.stdout); "
    "g.wait()"
)


def test_a_grandchilds_cpu_counts_for_its_ancestors_not_for_others() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "done"
        mine, theirs = tree_cpu(os.getpid()), tree_cpu(child.pid)
        assert mine is not None and theirs is not None
        assert theirs.descendants > 0  # the grandchild's loop
        assert mine.descendants >= theirs.root + theirs.descendants
        sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            lone = tree_cpu(sibling.pid)
            assert lone is not None and lone.descendants == 0
        finally:
            sibling.kill()
            sibling.wait()
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the grandchild too (same process group)
        child.wait()


def test_an_unknown_process_has_no_figure() -> None:
    assert tree_cpu(2**22 + 12345) is None
