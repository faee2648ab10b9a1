"""Hostile programs against the real bubblewrap sandbox: every escape of issue 17 must be contained.

Each program first switches the in-interpreter audit hook off (``posixpath.abspath`` replaced, so
its path check sees every path as inside) or goes around it (``_posixsubprocess.fork_exec``
raises no audit event and starts interpreters without the hook): what is asserted is what the
kernel enforces. No part of the sandbox is mocked; the refusal path runs with a bwrap that is
missing or cannot start, named through ``NCO_SANDBOX_BWRAP``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nco.cli import main as cli_main
from nco.llm.sandbox import (
    SandboxLimits,
    SandboxUnavailable,
    confinement_problem,
    run_python,
)

sys.path.insert(0, str(Path(__file__).parent))
from llm_server import ScriptedChatServer

REPO = Path(__file__).resolve().parents[1]

# .ci/run installs bubblewrap; without it only the refusal tests can run
needs_sandbox = pytest.mark.skipif(
    confinement_problem() is not None, reason=f"no OS-level sandbox: {confinement_problem()}"
)

# The audit hook resolves paths through posixpath.abspath at call time: after this every path
# looks inside the working directory, and the hook allows every file operation.
HOOK_OFF = """import os, posixpath, sys
posixpath.abspath = lambda p: os.getcwd() + "/x"
try:
    open("/proc/self/status").read()  # outside the hook's read roots: refused while the hook checks
    print("HOOK BYPASSED")
except PermissionError:
    pass

def attempt(label, action):
    try:
        print(label, "SUCCEEDED", repr(action())[:200])
    except Exception as error:
        print(label, "FAILED", type(error).__name__, error)
"""
# start any executable without an audit event (and a new interpreter without the hook)
SPAWN = """import _posixsubprocess, os, sys
def spawn(argv, setsid=False):
    errors_read, errors_write = os.pipe()
    pid = _posixsubprocess.fork_exec(
        [a.encode() for a in argv], [argv[0].encode()], True, (), None, None,
        -1, -1, -1, -1, -1, -1, errors_read, errors_write, True, setsid, -1, None, None, None, -1, None, False)
    os.close(errors_write)
    os.read(errors_read, 1000)
    os.close(errors_read)
    return pid
"""


def processes_with(marker: str) -> list[int]:
    """Host processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@needs_sandbox
def test_sandbox_runs_as_nobody_in_its_own_namespaces() -> None:
    ours = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("user", "pid", "net", "ipc", "uts", "mnt")}
    code = HOOK_OFF + (
        "import json\n"
        "ns = {k: os.readlink(f'/proc/self/ns/{k}') for k in ('user', 'pid', 'net', 'ipc', 'uts', 'mnt')}\n"
        "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(), 'ns': ns,\n"
        "                  'host': os.uname().nodename, 'root': sorted(os.listdir('/')),\n"
        "                  'repo': sorted(os.listdir("
        + repr(str(REPO))
        + ")), 'caps': open('/proc/self/status').read()}))\n"
    )
    run = run_python(code)
    assert run.ok, run.stderr
    assert "HOOK BYPASSED" in run.stdout
    seen = __import__("json").loads(run.stdout.splitlines()[-1])
    assert (seen["uid"], seen["gid"], seen["groups"]) == (65534, 65534, [])
    assert all(seen["ns"][kind] != ours[kind] for kind in ours), seen["ns"]
    assert seen["host"] == "nco-sandbox"
    assert "CapEff:\t0000000000000000" in seen["caps"] and "NoNewPrivs:\t1" in seen["caps"]
    # only the ancestors of the read-only binds (the repository's packages, the Python install)
    # appear: a clone under /tmp or /home brings that top-level directory, nothing else of it
    bound = {Path(p).resolve().parts[1] for p in (REPO, sys.prefix, sys.base_prefix)}
    assert {"home", "tmp", "var"} & set(seen["root"]) <= bound, seen["root"]
    venv = Path(sys.prefix).resolve()
    inside = {venv.relative_to(REPO).parts[0]} if venv.is_relative_to(REPO) else set()  # CI's .venv
    # nco's packages and its shipped data (nco_data, the repository's data/), not tests/, .git, ...
    assert set(seen["repo"]) <= {"nco_core", "nco", "solvers", "envs", "data"} | inside


@needs_sandbox
def test_patched_abspath_reads_and_writes_nothing_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("token-4711")
    planted = tmp_path / "planted.txt"
    guard = REPO / "nco" / "llm" / "guard.py"
    before = guard.read_bytes()
    code = (
        HOOK_OFF
        + f"""
attempt("shadow", lambda: open("/etc/shadow").read())
attempt("passwd", lambda: open("/etc/passwd").read())
attempt("secret", lambda: open({str(secret)!r}).read())
attempt("plant", lambda: open({str(planted)!r}, "w").write("x"))
attempt("source", lambda: open({str(guard)!r}, "a").write("# planted"))
attempt("usr", lambda: open("/usr/planted", "w").write("x"))
attempt("root", lambda: open("/planted", "w").write("x"))
attempt("own", lambda: open("mine.txt", "w").write("x"))
"""
    )
    run = run_python(code)
    assert run.ok, run.stderr
    assert "HOOK BYPASSED" in run.stdout
    for label in ("shadow", "passwd", "secret", "plant", "source", "usr", "root"):
        assert f"{label} FAILED" in run.stdout, run.stdout
    assert "own SUCCEEDED" in run.stdout  # the working directory is writable
    assert "token-4711" not in run.stdout and "root:" not in run.stdout
    assert not planted.exists() and guard.read_bytes() == before and not Path("/usr/planted").exists()


@needs_sandbox
def test_dir_fd_through_a_symlink_reaches_nothing_outside(tmp_path: Path) -> None:
    guard = REPO / "nco" / "llm" / "guard.py"
    before = guard.read_bytes()
    code = (
        HOOK_OFF
        + f"""
os.symlink({str(tmp_path)!r}, "out")
os.symlink({str(guard.parent)!r}, "src")
attempt("out", lambda: os.open("planted", os.O_CREAT | os.O_WRONLY, dir_fd=os.open("out", os.O_RDONLY)))
root = os.open("/", os.O_RDONLY)
attempt("rootfd", lambda: os.open({str(tmp_path / "planted").lstrip("/")!r}, os.O_CREAT | os.O_WRONLY, dir_fd=root))
source = os.open("src", os.O_RDONLY)
attempt("src", lambda: os.write(os.open("guard.py", os.O_WRONLY | os.O_APPEND, dir_fd=source), b"# planted"))
attempt("srcnew", lambda: os.open("planted.py", os.O_CREAT | os.O_WRONLY, dir_fd=source))
"""
    )
    run = run_python(code)
    assert run.ok, run.stderr
    for label in ("out", "rootfd", "src", "srcnew"):
        assert f"{label} FAILED" in run.stdout, run.stdout
    assert not (tmp_path / "planted").exists() and not (guard.parent / "planted.py").exists()
    assert guard.read_bytes() == before


@needs_sandbox
def test_sqlite_creates_no_file_outside(tmp_path: Path) -> None:
    code = (
        HOOK_OFF
        + f"""import sqlite3
attempt("outside", lambda: sqlite3.connect({str(tmp_path / "evil.db")!r}).execute("create table t(x)"))
attempt("source", lambda: sqlite3.connect({str(REPO / "nco" / "evil.db")!r}).execute("create table t(x)"))
attempt("inside", lambda: sqlite3.connect("own.db").execute("create table t(x)"))
"""
    )
    run = run_python(code)
    assert run.ok, run.stderr
    assert "outside FAILED" in run.stdout and "source FAILED" in run.stdout and "inside SUCCEEDED" in run.stdout
    assert not (tmp_path / "evil.db").exists() and not (REPO / "nco" / "evil.db").exists()


@needs_sandbox
def test_a_shell_started_without_audit_event_sees_and_writes_nothing_outside(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    script = (
        f"id -u; ls /; ls {REPO}; cat /etc/passwd; touch {planted}; echo x > /usr/planted; "
        f"echo x > {REPO}/planted; echo done"
    )
    code = SPAWN + f"pid = spawn(['/bin/sh', '-c', {script!r}])\nos.waitpid(pid, 0)\n"
    run = run_python(code)
    assert run.ok, run.stderr
    lines = run.stdout.split()
    assert lines[0] == "65534" and "done" in lines  # the shell ran, as nobody
    assert "etc" in lines and "home" not in lines and "root:" not in run.stdout
    assert "tests" not in lines and ".git" not in run.stdout
    assert not planted.exists() and not Path("/usr/planted").exists() and not (REPO / "planted").exists()


@needs_sandbox
def test_a_fork_bomb_is_bounded_by_the_process_limit() -> None:
    bomb = (
        "import os, time\nn = 0\nwhile n < 500:\n    try:\n        if os.fork() == 0:\n            time.sleep(60)\n"
        "            os._exit(0)\n        n += 1\n    except OSError:\n        "
        "break\nprint('children', n, flush=True)\n"
    )
    code = SPAWN + f"pid = spawn([sys.executable, '-I', '-c', {bomb!r}])\nos.waitpid(pid, 0)\n"
    start = time.monotonic()
    run = run_python(code, limits=SandboxLimits(processes=16, wall_time=20))
    assert time.monotonic() - start < 15
    assert run.ok, run.stderr
    children = int(run.stdout.split("children")[1].split()[0])
    assert 0 < children < 16  # the main program and the bomb itself count too


@needs_sandbox
def test_a_child_in_its_own_session_does_not_outlive_the_run() -> None:
    code = SPAWN + "spawn(['/bin/sleep', '417.25'], setsid=True)\nspawn(['/bin/sleep', '417.5'])\nprint('left')\n"
    run = run_python(code)
    assert run.ok and "left" in run.stdout, run.stderr
    assert processes_with("417.25") == [] and processes_with("417.5") == []


@needs_sandbox
def test_killing_at_the_wall_clock_ends_every_process_and_ignores_held_pipes() -> None:
    # a child in its own session holds stdout and stderr; the main program never ends
    code = SPAWN + "spawn(['/bin/sleep', '418.75'], setsid=True)\nprint('spawned', flush=True)\nwhile True:\n    pass\n"
    start = time.monotonic()
    run = run_python(code, limits=SandboxLimits(wall_time=4, cpu_time=60))
    elapsed = time.monotonic() - start
    assert run.timed_out and "spawned" in run.stdout
    assert elapsed < 8, elapsed
    assert processes_with("418.75") == []


@needs_sandbox
def test_a_child_holding_the_output_does_not_delay_a_finished_program() -> None:
    code = SPAWN + "spawn(['/bin/sleep', '419.5'], setsid=True)\nprint('done')\n"
    start = time.monotonic()
    run = run_python(code, limits=SandboxLimits(wall_time=4))
    assert run.ok and time.monotonic() - start < 4
    assert processes_with("419.5") == []


@needs_sandbox
def test_killing_the_caller_ends_the_sandbox() -> None:
    """--die-with-parent: if nco itself is killed, nothing of the sandbox keeps running."""
    program = SPAWN + "spawn(['/bin/sleep', '420.125'], setsid=True)\nwhile True:\n    pass\n"
    caller = subprocess.Popen(
        [sys.executable, "-c", f"from nco.llm.sandbox import run_python\nrun_python({program!r})"]
    )
    try:
        deadline = time.monotonic() + 30
        while not processes_with("420.125"):
            assert time.monotonic() < deadline and caller.poll() is None, "the sandboxed child never started"
            time.sleep(0.1)
    finally:
        caller.kill()
        caller.wait()
    deadline = time.monotonic() + 5
    while processes_with("420.125") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with("420.125") == []


@needs_sandbox
def test_network_is_unreachable_even_without_the_hook() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = (
        "import socket\nprint('trying', flush=True)\ntry:\n    "
        f"socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    print('connected')\nexcept OSError as error:\n    print('refused', error)\n"
    )
    code = SPAWN + f"pid = spawn([sys.executable, '-I', '-c', {client!r}])\nos.waitpid(pid, 0)\n"
    run = run_python(code, limits=SandboxLimits(wall_time=20))
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):  # nobody connected
        listener.accept()
    listener.close()
    assert run.ok, run.stderr
    assert "trying" in run.stdout and "refused" in run.stdout and "connected" not in run.stdout


@needs_sandbox
def test_scratch_space_and_returned_files_are_bounded() -> None:
    code = (
        HOOK_OFF
        + """
attempt("fill", lambda: open("big", "wb").write(b"x" * (24 * 2**20)))
os.remove("big")
os.symlink("/usr/lib/os-release", "solution.json")
open("instance.json", "w").write("{}")
"""
    )
    run = run_python(code, limits=SandboxLimits(scratch_mb=16), collect=("instance.json", "solution.json"))
    assert run.ok, run.stderr
    assert "fill FAILED" in run.stdout and "No space left" in run.stdout
    assert run.files == {"instance.json": b"{}"}  # the symlink is not followed


# --- without OS-level confinement: refuse, unless explicitly told not to -------------------------
@pytest.mark.parametrize("binary", ["/nonexistent/bwrap", "/bin/false"])
def test_without_bubblewrap_generated_code_is_refused(binary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCO_SANDBOX_BWRAP", binary)
    problem = confinement_problem()
    assert problem is not None and ("not found" in problem or "cannot create the sandbox" in problem)
    with pytest.raises(SandboxUnavailable, match="refusing to run generated code"):
        run_python("print('ran')")
    unsafe = run_python("print('ran')", limits=SandboxLimits(unsafe_no_sandbox=True))
    assert unsafe.ok and "ran" in unsafe.stdout and unsafe.isolation[0] == "NO OS-LEVEL CONFINEMENT"


def test_cli_refuses_before_asking_the_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NCO_SANDBOX_BWRAP", "/nonexistent/bwrap")
    with ScriptedChatServer(["```python\nprint(1)\n```"]) as server:
        status = cli_main(["llm", "Two vans deliver to 3 customers.", "--endpoint", server.endpoint, "--model", "m"])
    err = capsys.readouterr().err
    assert status == 2 and "bubblewrap" in err and "--unsafe-no-sandbox" in err
    assert server.requests == []


@needs_sandbox
def test_no_user_namespace_can_be_created_inside() -> None:
    """A nested user namespace would give the program capabilities over new kernel objects."""
    code = (
        SPAWN + "pid = spawn(['/usr/bin/unshare', '--user', '--map-root-user', 'true'])\n"
        "print('status', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    run = run_python(code)
    assert run.ok, run.stderr
    assert "status 0" not in run.stdout and "status" in run.stdout


def test_cli_opt_out_runs_unconfined_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NCO_SANDBOX_BWRAP", "/nonexistent/bwrap")
    with ScriptedChatServer(["```python\nprint('ran unconfined')\n```"]) as server:
        status = cli_main(
            [
                "llm",
                "Two vans deliver to 3 customers.",
                "--endpoint",
                server.endpoint,
                "--model",
                "m",
                "--max-rounds",
                "1",
                "--unsafe-no-sandbox",
            ]
        )
    out, err = capsys.readouterr()
    assert "WITHOUT A SANDBOX" in err
    assert len(server.requests) == 1 and status == 1 and "NOT SOLVED" in out  # ran, wrote no result
    assert "did not write instance.json" in out
