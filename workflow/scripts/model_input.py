"""The rows models train on: the training matrix, optionally without LOF outliers / DBSCAN noise."""

import pandas as pd

from iotad.io import write_json, write_parquet
from iotad.outliers import training_keep_mask
from iotad.smk import job

with job(snakemake, "model_input") as log:
    train = pd.read_parquet(snakemake.input.train)
    lof = pd.read_parquet(snakemake.input.lof) if "lof" in snakemake.input.keys() else None
    dbscan = pd.read_parquet(snakemake.input.dbscan) if "dbscan" in snakemake.input.keys() else None
    keep, removed = training_keep_mask(train, lof, dbscan)
    write_parquet(train[keep].reset_index(drop=True), snakemake.output.matrix)
    write_json({"rows_in": len(train), "rows_out": int(keep.sum()), "removed": removed}, snakemake.output.report)
    log.info("%d of %d training rows kept (%s)", keep.sum(), len(train), removed or "nothing dropped")
