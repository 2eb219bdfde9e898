"""Log one training job to MLflow: params, metrics (per-epoch losses as steps), tags, artifacts."""

import json

from iotad import tracking
from iotad.io import write_json
from iotad.smk import job

with job(snakemake, "track") as log:
    wc, inp = snakemake.wildcards, snakemake.input
    experiment = json.loads(open(inp.experiment).read())
    metrics = json.loads(open(inp.metrics).read())
    run_id = tracking.log_job(
        snakemake.params.uri, experiment["experiment_id"], f"{wc.dataset}/{wc.model}/seed{wc.seed}",
        tags=snakemake.params.tags, params=tracking.flatten(snakemake.params.params),
        metrics=tracking.job_metrics(metrics), histories=json.loads(open(inp.history).read()),
        artifacts=[inp.metrics, inp.history, inp.model],
    )
    write_json({"run_id": run_id, "experiment_id": experiment["experiment_id"]}, snakemake.output[0])
    log.info("MLflow run %s", run_id)
