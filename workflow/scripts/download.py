"""Fetch one raw file (mirror first, then URLs), verify its sha256 (the registry's, else the lock
file's, else pin it there) and write it atomically."""

from pathlib import Path

from iotad.download import fetch, mirror_dirs
from iotad.smk import job, registry

with job(snakemake, "download") as log:
    spec = registry(snakemake).file(snakemake.wildcards.file)
    mirrors = mirror_dirs(snakemake.params.mirror)
    log.info("fetching %s (mirrors: %s)", spec.key, ", ".join(map(str, mirrors)) or "none")
    origin = fetch(
        spec,
        snakemake.output[0],
        mirrors,
        retries=snakemake.params.retries,
        timeout=snakemake.params.timeout,
        lock=Path(snakemake.params.lock).absolute(),  # the job runs in the workdir; errors name the full path
    )
    log.info("verified %s from %s", spec.key, origin)
