"""Run untrusted generated Python in a locked-down subprocess.

Layers, outermost first:

* a fresh temporary directory as the working directory, deleted afterwards; the program sees
  only the files passed in and a minimal environment (no user variables, no API keys);
* an empty network namespace (``unshare --net``; with ``--map-root-user`` when not root) when
  the kernel allows it: no interface but a down loopback, so no connection can succeed even from
  native code;
* rlimits set before ``exec``: address space (memory), CPU seconds, file size, open files, no
  core dumps; a wall-clock timeout kills the whole process group;
* inside the interpreter, :mod:`nco.llm.guard`'s audit hook refuses sockets, new processes,
  ctypes, and file access outside the working directory (reading the Python installation and
  the nco packages is allowed so that imports work).

The program's only channel back is files it writes in its working directory (the result
contract of :mod:`nco.llm.contract`) plus its trimmed stdout/stderr.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SandboxLimits", "SandboxRun", "network_isolation", "run_python"]

_GUARD = Path(__file__).with_name("guard.py")
_MAX_OUTPUT = 64_000  # characters of stdout/stderr kept
_MAX_FILE = 32 * 2**20  # bytes a returned file may have


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one run. Defaults suit building an instance and a short solver call."""

    wall_time: float = 60.0  # seconds
    cpu_time: int = 60  # seconds of CPU (all threads)
    memory_mb: int = 3072  # address space; numpy/torch reserve more than they touch
    file_size_mb: int = 64
    open_files: int = 256


@dataclass(frozen=True)
class SandboxRun:
    returncode: int | None
    stdout: str
    stderr: str
    files: dict[str, bytes]
    elapsed: float
    timed_out: bool = False
    limit: str | None = None  # which limit stopped the program, if one did
    isolation: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """One-paragraph description of why the run failed, for the model and the user."""
        if self.timed_out:
            return f"The program was stopped after the wall-clock limit of {self.elapsed:.0f} s."
        if self.limit:
            return f"The program was killed: {self.limit}.\n{_tail(self.stderr)}".rstrip()
        return f"The program exited with status {self.returncode}.\n{_tail(self.stderr)}".rstrip()


def _tail(text: str, lines: int = 40, chars: int = 4000) -> str:
    """The end of a traceback is where the error is; keep that, without the sandbox's own frames."""
    kept: list[str] = []
    skip_code_line = False
    for line in text.strip().splitlines():
        if skip_code_line and line.startswith("    "):
            skip_code_line = False
            continue
        skip_code_line = line.startswith("  File ") and (str(_GUARD) in line or "<frozen runpy>" in line)
        if not skip_code_line:
            kept.append(line)
    return "\n".join(kept[-lines:])[-chars:]


@functools.cache
def network_isolation() -> tuple[str, ...]:
    """The ``unshare`` prefix that gives a child an empty network namespace, or () if unavailable."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    options = [["--net"]] if os.geteuid() == 0 else []
    options.append(["--map-root-user", "--net"])
    for flags in options:
        try:
            probe = subprocess.run([unshare, *flags, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return (unshare, *flags)
    return ()


@functools.cache
def _read_roots() -> tuple[str, ...]:
    """Directories the program may read: the interpreter's installation and nco's own packages
    (an editable install lives outside site-packages)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"]}
    roots.update(sysconfig.get_paths()[key] for key in ("platlib", "stdlib", "platstdlib"))
    for package in ("nco", "solvers", "envs"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            roots.update(spec.submodule_search_locations)
    # shared libraries' data and time zones are read by numpy/ortools at import
    roots.update(p for p in ("/usr/share/zoneinfo", "/usr/lib", "/lib", "/dev/null", "/dev/urandom") if os.path.exists(p))
    return tuple(sorted(roots))


def _environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        # one thread each: predictable CPU use and smaller address-space reservations
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _limit_resources(limits: SandboxLimits) -> None:
    """Runs in the child between fork and exec."""
    memory = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_time, limits.cpu_time + 2))
    size = limits.file_size_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _which_limit(returncode: int, stderr: str, limits: SandboxLimits) -> str | None:
    if returncode == -signal.SIGXCPU:
        return f"CPU time limit of {limits.cpu_time} s exceeded"
    if returncode == -signal.SIGXFSZ:
        return f"file size limit of {limits.file_size_mb} MiB exceeded"
    if any(sign in stderr for sign in ("MemoryError", "Unable to allocate", "std::bad_alloc")):
        return f"memory limit of {limits.memory_mb} MiB exceeded"
    if returncode == -signal.SIGKILL:
        return "killed by SIGKILL (hard CPU or memory limit)"
    return None


def run_python(
    code: str,
    *,
    limits: SandboxLimits = SandboxLimits(),
    files: dict[str, bytes] | None = None,
    collect: tuple[str, ...] = (),
) -> SandboxRun:
    """Run ``code`` as ``main.py`` in a fresh directory; ``files`` are placed next to it and the
    files named in ``collect`` are read back (when present and not too large)."""
    isolation = network_isolation()
    with tempfile.TemporaryDirectory(prefix="nco-llm-") as workdir:
        for name, content in {**(files or {}), "main.py": code.encode()}.items():
            target = Path(workdir, name)
            if target.parent != Path(workdir):
                raise ValueError(f"sandbox files must be plain names, got {name!r}")
            target.write_bytes(content)
        command = [
            *isolation,
            sys.executable,
            "-I",  # ignore PYTHON* variables and the user's site directory
            "-B",  # never write .pyc files (they would land outside the directory)
            str(_GUARD),
            "main.py",
            json.dumps(_read_roots()),
        ]
        start = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=_environment(workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=functools.partial(_limit_resources, limits),
            start_new_session=True,  # its own process group, killed as a whole
        )
        timed_out = False
        try:
            stdout, stderr = process.communicate(timeout=limits.wall_time)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        elapsed = time.monotonic() - start
        returned: dict[str, bytes] = {}
        for name in collect:
            path = Path(workdir, name)
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= _MAX_FILE:
                returned[name] = path.read_bytes()
    out = stdout.decode(errors="replace")[-_MAX_OUTPUT:]
    err = stderr.decode(errors="replace")[-_MAX_OUTPUT:]
    code_ = process.returncode
    return SandboxRun(
        returncode=None if timed_out else code_,
        stdout=out,
        stderr=err,
        files=returned,
        elapsed=elapsed,
        timed_out=timed_out,
        limit=None if timed_out or code_ == 0 else _which_limit(code_, err, limits),
        isolation=("network namespace",) * bool(isolation) + ("rlimits", "audit hook", "temporary directory"),
    )
