"""One table row per dataset: LOF outliers and DBSCAN noise (overall, on the training split)."""

import json

import pandas as pd

from iotad.eda import write_table
from iotad.smk import job


def row(path, extra):
    summary = json.loads(open(path).read())
    overall = summary["splits"]["train"]["overall"]
    return {
        "dataset": summary["dataset"],
        **{k: summary[k] for k in extra},
        "train_records": overall["records"],
        "train_outliers": overall["outliers"],
        "train_percent": overall["percent"],
        "distinct_training_rows": summary["distinct_training_rows"],
    }


with job(snakemake, "preparation_tables"):
    out = snakemake.output
    lof = pd.DataFrame([row(p, ["n_neighbors", "contamination", "outline_score"]) for p in snakemake.input.lof])
    write_table(lof, out.lof_csv, out.lof_md)
    dbscan = pd.DataFrame([row(p, ["eps", "min_samples", "clusters"]) for p in snakemake.input.dbscan])
    dbscan = dbscan.rename(columns={"train_outliers": "train_noise", "train_percent": "train_noise_percent"})
    write_table(dbscan, out.dbscan_csv, out.dbscan_md)
