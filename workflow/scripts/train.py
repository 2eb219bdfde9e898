"""One (dataset, model) job: train every seed, threshold on validation, score every test split. Each
seed reads its own view's matrices (its split draw; leave-one-family-out: without the family). The
seeds' networks train together (one compiled graph; each seed's result what it would be alone), then
each seed is scored and written in turn."""

import json
from functools import cache

import pandas as pd

from iotad.models.keras_setup import select_backend

# Before anything imports Keras: the model's backend (tensorflow | jax; default $KERAS_BACKEND, else tensorflow).
select_backend(snakemake.params.model.get("backend"), snakemake.threads)

from iotad.io import atomic_dir, write_json, write_parquet  # noqa: E402
from iotad.models import save_detectors  # noqa: E402
from iotad.models.keras_setup import reset_state  # noqa: E402
from iotad.runs import Matrix, precomputed_lof_job, run_jobs  # noqa: E402
from iotad.smk import job  # noqa: E402

with job(snakemake, "train") as log:
    wc, inp, out = snakemake.wildcards, snakemake.input, snakemake.output
    splits = snakemake.params.tests
    seeds = snakemake.params.seeds
    columns = snakemake.params.model.get("feature_columns")
    read = cache(lambda path: Matrix.read(path, columns))  # seeds sharing a view share its matrices
    family = wc.get("family")
    views = [
        (
            read(inp.train[i]),
            read(inp.val[i]),
            {split: read(inp.tests[i * len(splits) + j]) for j, split in enumerate(splits)},
        )
        for i in range(len(seeds))
    ]
    if "lof" in inp.keys():  # the canonicalization stage's scores of each seed's view

        def lof_results():
            for i, (seed, (train, _, tests)) in enumerate(zip(seeds, views)):
                summary = json.loads(open(inp.lof_summary[i]).read())
                result = precomputed_lof_job(
                    pd.read_parquet(inp.lof[i]), summary, train, tests, log, f"{wc.dataset}/{wc.model}/seed{seed}: "
                )
                result.metrics.update(model=wc.model, seed=seed)
                yield result

        results = lof_results()
    else:
        for seed, (train, _, tests) in zip(seeds, views):
            log.info(
                "%s/%s/seed%s: %d training rows, %d features; tests %s",
                wc.dataset,
                wc.model,
                seed,
                len(train.rows),
                train.X.shape[1],
                {k: len(v.rows) for k, v in tests.items()},
            )
        results = run_jobs(
            wc.model,
            snakemake.params.model,
            seeds=seeds,
            threads=snakemake.threads,
            views=views,
            exclude_family=family,
            log=log,
            dataset=wc.dataset,
        )
    for i, result in enumerate(results):
        result.metrics.update(dataset=wc.dataset, split_view=inp.train[i].split("/")[-2])
        if family:
            result.metrics["excluded_family"] = family
        with atomic_dir(out.model[i]) as directory:
            save_detectors(result.detectors, directory)
        write_parquet(result.scores, out.scores[i])
        write_json(result.histories, out.history[i])
        write_json(result.metrics, out.metrics[i])
        del result
        reset_state()  # a later seed's per-seed fit (the CNN-LSTM) starts from a fresh Keras state, as in a process of its own
