"""Bootstrap run *inside* the sandbox: installs an audit hook, then executes the generated program.

Invoked as ``python -I -B guard.py PROGRAM READ_ROOTS_JSON``. The hook is a secondary layer inside
the bubblewrap sandbox of :mod:`nco.llm.sandbox`, which is what confines the program: it refuses
network use, starting processes, loading native code through ``ctypes``, and file access outside
the working directory, except reading the Python installation and the nco packages, so that a
model's careless code gets a clear ``sandbox: ... is not allowed`` error to fix.

It is not a security boundary: it runs in the program's own interpreter, which can defeat it
(e.g. by replacing ``posixpath.abspath``, which path resolution looks up at call time, or by
``_posixsubprocess.fork_exec``, which raises no audit event). ``tests/test_sandbox.py`` does
exactly that and checks that the kernel still contains the program. Standard library only.
"""

from __future__ import annotations

# Imported before the hook so that their one-time native set-up (ctypes opens the process
# itself) is not mistaken for the program's doing; afterwards ctypes is unusable.
import ctypes  # noqa: F401
import json
import os
import runpy
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

# events refused outright: network, new processes, native code, and ways to tamper with the hook
_REFUSED_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.forkpty",
    "os.system",
    "os.kill",
    "os.killpg",
    "pty.",
    "ctypes.",
    "gc.get_",
    "sys.settrace",
    "sys.setprofile",
    "sys._current_frames",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "webbrowser.",
    "import.pth",  # never happens after start-up; refuse to be safe
)
# events whose first argument is a path the program may only touch inside its directory
_PATH_EVENTS_WRITE = {
    "os.remove",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.utime",
    "os.symlink",
    "os.link",
    "os.rename",
    "shutil.copyfile",
    "shutil.copymode",
    "shutil.copystat",
    "shutil.copytree",
    "shutil.move",
    "shutil.rmtree",
    "shutil.make_archive",
    "shutil.unpack_archive",
}
_PATH_EVENTS_READ = {"os.listdir", "os.scandir", "glob.glob", "os.chdir"}


def install(workdir: str, read_roots: list[str]) -> None:
    realpath = os.path.realpath
    fspath, pathlike = os.fspath, os.PathLike
    sep = os.sep
    workdir = realpath(workdir)
    roots = tuple(realpath(root) for root in read_roots)

    def inside(path: object, bases: tuple[str, ...]) -> bool:
        if isinstance(path, int):  # an already open descriptor
            return True
        if not isinstance(path, (str, bytes, pathlike)):
            return False
        try:
            name = fspath(path)
        except TypeError:  # a PathLike whose __fspath__ returns something else
            return False
        if isinstance(name, bytes):
            name = name.decode(errors="surrogateescape")
        full = realpath(name)
        return any(full == base or full.startswith(base.rstrip(sep) + sep) for base in bases)

    def refuse(event: str, detail: object) -> None:
        raise PermissionError(f"sandbox: {event} is not allowed ({detail!r})")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            if path is None:
                return
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
            if not inside(path, (workdir,) if writes else (workdir, *roots)):
                refuse("writing" if writes else "reading", path)
        elif event in _PATH_EVENTS_WRITE:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path, (workdir,)):
                    refuse(event, path)
        elif event in _PATH_EVENTS_READ:
            if args and args[0] is not None and not inside(args[0], (workdir, *roots)):
                refuse(event, args[0])
        elif event.startswith(_REFUSED_PREFIXES):
            refuse(event, args[0] if args else "")

    sys.addaudithook(hook)


def main() -> None:
    program, roots = sys.argv[1], json.loads(sys.argv[2])
    install(os.getcwd(), roots)
    sys.argv = [program]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
