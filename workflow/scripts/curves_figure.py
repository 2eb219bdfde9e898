"""ROC and PR curves of the best detector of each model on one test split of one dataset (first seed)."""

import pandas as pd

from iotad.figures import curves_figure
from iotad.smk import job

with job(snakemake, "curves") as log:
    wc = snakemake.wildcards
    columns = ["split", "detector", "is_attack", "score"]
    scores = pd.concat(
        [pd.read_parquet(p, columns=columns, filters=[("split", "==", wc.split)]) for p in snakemake.input],
        ignore_index=True,
    )
    drawn = curves_figure(scores, f"{wc.dataset}, {wc.split}", snakemake.output.png, snakemake.output.svg)
    log.info(
        "%d of %d detectors drawn (best of each model): %s",
        len(drawn),
        scores["detector"].nunique(),
        ", ".join(drawn) or "none (the split needs normal and attack records)",
    )
