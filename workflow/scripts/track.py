"""Log every training job of one dataset to MLflow, one run each: params, metrics (per-epoch losses
as steps), tags, artifacts. A job logged before by this checkout and config has its earlier run
replaced; other checkouts' and configs' runs are left alone (see iotad.tracking)."""

import json
from pathlib import Path

from iotad import tracking
from iotad.io import write_json
from iotad.smk import job

with job(snakemake, "track") as log:
    experiment = json.loads(Path(snakemake.input.experiment).read_text())
    runs, checkout = {}, tracking.checkout_id(".")  # cwd: the workdir, on whichever node
    for entry in snakemake.params.jobs:
        run = Path(entry["run"])
        metrics = json.loads((run / "metrics.json").read_text())
        runs[entry["job"]] = tracking.log_job(
            snakemake.params.uri,
            experiment["experiment_id"],
            entry["job"],
            checkout=checkout,
            config=snakemake.params.config_hash,
            tags=entry["tags"] | tracking.degenerate_tag(metrics),
            params=tracking.flatten(entry["params"]),
            metrics=tracking.job_metrics(metrics),
            histories=json.loads((run / "history.json").read_text()),
            artifacts=[run / "metrics.json", run / "history.json", run / "model"],
        )
        log.info("%s -> MLflow run %s", entry["job"], runs[entry["job"]])
    write_json({"experiment_id": experiment["experiment_id"], "runs": runs}, snakemake.output[0])
