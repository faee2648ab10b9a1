"""PID 1 of the sandbox: runs the generated program as an unprivileged user, then ends every
process it left behind and hands the collected files back.

Started by :mod:`nco.llm.sandbox` inside bubblewrap (``--as-pid-1``) as
``python -I -B supervisor.py SPEC_JSON``. Being PID 1 of a private PID namespace is what makes
clean-up a kernel guarantee: when this process exits, for whatever reason, the kernel kills every
other process of the namespace, including any the program started in a new session. Before that,
it kills them itself so that nothing changes the files while they are read.

When it runs as uid 0 of its user namespace (the caller was root), the program is started as
uid/gid ``spec["uid"]``, a different kernel uid: it cannot signal or trace this process, and
``RLIMIT_NPROC`` (which the kernel does not apply to uid 0) bounds its processes and threads.

The program's only channels back are its stdout/stderr (files opened by the caller, bounded by
``RLIMIT_FSIZE``) and the files named in ``spec["collect"]``, which this process reads with
``O_NOFOLLOW`` and writes, base64 in one JSON document, to the descriptor ``spec["result_fd"]``
(closed in the program). Standard library only: this runs before anything is trusted.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys

_LIMITS = {  # spec["limits"] key -> rlimit; each is inherited by every descendant of the program
    "memory": resource.RLIMIT_AS,
    "file_size": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
    "core": resource.RLIMIT_CORE,
}


def _limit(spec: dict) -> None:
    """Runs in the program's process between fork and exec, after the switch of user."""
    for key, which in _LIMITS.items():
        value = spec["limits"][key]
        resource.setrlimit(which, (value, value))
    cpu = spec["limits"]["cpu"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))  # SIGXCPU first, SIGKILL 2 s later


def _copy_inputs(spec: dict) -> None:
    for name in sorted(os.listdir(spec["input"])):
        target = os.path.join(spec["workdir"], name)
        shutil.copyfile(os.path.join(spec["input"], name), target)
        if spec["uid"] is not None:
            os.chown(target, spec["uid"], spec["uid"])


def _reap_until(pid: int) -> int:
    """As PID 1 every orphan becomes our child: reap them all while waiting for ``pid``."""
    while True:
        done, status = os.wait()
        if done == pid:
            return os.waitstatus_to_exitcode(status)


def _end_everything_else() -> None:
    try:
        os.kill(-1, signal.SIGKILL)  # every process of this PID namespace but ourselves
    except ProcessLookupError:  # none left
        return
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def _read(spec: dict, name: str) -> str | None:
    try:
        fd = os.open(os.path.join(spec["workdir"], name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > spec["max_file"]:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return base64.b64encode(handle.read(spec["max_file"] + 1)[: spec["max_file"]]).decode()
    finally:
        os.close(fd)


def main() -> None:
    spec = json.loads(sys.argv[1])
    # a program of the same uid may signal us; as PID 1 with default handlers we then ignore it
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if os.readlink("/proc/self/ns/pid") == spec["caller_pid_namespace"] or os.getpid() != 1:
        sys.exit("nco sandbox supervisor: not PID 1 of a private PID namespace; refusing to run")
    _copy_inputs(spec)
    uid = spec["uid"]
    program = subprocess.Popen(
        spec["command"],
        cwd=spec["workdir"],
        env=spec["env"],
        stdin=subprocess.DEVNULL,
        close_fds=True,  # the result descriptor stays here
        user=uid,
        group=uid,
        extra_groups=[] if uid is not None else None,
        preexec_fn=lambda: _limit(spec),  # noqa: PLW1509 (single-threaded)
    )
    returncode = _reap_until(program.pid)
    _end_everything_else()
    files = {name: data for name in spec["collect"] if (data := _read(spec, name)) is not None}
    with os.fdopen(spec["result_fd"], "w") as result:
        json.dump({"returncode": returncode, "files": files}, result)


if __name__ == "__main__":
    main()
