"""Write one split (train, val or a test split) of a dataset; every job computes the same seeded split."""

from pathlib import Path

import pandas as pd

from iotad.io import write_parquet
from iotad.smk import job, registry
from iotad.split import split_dataset

with job(snakemake, "split") as log:
    spec = registry(snakemake).dataset(snakemake.wildcards.dataset)
    cfg = snakemake.params.split
    parts = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input}
    splits = split_dataset(parts, spec, seed=cfg["seed"], val_size=cfg["validation_size"], test_size=cfg["test_size"])
    chosen = splits[snakemake.wildcards.split]
    write_parquet(chosen, snakemake.output[0], {"seed": cfg["seed"], "sizes": {k: len(v) for k, v in splits.items()}})
    log.info("%s/%s: %d rows (%s)", spec.name, snakemake.wildcards.split, len(chosen),
             ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
