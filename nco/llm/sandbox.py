"""Run untrusted generated Python confined by the kernel: bubblewrap namespaces, a separate uid, rlimits.

Each run is a bubblewrap (``bwrap``) sandbox; nothing of it relies on the interpreter behaving:

* **filesystem**: a new mount namespace whose root is an empty read-only tmpfs holding only
  read-only binds of ``/usr`` (and the ``/bin``, ``/lib*`` links), the Python installation and
  nco's own source folders; a fresh ``/proc`` and minimal ``/dev``; ``/sandbox``, a private
  tmpfs of ``scratch_mb``, is the working directory, ``TMPDIR`` and the only writable place
  (there is no ``/tmp``). The files passed in are copied there and the files named in
  ``collect`` are read back by the supervisor;
* **namespaces**: new user, PID, network (no interface but a down loopback), IPC, UTS and
  (where possible) cgroup namespaces; ``--new-session`` (no terminal to inject into),
  ``--die-with-parent``, no-new-privileges;
* **an unprivileged uid**: the program runs as uid/gid 65534 with no capabilities. When the
  caller is root, the kernel uid is 65534 too, through a user namespace made here
  (:func:`_user_namespace`): under the root kernel uid ``RLIMIT_NPROC`` would not apply;
* **limits** inherited by every descendant: ``RLIMIT_NPROC`` (processes and threads, counted per
  sandbox since the user namespace is new), ``RLIMIT_AS`` (memory per process), ``RLIMIT_CPU``
  (per process), file size, open files, no core dumps, and the wall clock: on timeout PID 1 of
  the sandbox is killed, and with it, by the kernel, every process of its PID namespace;
* **output** to files, not pipes, so that a process holding stdout cannot stall the caller.

:mod:`nco.llm.supervisor` is PID 1 inside; :mod:`nco.llm.guard`'s audit hook stays as an inner,
secondary layer that turns most refused operations into clear errors for the model.

Where bubblewrap is missing or cannot create its namespaces, :func:`run_python` refuses
(:class:`SandboxUnavailable`) unless ``SandboxLimits(unsafe_no_sandbox=True)``, which runs the
program as the caller with only rlimits, a network namespace where possible and the audit hook.
``NCO_SANDBOX_BWRAP`` names the bwrap binary (default: ``bwrap`` on ``PATH``).
"""

from __future__ import annotations

import base64
import contextlib
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = [
    "SandboxLimits",
    "SandboxRun",
    "SandboxUnavailable",
    "confinement_problem",
    "network_isolation",
    "run_python",
]

_GUARD = Path(__file__).with_name("guard.py")
_SUPERVISOR = Path(__file__).with_name("supervisor.py")
_MAX_OUTPUT = 64_000  # characters of stdout/stderr kept
_MAX_FILE = 32 * 2**20  # bytes a returned file may have
_SANDBOX_UID = 65534  # "nobody"
# inside the sandbox: the private tmpfs. Not /tmp, so that a host path under /tmp can never be
# mistaken for one of the program's own files, by the audit hook or by a reader of its messages
_WORKDIR = "/sandbox"
_INPUT = "/nco-input"  # inside the sandbox: the files passed in, read-only
_KILL_GRACE = 10.0  # seconds to wait for the namespace to go after PID 1 was killed
# what the supervisor (PID 1, uid 0 of its own user namespace when the caller is root) needs
_SUPERVISOR_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN")


class SandboxUnavailable(RuntimeError):
    """No OS-level confinement on this machine: generated code is not run."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one run. Defaults suit building an instance and a short solver call."""

    wall_time: float = 60.0  # seconds
    cpu_time: int = 60  # seconds of CPU per process (all its threads)
    memory_mb: int = 3072  # address space per process; numpy/torch reserve more than they touch
    file_size_mb: int = 64
    open_files: int = 256
    processes: int = 64  # processes and threads of the program, all descendants together (VROOM alone needs 33)
    scratch_mb: int = 512  # size of the private, writable working directory (a tmpfs)
    # run WITHOUT OS-level confinement when bubblewrap is unavailable: the program then runs as the
    # calling user, able to read what that user can read. Never for untrusted models.
    unsafe_no_sandbox: bool = False


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


# --- what the program sees ----------------------------------------------------------------------
@functools.cache
def _read_roots() -> tuple[str, ...]:
    """Directories the program may read: the interpreter's installation and nco's own packages
    (an editable install lives outside site-packages). Bound read-only into the sandbox at the
    same paths, and the audit hook's allowance for reads."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.update(sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib", "platstdlib"))
    for package in ("nco_core", "nco", "solvers", "envs", "nco_data"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            roots.update(spec.submodule_search_locations)
    roots = {os.path.abspath(root) for root in roots if os.path.isdir(root)}
    # a folder inside another is bound already
    return tuple(sorted(r for r in roots if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in roots)))


def _system_binds() -> list[str]:
    """``/usr`` (shared libraries, ``/bin/sh``) and the top-level links into it, as on the host."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    if os.path.isfile("/etc/ld.so.cache"):  # where the loader finds libraries; nothing secret
        args += ["--perms", "0755", "--dir", "/etc", "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def _python_binds() -> list[str]:
    binds: list[tuple[str, str]] = []
    for root in _read_roots():
        real = os.path.realpath(root)
        binds += [(real, root)] + ([(real, real)] if real != root else [])
    executable = os.path.realpath(sys.executable)  # e.g. a venv whose python links elsewhere
    if not any(executable.startswith(dest.rstrip("/") + "/") for _, dest in binds + [("/usr", "/usr")]):
        binds.append((executable, executable))
    # bwrap would create the folders above each bind with the host's modes (/root is 0700): make
    # them traversable for the sandbox's uid first
    above = {str(parent) for _, dest in binds for parent in Path(dest).parents if str(parent) != "/"}
    args: list[str] = []
    for folder in sorted(above):
        args += ["--perms", "0755", "--dir", folder]
    for source, dest in binds:
        args += ["--ro-bind", source, dest]
    return args


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


def _rlimits(limits: SandboxLimits) -> dict[str, int]:
    return {
        "memory": limits.memory_mb * 2**20,
        "cpu": limits.cpu_time,
        "file_size": limits.file_size_mb * 2**20,
        "open_files": limits.open_files,
        "processes": limits.processes,
        "core": 0,
    }


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


# --- OS-level confinement -----------------------------------------------------------------------
def _bwrap() -> str | None:
    return shutil.which(os.environ.get("NCO_SANDBOX_BWRAP") or "bwrap")


def confinement_problem() -> str | None:
    """Why generated code cannot be confined on this machine, or None when it can."""
    bwrap = _bwrap()
    if bwrap is None:
        name = os.environ.get("NCO_SANDBOX_BWRAP") or "bwrap"
        return (
            f"bubblewrap ({name!r}) was not found; install it (Debian/Ubuntu: apt-get install bubblewrap) "
            "to run generated code confined by the kernel"
        )
    return _probe(bwrap)


@functools.cache
def _probe(bwrap: str) -> str | None:
    """Run a tiny program in the full sandbox once; a failure says what the kernel refused."""
    check = f"import os\nassert os.getuid() == {_SANDBOX_UID} and os.getppid() == 1, (os.getuid(), os.getppid())\n"
    try:
        run = _run_confined(bwrap, check, SandboxLimits(wall_time=60), {}, ())
    except OSError as error:
        return f"bubblewrap cannot be started here: {error}"
    if run.ok:
        return None
    return (
        f"bubblewrap ({bwrap}) cannot create the sandbox here (user namespaces disabled or not permitted?): "
        f"{(run.stderr.strip() or run.failure())[-600:]}"
    )


@contextlib.contextmanager
def _user_namespace() -> Iterator[int | None]:
    """Root only: a user namespace where uids/gids 0 and 65534 mean themselves, for ``bwrap --userns``.

    bwrap's own ``--unshare-user`` maps a single uid onto the caller's, so under root the program
    would still be kernel uid 0, which ``RLIMIT_NPROC`` does not limit and which may read every
    root-only file bound into the sandbox. Here bwrap sets up as uid 0 (it needs root to read the
    Python installation under a private home) and the supervisor starts the program as 65534.
    ``user.max_user_namespaces`` is 0 inside (what ``bwrap --disable-userns`` does, which bwrap
    allows only with ``--unshare-user``). Yields a descriptor of the namespace, or None when the
    caller is not root.
    """
    if os.geteuid() != 0:
        yield None
        return
    unshare = shutil.which("unshare")
    if unshare is None:
        raise OSError("util-linux 'unshare' is needed to make the sandbox's user namespace")
    ours = os.readlink("/proc/self/ns/user")
    # once the maps are written (proc must be mounted after that), no user namespace may be
    # created inside this one: nested namespaces would hand the program capabilities over new
    # kernel objects, which is attack surface
    forbid_nesting = "echo 0 > /proc/sys/user/max_user_namespaces && echo ready && exec cat"
    holder = subprocess.Popen(
        [
            unshare,
            "--user",
            "--",
            "sh",
            "-c",
            f"read go && exec {unshare} --mount --pid --fork --mount-proc -- sh -c '{forbid_nesting}'",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert holder.stdin is not None and holder.stdout is not None  # both are pipes
    descriptor = -1
    try:
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{holder.pid}/ns/user") == ours:
            if holder.poll() is not None or time.monotonic() > deadline:
                raise OSError("unshare --user could not create a user namespace")
            time.sleep(0.001)
        mapping = f"0 0 1\n{_SANDBOX_UID} {_SANDBOX_UID} 1\n"
        for kind in ("uid_map", "gid_map"):
            with open(f"/proc/{holder.pid}/{kind}", "w") as handle:
                handle.write(mapping)
        holder.stdin.write(b"go\n")
        holder.stdin.flush()
        if holder.stdout.readline() != b"ready\n":  # EOF if the holder failed
            raise OSError("could not forbid nested user namespaces in the sandbox's user namespace")
        descriptor = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        holder.stdin.close()  # the descriptor keeps the namespace alive
        holder.stdout.close()
        holder.wait()
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _bwrap_command(bwrap: str, userns: int | None, input_dir: str, info_fd: int, limits: SandboxLimits) -> list[str]:
    if userns is None:  # unprivileged caller: bwrap makes the user namespace, as uid 65534
        users = ["--unshare-user", "--disable-userns", "--uid", str(_SANDBOX_UID), "--gid", str(_SANDBOX_UID)]
    else:
        users = ["--userns", str(userns), "--uid", "0", "--gid", "0", "--cap-drop", "ALL"]
        for cap in _SUPERVISOR_CAPS:
            users += ["--cap-add", cap]
    return [
        bwrap,
        *users,
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "nco-sandbox",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--clearenv",
        "--info-fd",
        str(info_fd),
        *_system_binds(),
        *_python_binds(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(limits.scratch_mb * 2**20),
        "--perms",
        "1777",
        "--tmpfs",
        _WORKDIR,
        "--ro-bind",
        input_dir,
        _INPUT,
        # read-only root and /dev (whose shm/ would be writable, unbounded, when the caller is not root)
        "--remount-ro",
        "/",
        "--remount-ro",
        "/dev",
        "--chdir",
        _WORKDIR,
    ]


def _end_namespace(process: subprocess.Popen, info: IO[bytes]) -> None:
    """Kill PID 1 of the sandbox: the kernel then kills every process of its PID namespace, and
    bwrap exits once they are all gone. bwrap itself is killed only if that does not happen."""
    info.seek(0)
    try:
        child = int(json.loads(info.read().decode() or "{}").get("child-pid", 0))
    except ValueError:
        child = 0
    if child > 0 and process.poll() is None:  # bwrap alive: its child's pid cannot have been reused
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    try:
        process.wait(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _read_tail(handle: IO[bytes]) -> str:
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - 4 * _MAX_OUTPUT))
    return handle.read().decode(errors="replace")[-_MAX_OUTPUT:]


def _run_confined(
    bwrap: str, code: str, limits: SandboxLimits, files: dict[str, bytes], collect: tuple[str, ...]
) -> SandboxRun:
    with tempfile.TemporaryDirectory(prefix="nco-llm-") as host, _user_namespace() as userns:
        input_dir = Path(host, "input")
        input_dir.mkdir()
        for name, content in {**files, "main.py": code.encode()}.items():
            Path(input_dir, name).write_bytes(content)
            Path(input_dir, name).chmod(0o644)
        input_dir.chmod(0o755)  # the program's uid reads them
        with contextlib.ExitStack() as stack:
            streams = {
                name: stack.enter_context(open(Path(host, name), "w+b"))
                for name in ("stdout", "stderr", "result", "info")
            }
            result_fd, info_fd = streams["result"].fileno(), streams["info"].fileno()
            spec = {
                "caller_pid_namespace": os.readlink("/proc/self/ns/pid"),
                "uid": _SANDBOX_UID if userns is not None else None,
                "workdir": _WORKDIR,
                "input": _INPUT,
                "command": [sys.executable, "-I", "-B", str(_GUARD), "main.py", json.dumps(_read_roots())],
                "env": _environment(_WORKDIR),
                "limits": _rlimits(limits),
                "collect": list(collect),
                "max_file": _MAX_FILE,
                "result_fd": result_fd,
            }
            command = [
                *_bwrap_command(bwrap, userns, str(input_dir), info_fd, limits),
                sys.executable,
                "-I",
                "-B",
                str(_SUPERVISOR),
                json.dumps(spec),
            ]
            start = time.monotonic()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=streams["stdout"],
                stderr=streams["stderr"],
                pass_fds=(result_fd, info_fd) + ((userns,) if userns is not None else ()),
                start_new_session=True,
            )
            timed_out = False
            try:
                process.wait(timeout=limits.wall_time)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                if process.poll() is None:
                    _end_namespace(process, streams["info"])
            elapsed = time.monotonic() - start
            stdout, stderr = _read_tail(streams["stdout"]), _read_tail(streams["stderr"])
            streams["result"].seek(0)
            raw = streams["result"].read(len(collect) * (_MAX_FILE * 4 // 3 + 64) + 4096)
    returncode, returned = process.returncode, {}
    if not timed_out and raw:
        try:
            report = json.loads(raw)
            returncode = int(report["returncode"])
            returned = {name: base64.b64decode(report["files"][name]) for name in collect if name in report["files"]}
        except (ValueError, KeyError, TypeError) as error:  # written by the program, if it shares our uid
            stderr += f"\nsandbox: unreadable result from the supervisor ({error})"
            returncode = returncode or 1
    isolation = (
        "bubblewrap",
        f"uid {_SANDBOX_UID}",
        "user/pid/network/ipc/uts namespaces",
        "read-only filesystem",
        "private tmpfs",
        "rlimits",
        "audit hook",
    )
    return _finished(returncode, stdout, stderr, returned, elapsed, timed_out, limits, isolation)


# --- without OS-level confinement (explicit opt-out only) ---------------------------------------
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
            probe = subprocess.run([unshare, *flags, "true"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return (unshare, *flags)
    return ()


def _limit_resources(limits: SandboxLimits) -> None:
    """Runs in the child between fork and exec. No RLIMIT_NPROC: it would count all the caller's
    processes, not the program's."""
    values = _rlimits(limits)
    for key, which in (
        ("memory", resource.RLIMIT_AS),
        ("file_size", resource.RLIMIT_FSIZE),
        ("open_files", resource.RLIMIT_NOFILE),
        ("core", resource.RLIMIT_CORE),
    ):
        resource.setrlimit(which, (values[key], values[key]))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_time, limits.cpu_time + 2))


def _run_unconfined(code: str, limits: SandboxLimits, files: dict[str, bytes], collect: tuple[str, ...]) -> SandboxRun:
    isolation = network_isolation()
    with tempfile.TemporaryDirectory(prefix="nco-llm-") as workdir:
        for name, content in {**files, "main.py": code.encode()}.items():
            Path(workdir, name).write_bytes(content)
        command = [*isolation, sys.executable, "-I", "-B", str(_GUARD), "main.py", json.dumps(_read_roots())]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.monotonic()
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=_environment(workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=functools.partial(_limit_resources, limits),  # noqa: PLW1509
                start_new_session=True,
            )
            timed_out = False
            try:
                process.wait(timeout=limits.wall_time)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            elapsed = time.monotonic() - start
            stdout, stderr = _read_tail(out), _read_tail(err)
        returned: dict[str, bytes] = {}
        for name in collect:
            path = Path(workdir, name)
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= _MAX_FILE:
                returned[name] = path.read_bytes()
    layers = ("NO OS-LEVEL CONFINEMENT",) + ("network namespace",) * bool(isolation) + ("rlimits", "audit hook")
    return _finished(process.returncode, stdout, stderr, returned, elapsed, timed_out, limits, layers)


def _finished(
    returncode: int,
    stdout: str,
    stderr: str,
    files: dict[str, bytes],
    elapsed: float,
    timed_out: bool,
    limits: SandboxLimits,
    isolation: tuple[str, ...],
) -> SandboxRun:
    """The run's record, confined or not: no exit status after a timeout, and which limit a
    failed program most likely hit."""
    return SandboxRun(
        returncode=None if timed_out else returncode,
        stdout=stdout,
        stderr=stderr,
        files=files,
        elapsed=elapsed,
        timed_out=timed_out,
        limit=None if timed_out or returncode == 0 else _which_limit(returncode, stderr, limits),
        isolation=isolation,
    )


def run_python(
    code: str,
    *,
    limits: SandboxLimits = SandboxLimits(),
    files: dict[str, bytes] | None = None,
    collect: tuple[str, ...] = (),
) -> SandboxRun:
    """Run ``code`` as ``main.py`` in a fresh sandbox; ``files`` are placed next to it and the
    files named in ``collect`` are read back (when present, regular and not too large).

    Raises :class:`SandboxUnavailable` when the kernel-level sandbox cannot be made here, unless
    ``limits.unsafe_no_sandbox``.
    """
    for name in (*(files or {}), *collect):
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"sandbox files must be plain names, got {name!r}")
    problem = confinement_problem()
    if problem is None:
        return _run_confined(_bwrap(), code, limits, dict(files or {}), tuple(collect))  # type: ignore[arg-type]
    if not limits.unsafe_no_sandbox:
        raise SandboxUnavailable(f"refusing to run generated code: {problem}")
    return _run_unconfined(code, limits, dict(files or {}), tuple(collect))
