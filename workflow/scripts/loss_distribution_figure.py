"""The seed paper's Figure 2 for one autoencoder job (first seed, first test split)."""

import json

import pandas as pd

from iotad.figures import loss_distribution_figure
from iotad.smk import job

with job(snakemake, "fig2") as log:
    wc = snakemake.wildcards
    metrics = json.loads(open(snakemake.input.metrics).read())
    detector, entry = next(iter(metrics["detectors"].items()))
    split = next(iter(entry["splits"]))
    scores = pd.read_parquet(snakemake.input.scores)
    scores = scores[(scores["detector"] == detector) & (scores["split"] == split)]
    loss_distribution_figure(
        scores,
        entry["threshold"],
        f"{detector} on {wc.dataset} ({split}, seed {metrics['seed']})",
        snakemake.output.png,
        snakemake.output.svg,
    )
    log.info("%s: %d records of %s", detector, len(scores), split)
