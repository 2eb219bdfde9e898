"""Fit the one-hot encoding and scaling on the training split; save it as plain JSON."""

import pandas as pd

from iotad.features import FeatureTransform
from iotad.smk import job

with job(snakemake, "fit_transform") as log:
    transform = FeatureTransform.fit(pd.read_parquet(snakemake.input[0]), snakemake.params.scaler)
    transform.to_json(snakemake.output[0])
    log.info(
        "%d numeric + %d categorical columns -> %d features (%s scaling)",
        len(transform.numeric),
        len(transform.categorical),
        len(transform.feature_names),
        transform.scaler,
    )
