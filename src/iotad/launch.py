"""Start Snakemake so that a run stopped without warning resumes with the same command.

``python -m iotad.launch [snakemake arguments]`` (what ``make run`` calls) runs
``snakemake [snakemake arguments]``, except that:

- A run killed outright (``kill -9``, the out-of-memory killer, a power cut) cannot remove
  Snakemake's lock on the working directory, and a plain rerun stops at "Directory cannot be
  locked". The launcher holds an ``flock`` on ``.snakemake/iotad-run.lock`` for as long as its run
  lives (the lock goes to the Snakemake process it becomes, and the kernel drops it when that
  process dies, however it dies). Finding that lock free and Snakemake's lock files present, and no
  Snakemake process or job of an earlier run still working in the directory (``/proc``: its
  current directory and command line), it prints one line, removes the stale lock (as
  ``snakemake --unlock`` would) and starts the run.
- A second run in a directory where one is live is refused with a message naming the live one's
  process id; the live run's lock is left alone.
- Jobs the killed run left half-done are redone: the workflow profile (``profiles/default``)
  sets ``rerun-incomplete``, for every run of this workflow.
- On a terminal (or with ``IOTAD_CONSOLE=quiet``) the console is one a person can follow
  (``iotad.console``): one line per finished job with the progress, a failed job with its log file,
  Snakemake's error text and last lines. Snakemake then runs as the launcher's child, in its process
  group, holding the lock too, its output read line by line through a pipe; the launcher exits with
  Snakemake's status. Ctrl-C reaches Snakemake from the terminal as before; SIGTERM and SIGHUP sent to
  the launcher are passed on to it. Elsewhere (output to a file or a pipe, ``IOTAD_CONSOLE=full``)
  the launcher becomes Snakemake (``exec``), whose output is then exactly Snakemake's.

Dry runs and other commands that only read (``-n``, ``--lint``, ``--summary``, ``--report`` ...)
are passed to Snakemake untouched; ``--unlock`` is, unless a run is live (then refused).

Where there is no ``/proc`` (not Linux), the ``flock`` alone tells a live run from a dead one: a
plain ``snakemake`` run, started without the launcher, is then not seen.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .config import ConfigError, check_config_file
from .console import Console

LOCK_FILE = "iotad-run.lock"  # in <workdir>/.snakemake/, beside Snakemake's own locks/
RESUMING = "iotad: a previous run stopped without finishing (killed?); removing its stale lock and resuming"

# Options that never lock the directory: passed straight through.
READ_ONLY = {
    "--dry-run",
    "--dryrun",
    "--lint",
    "--list",
    "--list-rules",
    "--list-target-rules",
    "--summary",
    "--detailed-summary",
    "--dag",
    "--rulegraph",
    "--filegraph",
    "--d3dag",
    "--list-changes",
    "--lc",
    "--list-code-changes",
    "--list-input-changes",
    "--list-params-changes",
    "--li",
    "--lp",
    "--list-untracked",
    "--lu",
    "--help",
    "--version",
    "--print-compilation",
    "--containerize",
    "--archive",
    "--cleanup-metadata",
    "--cm",
    "--cleanup-shadow",
    "--export-cwl",
    "--generate-unit-tests",
    "--report",
    "--report-stylesheet",
}
READ_ONLY_SHORT = set("nlSDhv")  # -n, -l, -S, -D, -h, -v: alone or in a group (-np, -pn)
VALUE_SHORT = set("scjCdeRPUOqwT")  # short options that take a value: the rest of a group is that value


def _option(arg: str) -> str:
    return arg.split("=", 1)[0]


def read_only(args: list[str]) -> bool:
    """Whether the Snakemake command line only reads (a dry run, a listing, a report)."""
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--"):
            if _option(arg) in READ_ONLY:
                return True
        elif arg.startswith("-"):
            for flag in arg[1:]:
                if flag in READ_ONLY_SHORT:
                    return True
                if flag in VALUE_SHORT or not flag.isalpha():
                    break
    return False


def config_files(args: list[str]) -> list[str]:
    """The files after ``--configfile``/``--configfiles`` (each takes one or more)."""
    files, taking = [], False
    for arg in args:
        if arg == "--":
            break
        if _option(arg) in ("--configfile", "--configfiles"):
            taking = "=" not in arg
            if not taking:
                files.append(arg.split("=", 1)[1])
        elif arg.startswith("-"):
            taking = False
        elif taking:
            files.append(arg)
    return files


def workdir_of(args: list[str]) -> Path:
    """The directory Snakemake will work in: ``-d``/``--directory`` (last one wins), else the current one."""
    workdir = "."
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("-d", "--directory") and i + 1 < len(args):
            workdir = args[i + 1]
        elif arg.startswith("--directory="):
            workdir = arg.split("=", 1)[1]
        elif arg.startswith("-d") and len(arg) > 2 and not arg.startswith("--"):
            workdir = arg[2:]
    return Path(workdir).resolve()


def stale_locks(workdir: Path) -> list[Path]:
    """Snakemake's lock files (file persistence: .snakemake/locks/<n>.{input,output}.lock)."""
    locks = workdir / ".snakemake" / "locks"
    return sorted(locks.glob("*.lock")) if locks.is_dir() else []


def _is_snakemake(argv: list[str]) -> bool:
    """A Snakemake process (``snakemake ...``, ``python .../snakemake ...``, ``python -m snakemake``)
    or one of its jobs (scripts run from ``.snakemake/scripts/``, ``--target-jobs`` subprocesses)."""
    head = [os.path.basename(a) for a in argv[:3]]
    if "snakemake" in head or (len(argv) > 2 and argv[1] == "-m" and argv[2] == "snakemake"):
        return True
    return any("/.snakemake/scripts/" in a or a.startswith(".snakemake/scripts/") for a in argv)


def live_processes(workdir: Path) -> list[tuple[int, str]]:
    """(pid, command line) of Snakemake processes and jobs working in ``workdir`` (Linux ``/proc``;
    an empty list where there is none)."""
    found = []
    me = os.getpid()
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return found
    for name in entries:
        pid = int(name)
        if pid == me:
            continue
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")) != workdir:
                continue
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:  # gone, or another user's
            continue
        argv = [a.decode(errors="replace") for a in argv]
        if argv and _is_snakemake(argv):
            found.append((pid, " ".join(argv)))
    return found


def unlock(workdir: Path) -> None:
    """What ``snakemake --unlock`` does with the (default) file persistence: remove .snakemake/locks/,
    without the seconds it takes Snakemake to parse the workflow first."""
    shutil.rmtree(workdir / ".snakemake" / "locks", ignore_errors=True)


def _holder(fd: int) -> str:
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return f"pid {text}" if text.isdigit() else "a process"


def _refuse(message: str) -> int:
    print(f"iotad: {message}", file=sys.stderr)
    return 1


def quiet_console() -> bool:
    """Whether Snakemake's console goes through ``Console``: ``IOTAD_CONSOLE=quiet`` or ``full`` when
    set, else whether the launcher's output is a terminal."""
    asked = os.environ.get("IOTAD_CONSOLE", "").strip().lower()
    if asked in ("quiet", "full"):
        return asked == "quiet"
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_sent() -> bool:
    """Whether a SIGINT came from the terminal (this process group in its foreground), which sent it to
    every process in the group, Snakemake included: passing it on would make it a second Ctrl-C."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (AttributeError, OSError, ValueError):
            continue
    return False


def run_quiet(snakemake: list[str], lock_fd: int) -> int:
    """``snakemake`` as a child process (holding the inherited lock), its console through ``Console``;
    Snakemake's exit status (128 + the signal's number when a signal ended it)."""
    proc = subprocess.Popen(
        snakemake,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        pass_fds=(lock_fd,),
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )

    def forward(signum, frame):
        if signum != signal.SIGINT or not _terminal_sent():  # Ctrl-C: the terminal sent it to Snakemake too
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    out = sys.stdout

    def write(line: str) -> None:
        try:
            out.write(line + "\n")
            out.flush()
        except (BrokenPipeError, ValueError):  # the console is gone: Snakemake runs on, its log keeps all
            pass

    console = Console(write)
    for raw in iter(proc.stdout.readline, b""):
        console.feed(raw.decode(errors="replace"))
    console.end()
    rc = proc.wait()
    return 128 - rc if rc < 0 else rc


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    snakemake = [sys.executable, "-m", "snakemake", *args]
    for path in config_files(args):  # Snakemake's own message names neither the file nor the line
        try:
            check_config_file(path)
        except ConfigError as exc:
            return _refuse(str(exc))
    if read_only(args):
        os.execv(sys.executable, snakemake)
    workdir = workdir_of(args)
    state = workdir / ".snakemake"
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        return _refuse(
            f"another run is working in {workdir} ({_holder(fd)}); not starting a second one. "
            "Wait for it to finish, or stop it and run the same command again to resume."
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # exec keeps the pid: the holder named above
    if stale_locks(workdir):
        live = live_processes(workdir)
        if live:
            listing = "; ".join(f"pid {pid}: {cmd[:120]}" for pid, cmd in live)
            return _refuse(
                f"Snakemake is still working in {workdir} ({listing}); its lock is left alone. "
                "Wait for it to finish, or stop it and run the same command again to resume."
            )
        if "--unlock" not in args:  # asked for, Snakemake unlocks (and says so)
            print(RESUMING, file=sys.stderr, flush=True)
            unlock(workdir)
    sys.stdout.flush()
    sys.stderr.flush()
    if quiet_console():
        return run_quiet(snakemake, fd)  # Snakemake and this process both hold the lock
    os.set_inheritable(fd, True)  # Snakemake holds the lock from here until it exits (or is killed)
    os.execv(sys.executable, snakemake)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
