"""Split report of a dataset: rows, attacks, families and repeats of training feature vectors per split."""

from pathlib import Path

import pandas as pd

from iotad.io import read_parquet_meta, write_json
from iotad.smk import job, registry
from iotad.split import split_kind, split_report

with job(snakemake, "split_report") as log:
    name = snakemake.wildcards.dataset
    spec = registry(snakemake).dataset(snakemake.params.dataset)  # a view's dataset
    cfg = snakemake.params.split
    splits = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input}  # train, val, then the test splits
    report = {
        "dataset": name,
        "kind": split_kind(spec, cfg["kind_overrides"]),
        "seed": read_parquet_meta(snakemake.input[0]).get("seed"),
        "group_duplicates": cfg["group_duplicates"],
        **split_report(splits),
    }
    write_json(report, snakemake.output[0])
    for split, entry in report["splits"].items():
        log.info(
            "%s/%s: %d rows, %d attack rows, %s rows repeating a training vector",
            name,
            split,
            entry["rows"],
            entry["attack_rows"],
            entry.get("rows_in_train", "-"),
        )
