"""Table and figure of the LOF / DBSCAN robustness sweeps."""

import json
from pathlib import Path

from iotad.figures import preparation_sweep_figure
from iotad.report import preparation_sweep_table, write_table
from iotad.smk import job

with job(snakemake, "preparation_sweeps") as log:
    read = lambda paths: [json.loads(Path(p).read_text()) for p in paths]  # noqa: E731
    table = preparation_sweep_table(read(snakemake.input.sweeps), read(snakemake.input.defaults))
    write_table(table, Path(snakemake.output[0]).with_suffix(""))
    preparation_sweep_figure(table, snakemake.output.png, snakemake.output.svg)
    log.info("%d sweep points", len(table))
