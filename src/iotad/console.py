"""A console a person can follow for ``make run``: Snakemake's output, line by line, made short.

``python -m iotad.launch`` sends Snakemake's console through ``Console`` when its own output is a
terminal (or ``IOTAD_CONSOLE=quiet``; ``IOTAD_CONSOLE=full`` keeps Snakemake's console as it is).
What is shown:

- one line per finished job, with the run's progress and how long the job took::

    [12:31:09] 57 of 444 steps (13%) done: train nsl-kdd/mae (20 s)

- a failed job as one line naming it and its log file, then Snakemake's error block::

    [12:31:10] FAILED: train nsl-kdd/deep_ae (jobid 12) — log: results/logs/train/nsl-kdd/deep_ae.log

- the job counts (Snakemake's "Job stats"), warnings and errors, job output that is not in a log
  file, and Snakemake's last lines (where its complete log is, how long the run took).

What is dropped: Snakemake's host header, its job blocks (input, output, reason, resources),
"Finished jobid" and timestamp lines and its scheduler chatter ("Select jobs to execute..."). Its
complete log (``.snakemake/log/*.snakemake.log``) keeps everything. Any line this module does not
recognise is shown as it is. Every line is written and flushed as soon as it arrives.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

# Snakemake's lines that are only chatter: dropped whole.
CHATTER = re.compile(
    r"^(?:Select jobs to execute\.\.\.|Execute \d+ jobs\.\.\.|Building DAG of jobs\.\.\.|Using shell: "
    r"|Assuming unrestricted shared filesystem usage\.|Conda environments: ignored|Provided cores: "
    r"|Rules claiming more threads will be scaled down\.|Using workflow specific profile "
    r"|Singularity containers: ignored|Finished jobid: |\[\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}\]$"
    r"|Job \d+ has been scheduled|Provided resources: |DAG of jobs will be updated after completion\."
    r"|Updating checkpoint dependencies\.)"
)
JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) ([\w.]+):$")  # a job block's first line
ERROR = re.compile(r"^Error in rule ([\w.]+):$")  # an error block's first line
FIELD = re.compile(r"^    (\w+): (.*)$")
FINISHED = re.compile(r"^Finished jobid: (\d+)")
PROGRESS = re.compile(r"^(\d+) of (\d+) steps \(([^)]*)\) done$")
WILDCARD = re.compile(r"(?:^|, )[A-Za-z_]\w*=")


def job_label(rule: str, wildcards: str | None) -> str:
    """A job as the job logs name it: ``train nsl-kdd/mae`` (rule, then its wildcards' values)."""
    values = [v for v in WILDCARD.split(wildcards or "") if v]
    return f"{rule} {'/'.join(values)}" if values else rule


class Console:
    """Snakemake's console lines in, the short console out (``write`` gets whole lines, no newline)."""

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float] = time.time):
        self.write = write
        self.clock = clock
        self.jobs: dict[str, tuple[str, float]] = {}  # jobid -> (label, start time)
        self.finished: list[str] = []  # jobids finished, waiting for their progress line
        self.block: str | None = None  # "header", "job", "error" or "stats": the block being read
        self.fields: dict[str, str] = {}
        self.rule = ""
        self.began = 0.0  # when the job block being read began
        self.error: list[str] = []

    def stamp(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.clock()))

    def feed(self, line: str) -> None:
        """One line of Snakemake's console (its trailing newline, if any, is ignored)."""
        line = line.rstrip("\r\n")
        if self.block is not None:
            if self.block_line(line):
                return
        if line == "SNAKEMAKE":
            self.block = "header"
        elif match := JOB.match(line):
            self.block, self.rule, self.fields, self.began = "job", match.group(1), {}, self.clock()
        elif match := ERROR.match(line):
            self.block, self.rule, self.fields, self.error = "error", match.group(1), {}, [line]
        elif line == "Job stats:":
            self.block = "stats"
            self.write(line)
        elif match := FINISHED.match(line):
            self.finished.append(match.group(1))
        elif match := PROGRESS.match(line):
            self.progress(*match.groups())
        elif line.strip() and not CHATTER.match(line):
            self.write(line)

    def block_line(self, line: str) -> bool:
        """Whether ``line`` belongs to the block being read; the block is closed when it does not."""
        block = self.block
        if block == "header":
            if line.startswith("  ") or set(line) == {"="}:
                return True
        elif block == "stats":
            if line.strip() and line != "total" and not line.startswith("total "):
                self.write(line)
                return True
            if line.strip():
                self.write(line)
                self.block = None
                return True
        elif line.startswith("    "):  # a job's or an error's field (or an indented continuation)
            if match := FIELD.match(line):
                self.fields.setdefault(*match.groups())
            if block == "error":
                self.error.append(line)
            return True
        self.close()
        return False

    def close(self) -> None:
        """The end of a block: a job's start remembered, an error shown."""
        block, self.block = self.block, None
        jobid = self.fields.get("jobid")
        if block == "job" and jobid is not None:
            self.jobs[jobid] = (job_label(self.rule, self.fields.get("wildcards")), self.began)
        elif block == "error":
            label = self.jobs.pop(jobid, (job_label(self.rule, self.fields.get("wildcards")), 0))[0]
            log = self.fields.get("log", "").split(" (check log file", 1)[0]
            where = f"log: {log}" if log else "no log file"
            self.write(f"[{self.stamp()}] FAILED: {label}" + (f" (jobid {jobid})" if jobid else "") + f" — {where}")
            for line in self.error:
                self.write(line)
            self.error = []

    def progress(self, done: str, total: str, share: str) -> None:
        now = self.clock()
        for jobid in self.finished or [None]:
            label, began = self.jobs.pop(jobid, (None, None))
            what = f": {label} ({now - began:.0f} s)" if label else ""
            self.write(f"[{self.stamp()}] {done} of {total} steps ({share}) done{what}")
        self.finished = []

    def end(self) -> None:
        """Snakemake's output ended: a block still open is closed (an error block is shown)."""
        if self.block is not None:
            self.close()
