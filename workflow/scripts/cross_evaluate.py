"""Score another dataset's test splits with one training job's fitted detectors, seed by seed."""

import json
from pathlib import Path

import pandas as pd

from iotad.io import write_json, write_parquet
from iotad.models import load_detectors
from iotad.models.keras_setup import configure, reset_state
from iotad.runs import Matrix, cross_job
from iotad.smk import job

with job(snakemake, "cross_evaluate") as log:
    wc, inp, out = snakemake.wildcards, snakemake.input, snakemake.output
    training_labels = set(pd.read_parquet(inp.train, columns=["label"])["label"].astype(str))
    tests = None
    for i, seed in enumerate(snakemake.params.seeds):
        trained = json.loads(open(inp.metrics[i]).read())
        if tests is None:  # a model trained on a feature subset scores the same subset
            columns = trained.get("feature_columns")
            tests = {split: Matrix.read(path, columns) for split, path in zip(snakemake.params.tests, inp.tests)}
        if any(Path(inp.models[i]).glob("*.keras")):  # TensorFlow's thread pools, before any Keras model loads
            configure(seed, snakemake.threads)
        result = cross_job(load_detectors(inp.models[i]), trained, tests, training_labels, log)
        result.metrics.update(dataset=wc.train, test_dataset=wc.test)
        write_parquet(result.scores, out.scores[i])
        write_json(result.metrics, out.metrics[i])
        reset_state()
