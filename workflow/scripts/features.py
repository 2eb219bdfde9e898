"""Apply the training split's transform to one split: feature matrix with names, ids and labels."""

import pandas as pd

from iotad.features import FeatureTransform, matrix_frame
from iotad.io import write_json, write_parquet
from iotad.smk import job

with job(snakemake, "features") as log:
    transform = FeatureTransform.from_json(snakemake.input.transform)
    # Cross-dataset runs may rename the other dataset's columns to the training side's names and
    # fill the columns it lacks (for models trained on the shared columns only).
    cross = getattr(snakemake.params, "cross", None) or {}
    rows = pd.read_parquet(snakemake.input.split).rename(columns=cross.get("rename", {}))
    matrix, unseen = transform.transform(rows, fill_missing=bool(cross.get("rename")))
    write_parquet(matrix_frame(matrix, transform.feature_names, rows), snakemake.output.matrix)
    write_json(
        {
            "split": snakemake.wildcards.split,
            "rows": len(rows),
            "features": matrix.shape[1],
            "rows_with_unseen_category": unseen,
        },
        snakemake.output.report,
    )
    log.info("%s: %d x %d; unseen categories: %s", snakemake.wildcards.split, *matrix.shape, unseen or "none")
