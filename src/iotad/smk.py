"""Glue for the thin scripts under workflow/scripts: logging to the rule's log file."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from contextlib import contextmanager

from .registry import DEFAULT_REGISTRY, load_registry


@contextmanager
def job(snakemake, name: str):
    """Log to the rule's ``log:`` file and to stderr; record an error's message in the log too."""
    handlers = [logging.FileHandler(snakemake.log[0], mode="w"), logging.StreamHandler(sys.stderr)]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s", handlers=handlers, force=True
    )
    log = logging.getLogger(name)
    if os.environ.get("SLURM_JOB_ID"):  # where the job ran, for cluster runs (and the cluster test)
        log.info("SLURM job %s on %s", os.environ["SLURM_JOB_ID"], socket.gethostname())
    start = time.perf_counter()
    try:
        yield log
    except Exception as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        raise
    log.info("done in %.1f s", time.perf_counter() - start)


def registry(snakemake):
    return load_registry(snakemake.config["data"].get("registry") or DEFAULT_REGISTRY)
