"""Two checkouts (two working directories, each logging from its own process) share one real
`mlflow server`: re-logging a job replaces only the run its own checkout and config created."""

import os
import subprocess
import sys

import pytest
from mlflow_server import mlflow_server

from iotad import tracking

JOB = "d/mae/seed0"
# One job logged from the working directory the process runs in; KILL=1 dies by SIGKILL while
# logging (after params, metrics and artifacts, before the run is finished).
LOG = """
import os, sys
from iotad import tracking
uri, experiment, job, config, auroc = sys.argv[1:6]
if os.environ.get("KILL"):
    from mlflow.tracking import MlflowClient
    MlflowClient.set_terminated = lambda *args, **kwargs: os.kill(os.getpid(), 9)
tracking.log_job(uri, experiment, job, checkout=tracking.checkout_id("."), config=config,
                 tags={"dataset": "d", "model": "mae"}, params={"model.epochs": 3},
                 children={"mae:perceptron": {"metrics": {"test.auroc": float(auroc)}}},
                 histories={"loss": [1.0, 0.5]}, artifacts=["metrics.json"])
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("server")) as uri:
        yield uri


@pytest.fixture
def shared(server, tmp_path, request, monkeypatch):
    """(uri, experiment id, checkout A, checkout B): a fresh experiment and two working directories."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    checkouts = []
    for name in ("a", "b"):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "metrics.json").write_text(f'{{"checkout": "{name}"}}')
        checkouts.append(directory)
    return server, tracking.ensure_experiment(server, request.node.name), *checkouts


def log(shared, checkout, config="c1", auroc=0.7, kill=False):
    uri, experiment = shared[:2]
    env = {**os.environ, "KILL": "1"} if kill else os.environ
    done = subprocess.run(
        [sys.executable, "-c", LOG, uri, experiment, JOB, config, str(auroc)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (done.returncode == -9) if kill else (done.returncode == 0), done.stderr[-2000:]


def children(client, run_id):
    return client.search_runs(
        [client.get_run(run_id).info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'"
    )


def auroc(client, run_id):
    """The test AUROC of the parent's one child."""
    (child,) = children(client, run_id)
    return child.data.metrics["test.auroc"]


def snapshot(client, run_id):
    """Everything a re-log could change about a run and its children."""
    run = client.get_run(run_id)
    return (
        run.info.lifecycle_stage,
        run.info.status,
        run.info.end_time,
        run.data.tags,
        run.data.metrics,
        run.data.params,
        [a.path for a in client.list_artifacts(run_id)],
        sorted((c.info.run_id, c.info.status, c.data.metrics["test.auroc"]) for c in children(client, run_id)),
    )


def active(client, experiment):
    """{(checkout, config): [parent run, ...]} of the job's active runs (each child's tags checked)."""
    runs = {}
    for run in client.search_runs([experiment]):
        tags = run.data.tags
        if tags.get("iotad.parent_job"):
            assert tags["iotad.parent_job"] == JOB and tags["iotad.job"] == f"{JOB}/mae:perceptron"
            continue
        assert tags.get("iotad.job") == JOB
        runs.setdefault((tags.get("iotad.checkout"), tags.get("iotad.config_hash")), []).append(run)
    return runs


def only_run(runs, key):
    assert len(runs.get(key, [])) == 1, {k: len(v) for k, v in runs.items()}
    return runs[key][0]


def test_a_checkout_never_deletes_or_changes_another_checkouts_run(shared):
    uri, experiment, a, b = shared
    client = tracking.client_for(uri)
    log(shared, a)
    (key_a,) = active(client, experiment)
    run_a = only_run(active(client, experiment), key_a).info.run_id
    before = snapshot(client, run_a)
    assert before[0] == "active" and before[1] == "FINISHED" and auroc(client, run_a) == 0.7

    log(shared, b, auroc=0.8)  # the same job and config from another checkout
    runs = active(client, experiment)
    assert len(runs) == 2 and key_a[0] != next(k for k in runs if k != key_a)[0]
    key_b = next(k for k in runs if k != key_a)
    run_b = only_run(runs, key_b).info.run_id
    assert only_run(runs, key_a).info.run_id == run_a and snapshot(client, run_a) == before

    log(shared, b, auroc=0.9)  # B re-logs: its own run replaced, A's untouched
    runs = active(client, experiment)
    assert set(runs) == {key_a, key_b}
    assert only_run(runs, key_b).info.run_id != run_b and auroc(client, only_run(runs, key_b).info.run_id) == 0.9
    assert client.get_run(run_b).info.lifecycle_stage == "deleted"
    assert only_run(runs, key_a).info.run_id == run_a and snapshot(client, run_a) == before
    run_b, b_before = only_run(runs, key_b).info.run_id, snapshot(client, only_run(runs, key_b).info.run_id)

    log(shared, a, auroc=0.6)  # A re-logs: only A's run replaced
    runs = active(client, experiment)
    assert set(runs) == {key_a, key_b}
    assert only_run(runs, key_a).info.run_id != run_a and client.get_run(run_a).info.lifecycle_stage == "deleted"
    assert only_run(runs, key_b).info.run_id == run_b and snapshot(client, run_b) == b_before


def test_a_run_of_the_same_checkout_under_another_config_is_kept(shared):
    uri, experiment, a, _ = shared
    client = tracking.client_for(uri)
    log(shared, a, config="c1")
    ((checkout, _),) = active(client, experiment)
    run_c1 = only_run(active(client, experiment), (checkout, "c1")).info.run_id
    before = snapshot(client, run_c1)
    log(shared, a, config="c2")
    log(shared, a, config="c2")  # a re-log under c2 replaces c2's run, never c1's
    runs = active(client, experiment)
    assert set(runs) == {(checkout, "c1"), (checkout, "c2")}
    only_run(runs, (checkout, "c2"))
    assert only_run(runs, (checkout, "c1")).info.run_id == run_c1 and snapshot(client, run_c1) == before


def test_a_run_half_logged_by_a_killed_job_is_replaced_by_the_rerun(shared):
    uri, experiment, a, b = shared
    client = tracking.client_for(uri)
    log(shared, b)
    (key_b,) = active(client, experiment)
    run_b = only_run(active(client, experiment), key_b).info.run_id
    before = snapshot(client, run_b)
    log(shared, a, kill=True)
    (half,) = [runs[0] for key, runs in active(client, experiment).items() if key != key_b]
    assert half.info.status == "RUNNING"
    log(shared, a)  # the rerun
    runs = active(client, experiment)
    assert len(runs) == 2
    rerun = only_run(runs, next(k for k in runs if k != key_b))
    assert rerun.info.status == "FINISHED" and rerun.info.run_id != half.info.run_id
    assert client.get_run(half.info.run_id).info.lifecycle_stage == "deleted"
    assert only_run(runs, key_b).info.run_id == run_b and snapshot(client, run_b) == before
