"""MLflow runs a researcher can compare (issue 18, item 1): one parent run per training job, one child
run per detector, the same metric keys for every model, tags to filter and group on, resolved
hyperparameters, loss curves once per network, cross-dataset evaluations, and artifacts that move
with the store (an MLflow Model that scores new rows)."""

import json
import math
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow_server import mlflow_server

from iotad import tracking

CLASSIFIERS = ("linear_svc", "perceptron", "nearest_centroid", "logistic_regression")
PREPROCESSING = {
    "nan_policy": "drop",
    "drop_duplicates": False,
    "drop_columns": [],
    "overrides": {"d": {"drop_duplicates": True}, "other-dataset": {"nan_policy": "zero"}},
}


def detector_entry(auroc: float, epochs: int | None = 3) -> dict:
    split = {
        "records": 10,
        "auroc": auroc,
        "f1": auroc - 0.1,
        "auprc": None,  # undefined: left out
        "novel": {"records": 4, "auroc": auroc - 0.05},
        "detection": [
            {"level": "family", "name": "dos", "rate": 0.75},
            {"level": "label", "name": "smurf", "rate": 1.0, "unseen_in_training": True},
        ],
    }
    return {
        "fit_seconds": 2.0,
        "n_params": 10,
        "threshold": 0.1,
        "epochs": epochs,
        "degenerate": [],
        "splits": {"test": split, "test21": {**split, "auroc": auroc - 0.2}},
    }


def write_job(directory, model, detectors, history=None, model_dir=True, **extra):
    directory.mkdir(parents=True)
    document = {"model": model, "base_model": model, "seed": 0, "params": {}, "detectors": detectors, **extra}
    (directory / "metrics.json").write_text(json.dumps(document))
    if history is not None:
        (directory / "history.json").write_text(json.dumps(history))
    if model_dir:
        (directory / "model").mkdir()
        (directory / "model" / "detectors.pkl").write_bytes(b"not a model")
        (directory / "model" / ".snakemake_timestamp").write_text("")
    return directory


def entry(tmp_path, dataset, model, seed=0, kind="grid", hyperparameters=None, test_dataset=None):
    """What workflow/rules tracked_jobs (and track.smk for cross evaluations) hands the track job."""
    job = f"cross/{dataset}/{test_dataset}/{model}/seed{seed}" if test_dataset else f"{dataset}/{model}/seed{seed}"
    tags = {"dataset": dataset, "model": model, "seed": str(seed), "base_model": model, "experiment_kind": kind}
    if test_dataset:
        tags["test_dataset"] = test_dataset
    return {
        "job": job,
        "run": str(tmp_path / "results" / job),
        "params": {
            "dataset": dataset,
            "model": model,
            "seed": seed,
            "hyperparameters": hyperparameters or {},
            "preprocessing": PREPROCESSING,
            "split": {"seed": 0},
        },
        "tags": tags,
    }


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking.tracking_uri(None, tmp_path)
    return uri, tracking.ensure_experiment(uri, "compare", tracking.artifact_root(uri, "compare"))


@pytest.fixture
def use_uri(monkeypatch):
    """mlflow.set_tracking_uri for one test (it also sets $MLFLOW_TRACKING_URI: restored afterwards)."""

    def use(uri):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)

    yield use
    mlflow.set_tracking_uri(None)


def latent_history(epochs=3):
    return {"loss": [1.0 / (e + 1) for e in range(epochs)], "val_loss": [2.0 / (e + 1) for e in range(epochs)]}


@pytest.fixture
def two_models(tmp_path, store):
    """A latent job (mae: four classifiers on one encoder) and an autoencoder job on dataset d, and a
    job on another dataset, logged as the track job logs them."""
    uri, experiment = store
    mae = entry(tmp_path, "d", "mae", hyperparameters={"epochs": 3})
    write_job(
        tmp_path / mae["run"],
        "mae",
        {f"mae:{c}": detector_entry(0.6 + i / 20) for i, c in enumerate(CLASSIFIERS)},
        {f"mae:{c}": latent_history() for c in CLASSIFIERS},  # the same curve, once per classifier
    )
    deep = entry(tmp_path, "d", "deep_ae")
    write_job(tmp_path / deep["run"], "deep_ae", {"deep_ae": detector_entry(0.72)}, {"deep_ae": latent_history(4)})
    other = entry(tmp_path, "e", "deep_ae")
    write_job(tmp_path / other["run"], "deep_ae", {"deep_ae": detector_entry(0.99)}, {"deep_ae": latent_history()})
    logged = {
        e["job"]: tracking.log_training_job(uri, experiment, e, checkout="co", config="c1") for e in (mae, deep, other)
    }
    return uri, experiment, logged


def test_runs_of_two_models_sort_by_one_test_auroc_key(two_models, use_uri):
    uri, experiment, _ = two_models
    use_uri(uri)
    frame = mlflow.search_runs([experiment], filter_string="tags.dataset = 'd'", order_by=["metrics.`test.auroc` DESC"])
    children = frame[frame["tags.detector"].notna()]
    assert sorted(children["tags.model"]) == ["deep_ae"] + ["mae"] * 4
    assert children["metrics.test.auroc"].notna().all()
    assert list(children["metrics.test.auroc"]) == sorted(children["metrics.test.auroc"], reverse=True)
    assert list(frame["metrics.test.auroc"].iloc[: len(children)]) == list(children["metrics.test.auroc"])
    for key in ("test.f1", "test21.auroc", "test.novel.auroc", "test.detection.dos", "fit_seconds"):
        assert children[f"metrics.{key}"].notna().all(), key
    # No metric key names a detector: one column per metric, whatever the model.
    metric_columns = [c for c in frame.columns if c.startswith("metrics.")]
    assert not [c for c in metric_columns if ":" in c or "deep_ae" in c or "mae" in c.split(".")[1]]
    assert "metrics.test.auprc" not in frame.columns  # undefined everywhere: no column of NaN
    assert "metrics.test.detection.smurf" not in frame.columns  # per-label rates stay in metrics.json


def test_each_child_has_its_parent_and_the_tags_to_filter_on(two_models):
    uri, experiment, logged = two_models
    client = tracking.client_for(uri)
    parent = client.get_run(logged["d/mae/seed0"]["run_id"])
    assert parent.data.tags["model"] == "mae" and parent.data.tags["experiment_kind"] == "grid"
    assert "detector" not in parent.data.tags
    children = client.search_runs([experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(r.data.tags["detector"] for r in children) == sorted(f"mae:{c}" for c in CLASSIFIERS)
    assert set(logged["d/mae/seed0"]["children"].values()) == {r.info.run_id for r in children}
    for run in children:
        tags = run.data.tags
        assert {k: tags[k] for k in ("dataset", "model", "seed", "experiment_kind", "representation")} == {
            "dataset": "d",
            "model": "mae",
            "seed": "0",
            "experiment_kind": "grid",
            "representation": "mae",
        }
        assert tags["classifier"] == tags["detector"].split(":")[1] and tags["test_dataset"] == "d"
        assert run.info.status == "FINISHED"
    (deep,) = client.search_runs([experiment], filter_string="tags.detector = 'deep_ae' and tags.dataset = 'd'")
    assert deep.data.tags["representation"] == "input" and deep.data.tags["classifier"] == "deep_ae"


def test_loss_curves_are_logged_once_per_network(two_models):
    uri, experiment, logged = two_models
    client = tracking.client_for(uri)
    parent = logged["d/mae/seed0"]["run_id"]
    assert [m.value for m in client.get_metric_history(parent, "loss")] == latent_history()["loss"]
    assert [m.step for m in client.get_metric_history(parent, "val_loss")] == [0, 1, 2]
    for child in logged["d/mae/seed0"]["children"].values():
        assert not [k for k in client.get_run(child).data.metrics if "loss" in k]
    assert len(client.get_metric_history(logged["d/deep_ae/seed0"]["run_id"], "loss")) == 4


def test_params_are_resolved_hyperparameters_and_this_datasets_preprocessing(two_models):
    uri, _, logged = two_models
    client = tracking.client_for(uri)
    for run_id in [logged["d/mae/seed0"]["run_id"], *logged["d/mae/seed0"]["children"].values()]:
        params = client.get_run(run_id).data.params
        assert params["hyperparameters.epochs"] == "3"  # the config's value
        assert params["hyperparameters.code"] == "15"  # mae's default, not in the config
        assert params["hyperparameters.latent_weight"] not in ("None", "")  # the paper's value None stands for
        assert params["preprocessing.drop_duplicates"] == "True"  # d's override
        assert params["preprocessing.nan_policy"] == "drop"
        assert not [k for k in params if "other-dataset" in k or "overrides" in k]
    deep = client.get_run(logged["d/deep_ae/seed0"]["run_id"]).data.params
    assert deep["hyperparameters.percentile"] == "99.0" and "hyperparameters.code" not in deep


def test_the_experiment_is_tagged_a_machine_learning_experiment(store):
    """Read back from a fresh sqlite store (an absolute path): MLflow's UI shows an experiment of this
    kind as runs (Model training) where it reads the tag; MLflow 3.17 goes by its sidebar switch instead
    (test_tracking_browser checks what a browser shows)."""
    uri, experiment = store
    assert uri.startswith("sqlite:////")
    tags = tracking.client_for(uri).get_experiment(experiment).tags
    assert tags[tracking.KIND_TAG] == "custom_model_development" == tracking.KIND
    assert tracking.ensure_experiment(uri, "compare") == experiment  # found again, tag kept
    assert tracking.client_for(uri).get_experiment(experiment).tags[tracking.KIND_TAG] == tracking.KIND


def test_a_relog_replaces_parent_and_children(two_models, tmp_path):
    uri, experiment, logged = two_models
    client = tracking.client_for(uri)
    before = {r.info.run_id for r in client.search_runs([experiment])}
    assert len(before) == 3 + 4 + 1 + 1  # parents and children
    mae = entry(tmp_path, "d", "mae", hyperparameters={"epochs": 3})
    again = tracking.log_training_job(uri, experiment, mae, checkout="co", config="c1")
    after = {r.info.run_id for r in client.search_runs([experiment])}
    assert len(after) == len(before)
    old = {logged["d/mae/seed0"]["run_id"], *logged["d/mae/seed0"]["children"].values()}
    assert after == (before - old) | {again["run_id"], *again["children"].values()}
    assert all(client.get_run(r).info.lifecycle_stage == "deleted" for r in old)
    # Another config's re-log keeps this config's runs.
    tracking.log_training_job(uri, experiment, mae, checkout="co", config="c2")
    assert after < {r.info.run_id for r in client.search_runs([experiment])}


def test_a_cross_dataset_evaluation_is_logged_with_its_test_dataset(tmp_path, store):
    uri, experiment = store
    cross = entry(tmp_path, "d", "deep_ae", kind="cross", test_dataset="e")
    write_job(
        tmp_path / cross["run"],
        "deep_ae",
        {"deep_ae": detector_entry(0.55, epochs=None)},
        model_dir=False,
        test_dataset="e",
    )
    logged = tracking.log_training_job(uri, experiment, cross, checkout="co", config="c1")
    client = tracking.client_for(uri)
    (child,) = [client.get_run(r) for r in logged["children"].values()]
    assert child.data.tags["experiment_kind"] == "cross" and child.data.tags["test_dataset"] == "e"
    assert child.data.tags["dataset"] == "d" and child.data.metrics["test.auroc"] == 0.55
    assert client.get_run(logged["run_id"]).data.tags["test_dataset"] == "e"


def test_artifacts_move_with_the_store_and_the_model_scores_new_rows(tmp_path, monkeypatch, use_uri):
    """Logged into sqlite, the store (database and artifacts) moved elsewhere and served from there: the
    artifacts are found, without .snakemake_timestamp, and the MLflow Model scores rows as the detector."""
    from iotad.models import build_detectors, save_detectors

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype("float32")
    detectors = build_detectors("pca", {"n_components": 2}, seed=0, threads=None)
    detectors["pca"].fit(X)
    job = entry(tmp_path, "d", "pca")
    run = write_job(tmp_path / job["run"], "pca", {"pca": detector_entry(0.8, epochs=None)}, {"pca": {}})
    shutil.rmtree(run / "model")
    save_detectors(detectors, run / "model")
    (run / "model" / ".snakemake_timestamp").write_text("")
    workdir = tmp_path / "checkout"
    uri = tracking.tracking_uri(None, workdir)
    experiment = tracking.ensure_experiment(uri, "moved", tracking.artifact_root(uri, "moved"))
    logged = tracking.log_training_job(uri, experiment, job, checkout="co", config="c1")
    artifact_uri = tracking.client_for(uri).get_run(logged["run_id"]).info.artifact_uri
    assert not artifact_uri.startswith("file:") and str(tmp_path) not in artifact_uri

    moved = tmp_path / "elsewhere" / "mlflow"
    shutil.move(workdir / "results" / "mlflow", moved)
    assert not list(moved.rglob(".snakemake_timestamp"))
    with mlflow_server(moved) as server:
        client = tracking.client_for(server)
        listed = {a.path for a in client.list_artifacts(logged["run_id"])}
        assert {"metrics.json", "history.json", "model"} <= listed
        assert "model/MLmodel" in {a.path for a in client.list_artifacts(logged["run_id"], "model")}
        use_uri(server)
        model = mlflow.pyfunc.load_model(f"runs:/{logged['run_id']}/model")
        rows = pd.DataFrame(X[:7], columns=[f"f{i}" for i in range(5)])
        scores = model.predict(rows)
    assert list(scores.columns) == ["pca"]
    assert np.allclose(scores["pca"].to_numpy(), detectors["pca"].decision_function(X[:7]))
    assert not math.isnan(scores["pca"].iloc[0])
