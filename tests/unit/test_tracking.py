"""MLflow tracking against a real sqlite store and a real `mlflow server` on loopback (the multi-node
set-up): parallel jobs lose no run, a re-run replaces its runs (the parent and its children)."""

import json
import subprocess
import sys

import pytest
from mlflow_server import mlflow_server

from iotad import tracking

LOG_ONE = """
import sys
from iotad import tracking
uri, experiment, job = sys.argv[1:4]
tracking.log_job(uri, experiment, job, checkout=tracking.checkout_id("."), config="c1",
                 tags={"dataset": "d", "model": job}, params={"model.epochs": 3},
                 children={"mae:perceptron": {"tags": {"detector": "mae:perceptron"},
                                              "metrics": {"test.auroc": 0.5 + len(job) / 100, "undefined": float("nan")}}},
                 histories={"loss": [1.0, 0.5, 0.25]}, artifacts=[sys.argv[4]])
"""


@pytest.fixture(params=["sqlite", "server"])
def store(request, tmp_path):
    artifact = tmp_path / "metrics.json"
    artifact.write_text(json.dumps({"ok": True}))
    if request.param == "sqlite":
        uri = tracking.tracking_uri(None, tmp_path)
        yield uri, tracking.ensure_experiment(uri, "test", tracking.artifact_root(uri, "test")), artifact
        return
    with mlflow_server(tmp_path / "server") as uri:  # artifacts go through the server (HTTP), as from other nodes
        yield uri, tracking.ensure_experiment(uri, "test", tracking.artifact_root(uri, "test")), artifact


def log_in_parallel(uri, experiment, artifact, jobs):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOG_ONE, uri, experiment, job, str(artifact)],
            cwd=artifact.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in jobs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]


def artifact_names(uri, client, run):
    """A run's top-level artifacts: on disk beside a local sqlite store, else listed by the server."""
    local = tracking.local_artifacts(uri, run.info.artifact_uri)
    if local is not None:
        return sorted(p.name for p in local.iterdir())
    return sorted(a.path for a in client.list_artifacts(run.info.run_id))


def parents(runs):
    return [r for r in runs if tracking.PARENT_JOB_TAG not in r.data.tags]


def test_parallel_jobs_lose_no_run_and_a_rerun_replaces_its_run(store, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri, experiment, artifact = store
    jobs = [f"d/model{i}/seed0" for i in range(8)]
    log_in_parallel(uri, experiment, artifact, jobs)
    client = tracking.client_for(uri)
    runs = client.search_runs([experiment])
    assert sorted(r.data.tags[tracking.JOB_TAG] for r in parents(runs)) == jobs
    assert sorted(r.data.tags[tracking.PARENT_JOB_TAG] for r in runs if r not in parents(runs)) == jobs
    run = next(r for r in runs if r.data.tags[tracking.JOB_TAG] == jobs[3])
    (child,) = [r for r in runs if r.data.tags.get(tracking.PARENT_RUN_TAG) == run.info.run_id]
    assert child.data.params["model.epochs"] == "3" and "undefined" not in child.data.metrics
    assert child.data.metrics["test.auroc"] == 0.5 + len(jobs[3]) / 100
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5, 0.25]
    assert artifact_names(uri, client, run) == ["metrics.json"]
    # The same jobs again (two of them at once): still one parent and one child per job.
    log_in_parallel(uri, experiment, artifact, jobs[:2])
    again = client.search_runs([experiment])
    assert len(again) == 16
    assert {r.info.run_id for r in again} != {r.info.run_id for r in runs}  # replaced, not kept


def test_uri_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri("sqlite:////x.db", tmp_path) == "http://127.0.0.1:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking.tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/results/mlflow/mlflow.db"
    assert tracking.artifact_root("http://127.0.0.1:5000", "test") is None
    # Relative to the store (which moves as one directory), not an absolute path.
    assert tracking.artifact_root(f"sqlite:///{tmp_path}/mlflow.db", "a b") == "mlflow-artifacts:/a%20b"


def test_detector_metrics_use_keys_every_model_shares():
    entry = {
        "fit_seconds": 1.5,
        "n_params": 10,
        "threshold": 0.0,
        "epochs": 3,
        "splits": {
            "test": {
                "auroc": 0.9,
                "tp": 4,
                "auprc": None,
                "novel": {"auroc": 0.8, "detection": [{"level": "family", "name": "dos", "rate": 0.5}]},
                "detection": [
                    {"level": "family", "name": "dos", "rate": 0.75},
                    {"level": "label", "name": "smurf", "rate": 1.0, "unseen_in_training": True},
                ],
            }
        },
    }
    assert tracking.detector_metrics(entry) == {
        "fit_seconds": 1.5,
        "n_params": 10.0,
        "threshold": 0.0,
        "epochs": 3.0,
        "test.auroc": 0.9,
        "test.tp": 4.0,
        "test.novel.auroc": 0.8,
        "test.novel.detection.dos": 0.5,
        "test.detection.dos": 0.75,
    }


def test_detector_tags_split_representation_and_classifier():
    assert tracking.detector_tags("mae__code_2:linear_svc", "mae") == {
        "detector": "mae__code_2:linear_svc",
        "representation": "mae",
        "classifier": "linear_svc",
    }
    assert tracking.detector_tags("deep_ae", "deep_ae") == {
        "detector": "deep_ae",
        "representation": "input",
        "classifier": "deep_ae",
    }


def test_a_job_with_a_degenerate_detector_is_tagged_for_the_mlflow_filter():
    from iotad.tracking import degenerate_tag

    doc = {
        "detectors": {
            "mae:perceptron": {"degenerate": []},
            "mae:linear_svc": {"degenerate": ["every normal record flagged on test", "constant score on test"]},
        }
    }
    assert degenerate_tag(doc) == {
        "degenerate": "mae:linear_svc: every normal record flagged on test, constant score on test"
    }
    assert degenerate_tag({"detectors": {"pca": {"degenerate": []}, "lof": {}}}) == {}
