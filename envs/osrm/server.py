"""Run ``osrm-routed`` on loopback for the duration of a ``with`` block, and never leave it running after."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from envs.osrm.binaries import OSRMTools, find_tools
from envs.osrm.build import OSRMDataset
from envs.osrm.client import OSRMError

HOST = "127.0.0.1"


@dataclass
class LocalServer:
    url: str
    process: subprocess.Popen
    log: Path
    dataset: OSRMDataset

    def log_tail(self, lines: int = 5) -> str:
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return " | ".join(text.strip().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the server if Python dies without running its finally blocks
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: LocalServer, timeout: float) -> None:
    """Ready = answers HTTP; any OSRM answer (even an error code for a dummy query) proves it loaded the graph."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise OSRMError(
                f"osrm-routed exited with code {server.process.returncode} while starting: {server.log_tail()}"
            )
        try:
            requests.get(f"{server.url}/nearest/v1/driving/0,0", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise OSRMError(f"osrm-routed did not answer on {server.url} within {timeout:.0f} s: {server.log_tail()}")


@contextlib.contextmanager
def serve(
    dataset: OSRMDataset,
    tools: OSRMTools | None = None,
    *,
    max_table_size: int = 2000,
    threads: int = 2,
    startup_timeout: float = 120.0,
) -> Iterator[LocalServer]:
    """Serve ``dataset`` with the MLD algorithm on 127.0.0.1 and a free port; stops the process on any exit,
    KeyboardInterrupt included. ``max_table_size`` bounds the coordinates of one /table request."""
    tools = tools or find_tools()
    with tempfile.TemporaryDirectory(prefix="nco-osrm-") as tmp:
        log = Path(tmp) / "osrm-routed.log"
        port = _free_port()
        command = [
            str(tools.tool("osrm-routed")),
            "--algorithm",
            "mld",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--max-table-size",
            str(max_table_size),
            "--max-nearest-size",
            "1",
            str(dataset.base),
        ]
        with log.open("wb") as sink:  # a file, not a pipe: a full pipe would block the server
            process = subprocess.Popen(
                command,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        server = LocalServer(f"http://{HOST}:{port}", process, log, dataset)
        try:
            _wait_ready(server, startup_timeout)
            yield server
        finally:
            _stop(process)
