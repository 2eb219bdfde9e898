"""The seed paper's Figures 3-5 for one dataset with DoS records (see the eda checkpoint)."""

from pathlib import Path

import pandas as pd

from iotad.eda import dos_figures, label_counts
from iotad.smk import job

with job(snakemake, "eda_figures") as log:
    parts = {Path(p).stem: pd.read_parquet(p, columns=["label", "family", "is_attack"]) for p in snakemake.input}
    dos_figures(
        label_counts(parts), snakemake.wildcards.dataset, snakemake.params.dos_families, dict(snakemake.output.items())
    )
    log.info("%s: Figures 3-5 written", snakemake.wildcards.dataset)
