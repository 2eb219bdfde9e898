"""One (dataset, model) job: for each seed, train, threshold on validation, score every test split."""

import json

import pandas as pd

from iotad.io import atomic_dir, write_json, write_parquet
from iotad.models import save_detectors
from iotad.models.keras_setup import reset_state
from iotad.runs import Matrix, precomputed_lof_job, run_job
from iotad.smk import job

with job(snakemake, "train") as log:
    wc, inp, out = snakemake.wildcards, snakemake.input, snakemake.output
    is_lof = snakemake.params.model.get("model", wc.model) == "lof"
    if not is_lof:
        columns = snakemake.params.model.get("feature_columns")
        train, val = Matrix.read(inp.train, columns), Matrix.read(inp.val, columns)
        tests = {split: Matrix.read(path, columns) for split, path in zip(snakemake.params.tests, inp.tests)}
    for i, seed in enumerate(snakemake.params.seeds):
        if is_lof:  # the canonicalization stage's scores: the same for every seed
            summary = json.loads(open(inp.lof_summary).read())
            train_labels = pd.read_parquet(inp.train, columns=["label"])["label"].astype(str)
            result = precomputed_lof_job(pd.read_parquet(inp.lof), summary, train_labels, snakemake.params.tests)
            result.metrics.update(model=wc.model, seed=seed)
        else:
            log.info("%s on %s, seed %s: %d training rows, %d features; tests %s", wc.model, wc.dataset, seed,
                     len(train.rows), train.X.shape[1], {k: len(v.rows) for k, v in tests.items()})
            result = run_job(wc.model, snakemake.params.model, seed=seed, threads=snakemake.threads, train=train,
                             val=val, tests=tests, exclude_family=wc.get("family"), log=log)
        result.metrics["dataset"] = wc.dataset
        with atomic_dir(out.model[i]) as directory:
            save_detectors(result.detectors, directory)
        write_parquet(result.scores, out.scores[i])
        write_json(result.histories, out.history[i])
        write_json(result.metrics, out.metrics[i])
        del result
        reset_state()  # the next seed starts from a fresh Keras state, as in a process of its own
