"""Hyperparameter values are checked against each detector's declared constraints when it is built,
so the config check at start-up (check_model_params) names the key, the allowed values and the value."""

from __future__ import annotations

import dataclasses

import pytest

from iotad.models import MODELS, PRECOMPUTED, build_detectors, check_model_params


@pytest.mark.parametrize("model", [m for m in MODELS if m not in PRECOMPUTED])
def test_every_detector_declares_a_constraint_for_every_hyperparameter(model):
    for detector in build_detectors(model, {"class": "ECOD"} if model == "pyod" else {}, seed=0, threads=None).values():
        for part in (detector, getattr(detector, "encoder", None)):
            if part is not None:
                fields = {f.name for f in dataclasses.fields(part)}
                assert fields == set(part._parameter_constraints), type(part).__name__


BAD = [
    ("pyod", {}, "model 'pyod' needs 'class'"),
    ("pyod", {"class": "NoSuchDetector"}, "no detector class 'NoSuchDetector': give a class of pyod.models"),
    ("pyod", {"class": "KNN", "neighbours": 5}, "KNN takes no parameter(s) ['neighbours']; it takes"),
    ("pyod", {"class": "HBOS", "max_normal_rows": 0}, "'max_normal_rows' parameter of PyodDetector"),
    (
        "deep_ae",
        {"epochs": -3},
        "'epochs' parameter of AutoencoderDetector must be an int in the range [1, inf). Got -3",
    ),
    (
        "deep_ae",
        {"batch_size": "big"},
        "'batch_size' parameter of AutoencoderDetector must be an int in the range [1, inf). Got 'big'",
    ),
    (
        "denoising_ae",
        {"learning_rate": 0},
        "'learning_rate' parameter of AutoencoderDetector must be a float in the range (0.0, inf)",
    ),
    ("deep_ae", {"patience": 2.5}, "'patience' parameter"),
    ("deep_ae", {"threshold_rule": "median"}, "'threshold_rule' parameter of AutoencoderDetector must be a str among"),
    ("deep_ae", {"percentile": 101}, "'percentile' parameter"),
    (
        "sparse_deep_ae",
        {"layer_options": {"l1_code": -1e-3}},
        "'l1_code' parameter of AutoencoderDetector.layer_options",
    ),
    ("sparse_deep_ae", {"layer_options": {"l1": 1e-3}}, "keys ['l1'] are unknown; choose from"),
    (
        "denoising_ae",
        {"layer_options": {"dropout": 1.0}},
        "'dropout' parameter of AutoencoderDetector.layer_options must be a float in the range [0.0, 1.0)",
    ),
    ("mae", {"hidden": [85, 0]}, "'hidden' parameter of LatentEncoder must be an int in the range [1, inf). Got 0"),
    ("mae", {"code": 0}, "'code' parameter of LatentEncoder"),
    ("mae", {"centres": [2.0]}, "'centres' parameter of LatentEncoder must be two numbers"),
    ("mvae", {"latent_weight": -1}, "'latent_weight' parameter of LatentEncoder"),
    ("vae", {"classifiers": ["svm"]}, "unknown classifiers ['svm']"),
    ("cnn_lstm", {"lstm_backwards": "yes"}, "'lstm_backwards' parameter of CnnLstmDetector"),
    ("cnn_lstm", {"kernel_size": 0}, "'kernel_size' parameter of CnnLstmDetector"),
    ("ocsvm", {"nu": 0}, "'nu' parameter of OneClassSvmDetector must be a float in the range (0.0, 1.0]. Got 0"),
    ("ocsvm", {"gamma": "large"}, "'gamma' parameter of OneClassSvmDetector"),
    ("pca", {"n_components": 1.5}, "'n_components' parameter of PcaDetector"),
    ("isolation_forest", {"n_trees": 5}, "IForest takes no parameter(s) ['n_trees']"),
    (
        "isolation_forest",
        {"n_estimators": 0},
        "IForest({'n_estimators': 0}) fails on trial rows: InvalidParameterError: The 'n_estimators' parameter",
    ),
    ("knn", {"model": "pyod", "class": "KNN", "method": "middle"}, "KNN({'method': 'middle'}) fails on trial rows"),
    (
        "deep_ae",
        {"max_train_rows": 0},
        "'max_train_rows' parameter of the training job must be an int in the range [1, inf)",
    ),
    ("deep_ae", {"distinct_rows": "no"}, "'distinct_rows' parameter of the training job"),
]


@pytest.mark.parametrize(("model", "params", "message"), BAD, ids=[f"{m}-{next(iter(p), 'none')}" for m, p, _ in BAD])
def test_a_value_outside_the_declared_constraint_names_the_config_key(model, params, message):
    with pytest.raises(ValueError) as caught:
        check_model_params([model], {model: params})
    assert str(caught.value).startswith(f"config hyperparameters.{model}: ")
    assert message in str(caught.value)


def test_a_variant_names_its_own_key_and_good_values_pass():
    check_model_params(
        ["wide", "ocsvm"],
        {
            "wide": {"model": "deep_ae", "epochs": 3, "layer_options": {"hidden": 32}},
            "ocsvm": {"nu": 1, "gamma": 0.5, "max_normal_rows": None},
        },
    )
    with pytest.raises(ValueError, match=r"^config sweeps.runs, variant deep_ae__epochs_0: The 'epochs'"):
        check_model_params(
            ["deep_ae__epochs_0"],
            {"deep_ae__epochs_0": {"model": "deep_ae", "epochs": 0}},
            where="sweeps.runs, variant {name}",
        )


def test_a_sweeps_default_point_reads_a_pyod_classs_own_parameters():
    """The value the grid's run trains with: the config's, else the PyOD class's default (KNN's
    n_neighbors 5, method 'largest'), next to iotad's own fields (percentile 99)."""
    from iotad.config import sweep_defaults

    hyperparameters = {
        "knn": {"model": "pyod", "class": "KNN", "n_neighbors": 7},
        "hbos": {"model": "pyod", "class": "HBOS"},
    }
    runs = [
        {"model": "knn", "parameter": "n_neighbors"},
        {"model": "knn", "parameter": "method"},
        {"model": "hbos", "parameter": "n_bins"},
        {"model": "hbos", "parameter": "percentile"},
    ]
    assert [p["value"] for p in sweep_defaults({"runs": runs}, hyperparameters)] == [7, "largest", 10, 99.0]
