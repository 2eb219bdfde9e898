"""Class/family distribution tables for one dataset (checkpoint: they decide whether Figures 3-5 follow)."""

from pathlib import Path

import pandas as pd

from iotad.eda import distribution_table, has_dos_records, label_counts, write_table
from iotad.smk import job

with job(snakemake, "eda") as log:
    out = snakemake.output
    dataset = snakemake.wildcards.dataset
    parts = {Path(p).stem: pd.read_parquet(p, columns=["label", "family", "is_attack"]) for p in snakemake.input}
    counts = label_counts(parts)
    families = distribution_table(counts, ["family"])
    write_table(distribution_table(counts, ["family", "label"]), out.class_csv, out.class_md)
    write_table(families, out.family_csv, out.family_md)
    log.info("%s: %d labels in %d families", dataset, counts["label"].nunique(), counts["family"].nunique())
    if not has_dos_records(families, snakemake.params.dos_families):
        log.info("%s: no records in the DoS families %s: Figures 3-5 skipped", dataset, snakemake.params.dos_families)
