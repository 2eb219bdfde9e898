"""The launcher (python -m iotad.launch, what `make run` calls) and the workflow profile's
rerun-incomplete, on a two-rule workflow in fresh processes: a run killed with SIGKILL resumes with
the same command; a live run's lock is never taken from it. Its console: on a terminal one line per
finished job and a failed job with its log file; into a file exactly Snakemake's."""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from iotad import launch
from iotad.console import Console
from iotad.console import job_label as console_job_label

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
LAUNCH = [sys.executable, "-m", "iotad.launch"]

SNAKEFILE = """
rule all:
    input: "out/b.txt"

rule slow:
    output: "out/a.txt"
    script: "slow.py"

rule b:
    input: "out/a.txt"
    output: "out/b.txt"
    shell: "cat {input} > {output} && echo b >> {output}"
"""
# Writes part of its output, says it started (its pid), then waits for `release` (or SLOW_SECONDS).
SLOW = """
import os, time
from pathlib import Path
out = Path(snakemake.output[0])
out.write_text("partial\\n")
Path("started").write_text(str(os.getpid()))
deadline = time.time() + float(os.environ.get("SLOW_SECONDS", "0"))
while time.time() < deadline and not Path("release").exists():
    time.sleep(0.05)
out.write_text("a\\n")
"""


STARTED: dict[Path, list[subprocess.Popen]] = {}  # per workflow directory: killed at its end


@pytest.fixture
def workflow(tmp_path):
    """A two-rule workflow with this repository's workflow profile; processes left running are killed."""
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "slow.py").write_text(SLOW)
    shutil.copytree(REPO / "profiles/default", tmp_path / "profiles/default")
    yield tmp_path
    for proc in STARTED.pop(tmp_path, []):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if (tmp_path / "started").exists():  # an orphaned job
        try:
            os.kill(int((tmp_path / "started").read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def start(workdir: Path, command: list[str], seconds: float = 0) -> subprocess.Popen:
    """``command`` in ``workdir`` in its own process group (output in a file: see ``output``)."""
    started = STARTED.setdefault(workdir, [])
    log = workdir / f"log{len(started)}.txt"
    proc = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=os.environ | {"SLOW_SECONDS": str(seconds)},
    )
    proc.log = log
    started.append(proc)
    return proc


def finish(workdir: Path, command: list[str], seconds: float = 0, timeout: float = 120) -> tuple[int, str]:
    proc = start(workdir, command, seconds)
    rc = proc.wait(timeout=timeout)
    return rc, proc.log.read_text()


# The profile's 10-second scheduling timespan keeps a finished Snakemake up to 10 s: 1 s here.
FAST = ["--cores", "1", "--max-jobs-per-timespan", "100/1s"]


def launcher(*args: str) -> list[str]:
    return [*LAUNCH, *FAST, *args]


def plain(*args: str) -> list[str]:
    return [SNAKEMAKE, *FAST, *args]


def wait_started(workdir: Path, proc: subprocess.Popen, timeout: float = 60) -> int:
    """The slow job's pid once it has written part of its output."""
    deadline = time.time() + timeout
    while not (workdir / "started").exists():
        assert proc.poll() is None, proc.log.read_text()
        assert time.time() < deadline, "the slow job never started"
        time.sleep(0.05)
    time.sleep(0.1)
    return int((workdir / "started").read_text())


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def killed_mid_job(workdir: Path, command: list[str]) -> int:
    """Start ``command``, SIGKILL its whole process group while the slow job runs; the job's pid."""
    proc = start(workdir, command, seconds=120)
    job = wait_started(workdir, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (workdir / "started").unlink()
    return job


def assert_finished(workdir: Path):
    assert (workdir / "out/a.txt").read_text() == "a\n"
    assert (workdir / "out/b.txt").read_text() == "a\nb\n"
    assert not launch.stale_locks(workdir)


def test_plain_rerun_after_kill9_stops_on_the_lock_the_launcher_resumes(workflow):
    killed_mid_job(workflow, launcher())
    assert launch.stale_locks(workflow)  # the killed run could not remove Snakemake's lock
    assert (workflow / "out/a.txt").read_text() == "partial\n"
    # What `make run` did before the launcher: a plain rerun stops on the lock.
    rc, out = finish(workflow, plain())
    assert rc != 0 and "Directory cannot be locked" in out
    rc, out = finish(workflow, launcher())
    assert rc == 0, out
    assert out.count(launch.RESUMING) == 1
    assert_finished(workflow)  # the half-written output redone (rerun-incomplete)
    rc, out = finish(workflow, launcher())
    assert rc == 0 and launch.RESUMING not in out and "Nothing to be done" in out


def test_every_kill_moment_resumes_with_the_same_command(workflow):
    """Killed before the job, inside it and again inside its rerun: each time the same command."""
    proc = start(workflow, launcher(), seconds=120)
    time.sleep(0.3)  # Snakemake still starting (or just locked)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_mid_job(workflow, launcher())
    killed_mid_job(workflow, launcher())
    rc, out = finish(workflow, launcher())
    assert rc == 0, out
    assert_finished(workflow)


def test_workflow_profile_redoes_incomplete_outputs(workflow):
    killed_mid_job(workflow, launcher())
    rc, out = finish(workflow, launcher("--unlock"))  # a dead run's lock: Snakemake's own unlock
    assert rc == 0 and launch.RESUMING not in out and not launch.stale_locks(workflow), out
    rc, out = finish(workflow, plain("--workflow-profile", "none"))  # Snakemake's default
    assert rc != 0 and "incomplete" in out.lower()
    rc, out = finish(workflow, plain())  # profiles/default: rerun-incomplete
    assert rc == 0, out
    assert_finished(workflow)
    assert yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())["rerun-incomplete"] is True


def test_a_second_launch_while_one_runs_is_refused_and_the_first_finishes(workflow):
    first = start(workflow, launcher(), seconds=120)
    wait_started(workflow, first)
    locks = {p: p.read_text() for p in launch.stale_locks(workflow)}
    assert locks
    rc, out = finish(workflow, launcher())
    assert rc == 1
    assert "another run is working in" in out and f"pid {first.pid}" in out and launch.RESUMING not in out
    assert {p: p.read_text() for p in launch.stale_locks(workflow)} == locks  # untouched
    rc, out = finish(workflow, [*LAUNCH, "-n"])  # a dry run is let through, touching nothing
    assert rc == 0, out
    rc, out = finish(workflow, launcher("--unlock"))  # an explicit unlock of a live run: refused
    assert rc == 1 and "another run is working in" in out
    assert {p: p.read_text() for p in launch.stale_locks(workflow)} == locks
    (workflow / "release").touch()
    assert first.wait(timeout=60) == 0, first.log.read_text()
    assert_finished(workflow)


def test_a_live_plain_snakemake_keeps_its_lock(workflow):
    """A run started without the launcher holds no flock: found in /proc instead."""
    live = start(workflow, plain(), seconds=120)
    wait_started(workflow, live)
    rc, out = finish(workflow, launcher())
    assert rc == 1 and "Snakemake is still working in" in out and f"pid {live.pid}" in out, out
    assert launch.RESUMING not in out and launch.stale_locks(workflow)
    (workflow / "release").touch()
    assert live.wait(timeout=60) == 0, live.log.read_text()
    assert_finished(workflow)


def test_a_job_left_running_by_a_killed_snakemake_blocks_the_resume_until_it_ends(workflow):
    """Only Snakemake's own process killed: its job runs on, orphaned, and would race a resumed one."""
    first = start(workflow, launcher(), seconds=120)
    job = wait_started(workflow, first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert alive(job)
    rc, out = finish(workflow, launcher())
    assert rc == 1 and "Snakemake is still working in" in out and f"pid {job}" in out, out
    assert launch.stale_locks(workflow)
    (workflow / "release").touch()
    deadline = time.time() + 30
    while alive(job):
        assert time.time() < deadline
        time.sleep(0.05)
    (workflow / "started").unlink()
    (workflow / "release").unlink()
    rc, out = finish(workflow, launcher())
    assert rc == 0 and launch.RESUMING in out, out
    assert_finished(workflow)


def test_make_run_goes_through_the_launcher():
    out = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "-m iotad.launch --cores" in out


@pytest.mark.parametrize("override, expected", [([], len(os.sched_getaffinity(0))), (["CORES=3"], 3)])
def test_make_run_uses_the_machines_cores_unless_cores_is_given(override, expected):
    """More jobs than cores only slow each other down (and multiply memory): the default is the CPUs
    this process may run on."""
    out = subprocess.run(["make", "-n", "run", *override], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert f"-m iotad.launch --cores {expected}\n" in out


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], False),
        (["--cores", "2"], False),
        (["-n"], True),
        (["-np"], True),
        (["-pn"], True),
        (["--dry-run"], True),
        (["--dryrun", "--cores", "2"], True),
        (["--unlock"], False),
        (["--lint"], True),
        (["--report", "r.html"], True),
        (["-s", "Snakefile", "-c4"], False),
        (["-snfile"], False),
        (["--configfile", "c.yaml", "-F"], False),
        (["--", "-n"], False),
        (["--summary"], True),
    ],
)
def test_read_only_commands(args, expected):
    assert launch.read_only(args) is expected


def test_workdir_of(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert launch.workdir_of(["--cores", "2"]) == tmp_path.resolve()
    assert launch.workdir_of(["-d", "a", "--cores", "2"]) == (tmp_path / "a").resolve()
    assert launch.workdir_of(["--directory=b"]) == (tmp_path / "b").resolve()
    assert launch.workdir_of(["-dc"]) == (tmp_path / "c").resolve()
    assert launch.workdir_of(["--directory", "a", "-d", "z"]) == (tmp_path / "z").resolve()


# --- the console of `make run` (iotad.console): on a terminal, or asked for with IOTAD_CONSOLE=quiet ---

FAILING = """
rule all:
    input: expand("out/{name}.txt", name=["good", "bad", "fine"])

rule make:
    output: "out/{name}.txt"
    log: "logs/make/{name}.log"
    shell: "echo making {wildcards.name} > {log}; test {wildcards.name} != bad; echo {wildcards.name} > {output}"
"""
SNAKEMAKE_M = [sys.executable, "-m", "snakemake"]


def short(text: str) -> list[str]:
    """A console's lines without their [HH:MM:SS] stamps."""
    return [line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line for line in text.splitlines()]


def formatted(text: str) -> list[str]:
    lines = []
    console = Console(lines.append)
    for line in text.splitlines(keepends=True):
        console.feed(line)
    console.end()
    return lines


def test_the_console_shortens_a_recorded_snakemake_run(workflow):
    """Snakemake's real console (a two-rule run, then a run with a failing job) through Console:
    one progress line per finished job, naming it; a failed job named with its log file."""
    rc, raw = finish(workflow, [*SNAKEMAKE_M, *FAST])
    assert rc == 0, raw
    lines = short("\n".join(formatted(raw)))
    done = [line for line in lines if " steps (" in line]
    assert len(done) == raw.count("Finished jobid:") == 3, (raw, lines)
    assert [line.split(" done: ")[1].split(" (")[0] for line in done] == ["slow", "b", "all"], lines
    assert done[0].startswith("1 of 3 steps (33%) done: slow (") and done[0].endswith(" s)")
    for noise in (
        "reason:",
        "Select jobs to execute",
        "Execute 1 jobs",
        "localrule",
        "Finished jobid",
        "Host:",
        "SNAKEMAKE",
    ):
        assert not any(noise in line for line in lines), (noise, lines)
    assert lines[0] == "Job stats:" and any(line.startswith("Complete log(s): ") for line in lines), lines

    (workflow / "Snakefile").write_text(FAILING)
    rc, raw = finish(workflow, [*SNAKEMAKE_M, *FAST, "--keep-going"])
    assert rc == 1, raw
    lines = short("\n".join(formatted(raw)))
    done = [line for line in lines if " steps (" in line]
    assert len(done) == raw.count("Finished jobid:") == 2, (raw, lines)
    assert sorted(line.split(" done: ")[1].split(" (")[0] for line in done) == ["make fine", "make good"]
    failed = [line for line in lines if line.startswith("FAILED:")]
    assert len(failed) == 1 and failed[0].startswith("FAILED: make bad (jobid "), lines
    assert failed[0].endswith(" — log: logs/make/bad.log"), lines
    block = lines[lines.index(failed[0]) + 1 :]
    assert (
        block[0] == "Error in rule make:"
        and "    log: logs/make/bad.log (check log file(s) for error details)" in block
    )
    assert "At least one job did not complete successfully." in lines


def test_console_job_names_and_durations():
    """A job's label from its wildcards' values, its duration from its start block to its end."""
    now = [1000.0]
    lines = []
    console = Console(lines.append, clock=lambda: now[0])
    for line in (
        "[Mon Nov 30 12:00:00 2026]",
        "rule train:",
        "    jobid: 7",
        "    wildcards: dataset=nsl-kdd, model=mae",
    ):
        console.feed(line)
    now[0] += 42
    for line in ("[Mon Nov 30 12:00:42 2026]", "Finished jobid: 7 (Rule: train)", "3 of 12 steps (25%) done"):
        console.feed(line)
    assert short("\n".join(lines)) == ["3 of 12 steps (25%) done: train nsl-kdd/mae (42 s)"]
    assert console_job_label("train", "dataset=nsl-kdd, model=a=b, c") == "train nsl-kdd/a=b, c"
    assert console_job_label("all", None) == "all"


def test_the_launcher_on_a_terminal_shows_the_short_console(workflow, monkeypatch):
    """Output to a terminal (a pty here, no IOTAD_CONSOLE): the short console, Snakemake's exit status."""
    monkeypatch.delenv("IOTAD_CONSOLE", raising=False)
    (workflow / "Snakefile").write_text(FAILING)
    master, slave = pty.openpty()
    proc = subprocess.Popen(launcher("--keep-going"), cwd=workflow, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer gone
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 1
    lines = short(out.decode().replace("\r\n", "\n"))
    assert sum(" steps (" in line for line in lines) == 2 and "reason:" not in out.decode(), lines
    assert any(line.startswith("FAILED: make bad") and line.endswith("log: logs/make/bad.log") for line in lines), lines
    complete = next((workflow / ".snakemake/log").glob("*.snakemake.log")).read_text()
    assert "reason:" in complete and "Finished jobid" in complete  # Snakemake's own log keeps everything


def normalized(text: str, workdir: Path) -> list[str]:
    """Snakemake's console with what differs between two runs masked (times, ids, paths)."""
    text = text.replace(str(workdir), "WD")
    drop = ("  Date: ", "  Workflow ID: ", "  Command: ", "Elapsed time: ")
    return [re.sub(r"\d", "0", line) for line in text.splitlines() if not line.startswith(drop)]


def test_elsewhere_the_launcher_prints_snakemakes_output_unchanged(tmp_path, monkeypatch):
    """Output to a file (the crash test, CI, bench): exactly Snakemake's console, line for line."""
    monkeypatch.delenv("IOTAD_CONSOLE", raising=False)
    outputs = []
    for name, command in (("plain", [*SNAKEMAKE_M, *FAST]), ("launcher", launcher())):
        workdir = tmp_path / name
        workdir.mkdir()
        (workdir / "Snakefile").write_text(SNAKEFILE)
        (workdir / "slow.py").write_text(SLOW)
        shutil.copytree(REPO / "profiles/default", workdir / "profiles/default")
        rc, out = finish(workdir, command)
        assert rc == 0, out
        outputs.append(normalized(out, workdir))
    assert outputs[1] == outputs[0]
    assert any(line.startswith("    reason: ") for line in outputs[1])  # Snakemake's job blocks, as before


def test_the_short_console_is_written_line_by_line_and_a_killed_run_resumes(workflow, monkeypatch):
    """IOTAD_CONSOLE=quiet into a file: each line is there as soon as Snakemake prints it (the job
    counts while the first job still runs); the process group killed mid-job resumes as before."""
    monkeypatch.setenv("IOTAD_CONSOLE", "quiet")
    proc = start(workflow, launcher(), seconds=120)
    wait_started(workflow, proc)
    deadline = time.time() + 10
    while "total" not in proc.log.read_text():
        assert time.time() < deadline, proc.log.read_text()
        time.sleep(0.05)
    assert proc.log.read_text().startswith("Job stats:\n")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (workflow / "started").unlink()
    assert launch.stale_locks(workflow)
    rc, out = finish(workflow, launcher())
    assert rc == 0, out
    assert out.count(launch.RESUMING) == 1 and "done: slow (" in out and "reason:" not in out, out
    assert_finished(workflow)


def test_the_short_console_is_asked_for_or_follows_the_terminal(monkeypatch):
    for asked, expected in (("quiet", True), ("full", False), ("QUIET", True)):
        monkeypatch.setenv("IOTAD_CONSOLE", asked)
        assert launch.quiet_console() is expected
    monkeypatch.delenv("IOTAD_CONSOLE")
    with open(os.devnull, "w") as devnull:
        monkeypatch.setattr(sys, "stdout", devnull)
        assert launch.quiet_console() is False
