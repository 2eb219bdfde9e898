"""Canonicalization: novelty LOF fitted on the training split; scores and labels for every split."""

from pathlib import Path

import pandas as pd

from iotad.features import read_matrix
from iotad.io import write_json, write_parquet
from iotad.outliers import LofCanonicalizer, outlier_summary, score_auroc
from iotad.smk import job

with job(snakemake, "lof") as log:
    cfg = snakemake.params.lof
    lof = LofCanonicalizer(n_neighbors=cfg["n_neighbors"], contamination=cfg["contamination"])
    frames = []
    for path in snakemake.input:  # train first (split_names order)
        split = Path(path).stem
        matrix, rows = read_matrix(path)
        scores = lof.train(matrix) if split == "train" else lof.score(matrix)
        frames.append(rows.assign(split=split, lof_score=scores, lof_label=lof.label(scores)))
        log.info("%s: %d rows scored (%d distinct in training)", split, len(rows), lof.n_distinct_)
    scores = pd.concat(frames, ignore_index=True)
    write_parquet(scores, snakemake.output.scores)
    summary = {
        "dataset": snakemake.wildcards.dataset,
        "n_neighbors": lof.n_neighbors_,
        "contamination": lof.contamination,
        "distinct_training_rows": lof.n_distinct_,
        "outline_score": lof.outline_score_,
        "score_auroc": score_auroc(scores, "lof_score"),
        **outlier_summary(scores, "lof_label", outlier=-1),
    }
    if "parameter" in snakemake.wildcards.keys():  # a sweep job: name the changed parameter
        summary["swept"] = snakemake.wildcards.parameter
    write_json(summary, snakemake.output.summary)
    log.info("outline score %.4f", lof.outline_score_)
