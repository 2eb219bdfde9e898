"""Normalization: DBSCAN on the standard-scaled training split; noise overall and per family."""

from sklearn.preprocessing import StandardScaler

from iotad.features import read_matrix
from iotad.io import write_json, write_parquet
from iotad.outliers import dbscan_distinct, outlier_summary
from iotad.smk import job

with job(snakemake, "dbscan") as log:
    cfg = snakemake.params.dbscan
    matrix, rows = read_matrix(snakemake.input[0])
    scaled = StandardScaler().fit_transform(matrix).astype("float32")
    labels, core, n_distinct = dbscan_distinct(scaled, cfg["eps"], cfg["min_samples"], chunk_rows=cfg["chunk_rows"])
    out = rows.assign(split="train", cluster=labels, core=core)
    write_parquet(out, snakemake.output.labels)
    summary = {
        "dataset": snakemake.wildcards.dataset,
        "eps": cfg["eps"],
        "min_samples": cfg["min_samples"],
        "distinct_training_rows": n_distinct,
        "clusters": int(labels.max() + 1),
        **outlier_summary(out, "cluster", outlier=-1),
    }
    if "parameter" in snakemake.wildcards.keys():  # a sweep job: name the changed parameter
        summary["swept"] = snakemake.wildcards.parameter
    write_json(summary, snakemake.output.summary)
    log.info("%d clusters; %s", summary["clusters"], summary["splits"]["train"]["overall"])
