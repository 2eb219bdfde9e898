"""Glue for the thin scripts under workflow/scripts: logging to the rule's log file."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from contextlib import contextmanager

from .registry import DEFAULT_REGISTRY, load_registry

FORMAT = "%(asctime)s %(levelname)s [%(job)s] %(source)s%(message)s"


def identity(snakemake, name: str) -> str:
    """The job's name in its log lines: its rule and wildcard values, ``train nsl-kdd/mae`` (the rule
    alone where it has no wildcards; ``name`` where the rule is not known)."""
    rule = getattr(snakemake, "rule", None) or name
    values = [str(value) for value in getattr(snakemake, "wildcards", None) or []]
    return f"{rule} {'/'.join(values)}" if values else rule


class JobFormatter(logging.Formatter):
    """Every line names the job (``[train nsl-kdd/mae]``); a line from another logger than the job's
    own (a library's, a warning) also names that logger."""

    def __init__(self, job: str, own: str):
        super().__init__(FORMAT)
        self.job, self.own = job, own

    def format(self, record: logging.LogRecord) -> str:
        record.job = self.job
        name = record.name.removeprefix("iotad.")
        record.source = "" if record.name == self.own else f"{name}: "
        return super().format(record)


@contextmanager
def job(snakemake, name: str):
    """Log to the rule's ``log:`` file (everything from INFO) and to stderr (warnings and errors only:
    the console of a run shows Snakemake's progress, the log files the detail); every line names the
    job (see ``identity``). Python warnings go to the same log. An error's message is logged too."""
    formatter = JobFormatter(identity(snakemake, name), name)
    to_file = logging.FileHandler(snakemake.log[0], mode="w")
    to_console = logging.StreamHandler(sys.stderr)
    to_console.setLevel(logging.WARNING)
    for handler in (to_file, to_console):
        handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[to_file, to_console], force=True)
    logging.captureWarnings(True)  # a library's warnings (scikit-learn ...) name the job too
    log = logging.getLogger(name)
    if os.environ.get("SLURM_JOB_ID"):  # where the job ran, for cluster runs (and the cluster test)
        log.info("SLURM job %s on %s", os.environ["SLURM_JOB_ID"], socket.gethostname())
    start = time.perf_counter()
    try:
        yield log
    except Exception as exc:
        log.error("%s: %s (log: %s)", type(exc).__name__, exc, snakemake.log[0])
        raise
    log.info("done in %.1f s", time.perf_counter() - start)


def registry(snakemake):
    return load_registry(snakemake.config["data"].get("registry") or DEFAULT_REGISTRY)
