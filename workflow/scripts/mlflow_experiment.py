"""Create (or find) the config's MLflow experiment once, before the parallel tracking jobs."""

from iotad import tracking
from iotad.io import write_json
from iotad.smk import job

with job(snakemake, "mlflow_experiment") as log:
    uri, name = snakemake.params.uri, snakemake.params.experiment
    experiment_id = tracking.ensure_experiment(uri, name, tracking.artifact_root(uri, name))
    write_json(
        {
            "tracking_uri": uri,
            "experiment": name,
            "experiment_id": experiment_id,
            "config_hash": snakemake.params.config_hash,
            "checkout": tracking.checkout_id("."),
        },
        snakemake.output[0],
    )
    log.info("MLflow experiment %r (id %s) at %s", name, experiment_id, uri)
    log.info("browse: make mlflow-ui, then http://127.0.0.1:5000/#/experiments/%s/runs (docs/mlflow.md)", experiment_id)
