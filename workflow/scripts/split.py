"""Write one split (train, val or a test split) of a dataset; every job computes the same seeded split."""

from pathlib import Path

import pandas as pd

from iotad.io import write_parquet
from iotad.smk import job, registry
from iotad.split import held_share_shortfalls, split_dataset, split_kind

with job(snakemake, "split") as log:
    view = snakemake.params.view  # the dataset, its split draw's seed and a held-out family (leave-one-family-out)
    spec = registry(snakemake).dataset(view["dataset"])
    cfg = snakemake.params.split
    parts = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input}
    kind = split_kind(spec, cfg["kind_overrides"])
    splits = split_dataset(
        parts,
        spec,
        seed=view["seed"],
        val_size=cfg["validation_size"],
        test_size=cfg["test_size"],
        exclude_family=view["exclude_family"],
        group_duplicates=cfg["group_duplicates"],
        kind=kind,
    )
    name = snakemake.wildcards.split
    chosen = splits[name]
    drawn = {"val": cfg["validation_size"]}  # held-out shares iotad drew itself (grouped: may fall short)
    if "test" in splits and kind != "official":
        drawn["test"] = cfg["test_size"] or spec.split.get("test_size")
    for family, counts in held_share_shortfalls(splits, drawn[name], name).items() if name in drawn else ():
        log.warning(
            "%s: family %s has %s: its rows repeat a few feature vectors, kept whole on one side",
            snakemake.wildcards.dataset,
            family,
            counts,
        )
    write_parquet(chosen, snakemake.output[0], {"seed": view["seed"], "sizes": {k: len(v) for k, v in splits.items()}})
    log.info(
        "%s/%s: %d rows (%s)",
        spec.name,
        snakemake.wildcards.split,
        len(chosen),
        ", ".join(f"{k} {len(v)}" for k, v in splits.items()),
    )
