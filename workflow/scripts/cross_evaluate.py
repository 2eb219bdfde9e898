"""Score another dataset's test splits with one fitted training job's detectors."""

import json
from pathlib import Path

import pandas as pd

from iotad.io import write_json, write_parquet
from iotad.models import load_detectors
from iotad.models.keras_setup import configure
from iotad.runs import Matrix, cross_job
from iotad.smk import job

with job(snakemake, "cross_evaluate") as log:
    wc, inp = snakemake.wildcards, snakemake.input
    trained = json.loads(open(inp.metrics).read())
    columns = trained.get("feature_columns")  # a model trained on a feature subset scores the same subset
    tests = {split: Matrix.read(path, columns) for split, path in zip(snakemake.params.tests, inp.tests)}
    training_labels = set(pd.read_parquet(inp.train, columns=["label"])["label"].astype(str))
    if any(Path(inp.model).glob("*.keras")):  # TensorFlow's thread pools, before any Keras model loads
        configure(int(wc.seed), snakemake.threads)
    result = cross_job(load_detectors(inp.model), trained, tests, training_labels, log)
    result.metrics.update(dataset=wc.train, test_dataset=wc.test)
    write_parquet(result.scores, snakemake.output.scores)
    write_json(result.metrics, snakemake.output.metrics)
