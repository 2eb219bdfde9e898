"""Score another dataset's test splits with one training job's fitted detectors, seed by seed."""

import json
from functools import cache
from pathlib import Path

from iotad.io import write_json, write_parquet
from iotad.models import load_detectors
from iotad.models.keras_setup import configure, reset_state
from iotad.runs import Matrix, cross_job
from iotad.smk import job

with job(snakemake, "cross_evaluate") as log:
    wc, inp, out = snakemake.wildcards, snakemake.input, snakemake.output
    splits = snakemake.params.tests
    read = cache(lambda path, columns: Matrix.read(path, columns and list(columns)))  # seeds sharing a view
    shared = {}  # scores of fits that several seeds share (see cross_job)
    for i, seed in enumerate(snakemake.params.seeds):
        trained = json.loads(open(inp.metrics[i]).read())
        columns = tuple(
            trained.get("feature_columns") or ()
        )  # a model trained on a feature subset scores the same subset
        # this seed's view: its training rows and the test dataset through its transform
        train = read(inp.train[i], columns)
        training_labels = set(train.rows["label"].astype(str))
        tests = {split: read(inp.tests[i * len(splits) + j], columns) for j, split in enumerate(splits)}
        if any(Path(inp.models[i]).glob("*.keras")):  # TensorFlow's thread pools, before any Keras model loads
            configure(seed, snakemake.threads)
        result = cross_job(
            load_detectors(inp.models[i]),
            trained,
            tests,
            training_labels,
            log,
            train,
            f"{wc.train} -> {wc.test}/{trained['model']}/seed{seed}: ",
            shared,
        )
        result.metrics.update(dataset=wc.train, test_dataset=wc.test)
        write_parquet(result.scores, out.scores[i])
        write_json(result.metrics, out.metrics[i])
        reset_state()
