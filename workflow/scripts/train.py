"""One (dataset, model) job: for each seed, train, threshold on validation, score every test split.
Each seed reads its own view's matrices (its split draw; leave-one-family-out: without the family)."""

import json
from functools import cache

import pandas as pd

from iotad.io import atomic_dir, write_json, write_parquet
from iotad.models import save_detectors
from iotad.models.keras_setup import reset_state
from iotad.runs import Matrix, precomputed_lof_job, run_job
from iotad.smk import job

with job(snakemake, "train") as log:
    wc, inp, out = snakemake.wildcards, snakemake.input, snakemake.output
    splits = snakemake.params.tests
    columns = snakemake.params.model.get("feature_columns")
    read = cache(lambda path: Matrix.read(path, columns))  # seeds sharing a view share its matrices
    family = wc.get("family")
    for i, seed in enumerate(snakemake.params.seeds):
        train, val = read(inp.train[i]), read(inp.val[i])
        tests = {split: read(inp.tests[i * len(splits) + j]) for j, split in enumerate(splits)}
        context = f"{wc.dataset}/{wc.model}/seed{seed}: "
        if "lof" in inp.keys():  # the canonicalization stage's scores of this seed's view
            summary = json.loads(open(inp.lof_summary[i]).read())
            result = precomputed_lof_job(pd.read_parquet(inp.lof[i]), summary, train, tests, log, context)
            result.metrics.update(model=wc.model, seed=seed)
        else:
            log.info("%s on %s, seed %s: %d training rows, %d features; tests %s", wc.model, wc.dataset, seed,
                     len(train.rows), train.X.shape[1], {k: len(v.rows) for k, v in tests.items()})
            result = run_job(wc.model, snakemake.params.model, seed=seed, threads=snakemake.threads, train=train,
                             val=val, tests=tests, exclude_family=family, log=log, dataset=wc.dataset)
        result.metrics.update(dataset=wc.dataset, split_view=inp.train[i].split("/")[-2])
        if family:
            result.metrics["excluded_family"] = family
        with atomic_dir(out.model[i]) as directory:
            save_detectors(result.detectors, directory)
        write_parquet(result.scores, out.scores[i])
        write_json(result.histories, out.history[i])
        write_json(result.metrics, out.metrics[i])
        del result
        reset_state()  # the next seed starts from a fresh Keras state, as in a process of its own
