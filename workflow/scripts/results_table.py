"""Merge every job's metrics into the one tidy results table (parquet + CSV)."""

from iotad.io import atomic_path, write_parquet
from iotad.results import collect
from iotad.smk import job

with job(snakemake, "results_table") as log:
    table = collect(list(snakemake.input), snakemake.params.experiments)  # cross jobs name their test dataset
    write_parquet(table, snakemake.output.parquet)
    with atomic_path(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False)
    log.info("%d rows from %d jobs", len(table), len(snakemake.input))
