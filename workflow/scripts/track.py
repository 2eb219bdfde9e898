"""Log one job's runs to MLflow (a training job's seeds, a leave-one-family-out job's, or a
cross-dataset evaluation's; see track_units in common.smk): per run a parent run (params, loss
curves, files, the fitted detectors as an MLflow Model) and a child run per detector (its metrics
under keys every model shares, its tags). A job logged before by this checkout and config has its
earlier runs replaced; other checkouts' and configs' runs are left alone (see iotad.tracking)."""

import json
from pathlib import Path

from iotad import tracking
from iotad.io import write_json
from iotad.smk import job

with job(snakemake, "track") as log:
    experiment = json.loads(Path(snakemake.input.experiment).read_text())
    runs, checkout = {}, tracking.checkout_id(".")  # cwd: the workdir, on whichever node
    for entry in snakemake.params.jobs:
        runs[entry["job"]] = tracking.log_training_job(
            snakemake.params.uri,
            experiment["experiment_id"],
            entry,
            checkout=checkout,
            config=snakemake.params.config_hash,
        )
        log.info(
            "%s -> MLflow run %s (%d detectors)",
            entry["job"],
            runs[entry["job"]]["run_id"],
            len(runs[entry["job"]]["children"]),
        )
    write_json({"experiment_id": experiment["experiment_id"], "runs": runs}, snakemake.output[0])
