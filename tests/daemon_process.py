"""``axis serve`` as a real child process, for tests and benchmarks that kill it.

The daemon is started exactly as an operator starts it (``python -m axis serve --config
FILE``), so that SIGKILL hits a real process with its own event loop, thread pool and
SQLite connections.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now (the daemon binds it with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class DaemonProcess:
    """One ``axis serve`` child process at a time, on a fixed configuration and port."""

    def __init__(self, config_path: Path, base_url: str, log_path: Path) -> None:
        self.config_path = config_path
        self.base_url = base_url
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the daemon is not running"
        return self.proc.pid

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process (it listens a moment later: see :meth:`start`)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("AXIS_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "axis", "serve", "--config", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
        return self.proc

    async def start(self, *, ready_within: float = 60.0) -> None:
        """Start the daemon and return once its OpenAPI document answers."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + ready_within
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"axis serve exited with {self.proc.returncode}:\n{self.log_text()}"
                    )
                try:
                    async with session.get(f"{self.base_url}/api/v1/openapi.json") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"axis serve did not listen:\n{self.log_text()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the daemon."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def stop(self, timeout: float = 30.0) -> None:
        """Ctrl-C (SIGINT): the daemon closes its store; SIGKILL if it does not exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def peak_memory_kib(pid: int) -> int | None:
    """The process's peak resident set (VmHWM, KiB) from /proc, if readable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
