"""CPU time of a process and of its descendants, from Linux's /proc (benchmarks only).

Rates on a machine whose shared cores change speed from hour to hour are noisy; the CPU
a packet costs in each process says where the time goes, which is what a change moves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeCpu", "tree_cpu"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


@dataclass(frozen=True)
class TreeCpu:
    root: float  # seconds of CPU of the process itself
    descendants: float  # of its live descendants (exited ones are not counted)


def tree_cpu(pid: int) -> TreeCpu | None:
    """CPU seconds used so far by ``pid`` and by its live descendants; None off Linux."""
    if not Path("/proc").is_dir():
        return None
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents[int(entry)], cpu[int(entry)] = st
    if pid not in cpu:
        return None

    def descends(p: int) -> bool:
        seen = 0
        while p in parents and seen < 64:
            p = parents[p]
            if p == pid:
                return True
            seen += 1
        return False

    return TreeCpu(cpu[pid], sum(c for p, c in cpu.items() if p != pid and descends(p)))
