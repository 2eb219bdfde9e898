"""Class/family distribution tables and the seed paper's Figures 3-5 for one dataset."""

from pathlib import Path

import pandas as pd

from iotad.eda import distribution_table, dos_figures, label_counts, write_table
from iotad.smk import job

with job(snakemake, "eda") as log:
    out = snakemake.output
    parts = {
        Path(p).stem: pd.read_parquet(p, columns=["label", "family", "is_attack"]) for p in snakemake.input
    }
    counts = label_counts(parts)
    write_table(distribution_table(counts, ["family", "label"]), out.class_csv, out.class_md)
    write_table(distribution_table(counts, ["family"]), out.family_csv, out.family_md)
    dos_figures(counts, snakemake.wildcards.dataset, snakemake.params.dos_families, dict(out.items()))
    log.info("%s: %d labels in %d families", snakemake.wildcards.dataset, counts["label"].nunique(), counts["family"].nunique())
