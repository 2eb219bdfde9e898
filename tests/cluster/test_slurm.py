"""The tiny-data workflow through profiles/slurm on a real single-node SLURM cluster (started by
tests/cluster/start_slurm.sh, stopped by pid afterwards), logging to a real `mlflow server` on
loopback. Fails if the jobs did not run as SLURM jobs (a profile that fell back to local execution)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow_server import mlflow_server
from tiny_mirror import REPO, build_tiny_mirror, write_config

from iotad import tracking

pytestmark = pytest.mark.slurm
HERE = Path(__file__).parent
DATASET, MODELS, SEEDS = "ton-iot-fridge", ["deep_ae", "pca", "lof"], [0, 1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """SLURM_CONF of a running single-node cluster; every daemon it started is stopped afterwards."""
    state = tmp_path_factory.mktemp("slurm")
    try:
        started = subprocess.run(
            ["timeout", "-k", "10", "600", str(HERE / "start_slurm.sh"), str(state)], capture_output=True, text=True
        )
        assert started.returncode == 0, f"SLURM did not start:\n{started.stdout[-2000:]}\n{started.stderr[-3000:]}"
        yield "/etc/slurm/slurm.conf"
    finally:
        subprocess.run(["timeout", "-k", "10", "120", str(HERE / "stop_slurm.sh"), str(state)])


def test_workflow_runs_as_slurm_jobs_and_every_run_reaches_the_mlflow_server(slurm, mirror, tmp_path):
    workdir = tmp_path / "run"
    write_config(workdir, build_tiny_mirror(tmp_path / "tiny", mirror))
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config.update(
        datasets=[DATASET],
        models=MODELS,
        seeds=SEEDS,
        cross_dataset=[],
        leave_one_family_out={"datasets": [], "models": [], "families": []},
    )
    config["sweeps"].update(
        datasets=[], lof={"datasets": [], "parameters": {}}, dbscan={"datasets": [], "parameters": {}}
    )
    config["mlflow"]["experiment"] = "iotad-slurm-test"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))

    with mlflow_server(tmp_path / "mlflow") as uri:
        env = {k: v for k, v in os.environ.items() if k != "IOTAD_DATA_MIRROR"}
        env.update(
            SLURM_CONF=slurm,
            MLFLOW_TRACKING_URI=uri,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )  # the venv, in the jobs too
        command = [
            "timeout",
            "-k",
            "10",
            "600",
            str(Path(sys.executable).with_name("snakemake")),
            "--profile",
            str(REPO / "profiles/slurm"),
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            "--jobs",
            "8",
            "--slurm-no-account",
            "--slurm-keep-successful-logs",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--seconds-between-status-checks",
            "2",
        ]
        result = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir
        )
        assert result.returncode == 0, result.stdout[-4000:]

        # Every job of the run was submitted to SLURM, and each ran as the job SLURM says it was.
        submitted = set(re.findall(r"SLURM jobid (\d+)", result.stdout))
        logs = sorted((workdir / "results/logs").rglob("*.log"))
        assert logs and submitted, result.stdout[-3000:]
        ran_as = {log: re.findall(r"SLURM job (\d+) on ", log.read_text()) for log in logs}
        assert all(len(ids) == 1 for ids in ran_as.values()), {str(k): v for k, v in ran_as.items() if len(v) != 1}
        assert {ids[0] for ids in ran_as.values()} <= submitted
        train_logs = [log for log in logs if log.relative_to(workdir / "results/logs").parts[0] == "train"]
        assert len(train_logs) == len(MODELS)  # one job per (dataset, model), all seeds inside

        # The outputs, and one MLflow run per (model, seed) on the tracking server.
        tidy = pd.read_parquet(workdir / "results/report/results.parquet")
        assert set(tidy["model"]) == set(MODELS) and set(tidy["seed"].dropna()) == set(SEEDS)
        client = tracking.client_for(uri)
        experiment = client.get_experiment_by_name("iotad-slurm-test")
        runs = client.search_runs([experiment.experiment_id])
        runs = [r for r in runs if tracking.PARENT_JOB_TAG not in r.data.tags]  # parents (children: per detector)
        assert sorted(r.data.tags[tracking.JOB_TAG] for r in runs) == sorted(
            f"{DATASET}/{m}/seed{s}" for m in MODELS for s in SEEDS
        )
        assert all(client.list_artifacts(r.info.run_id) for r in runs)  # artifacts went through the server
