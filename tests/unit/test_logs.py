"""Job logs a person can attribute and read: every line names the job (rule and wildcards), per-seed
lines name the seed; TensorFlow's retracing warnings and its import-time notices stay out."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from snakemake.iocontainers import Wildcards

from iotad import smk
from iotad.models import keras_setup
from iotad.runs import Matrix, run_jobs


def fake_snakemake(tmp_path, rule="train", **wildcards):
    """What a script's ``snakemake`` object offers ``smk.job``: the log path, rule and wildcards."""
    return SimpleNamespace(log=[str(tmp_path / "job.log")], rule=rule, wildcards=Wildcards(fromdict=wildcards))


def synthetic(n: int, seed: int, features: int = 6) -> Matrix:
    """Normal rows around 0, attack rows (one in four) shifted: enough to fit and score a detector."""
    rng = np.random.default_rng(seed)
    attack = np.arange(n) % 4 == 0
    X = (rng.normal(size=(n, features)) + 3 * attack[:, None]).astype("float32")
    rows = pd.DataFrame(
        {
            "part": "train",
            "record_id": np.arange(n),
            "label": np.where(attack, "neptune", "normal"),
            "family": np.where(attack, "dos", "normal"),
            "is_attack": attack,
        }
    )
    return Matrix(X, rows)


@pytest.fixture(autouse=True)
def restore_logging():
    """``smk.job`` configures the root logger (as in a job's own process): put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_identity_is_the_rule_and_its_wildcards(tmp_path):
    assert smk.identity(fake_snakemake(tmp_path, dataset="nsl-kdd", model="mae"), "train") == "train nsl-kdd/mae"
    assert smk.identity(fake_snakemake(tmp_path, "results_table"), "results_table") == "results_table"
    assert smk.identity(SimpleNamespace(log=["x"]), "fig2") == "fig2"


def test_every_line_names_the_job_and_only_warnings_reach_the_console(tmp_path, capfd):
    snakemake = fake_snakemake(tmp_path, "train_lofo", dataset="nsl-kdd", model="mae", family="dos")
    with smk.job(snakemake, "train") as log:
        log.info("an info line")
        log.warning("a warning line")
        logging.getLogger("iotad.tracking").info("a library line")
        import warnings

        warnings.warn("a Python warning", UserWarning, stacklevel=1)
    lines = [line for line in (tmp_path / "job.log").read_text().splitlines() if line[:4].isdigit()]
    assert len(lines) == 5 and all("[train_lofo nsl-kdd/mae/dos] " in line for line in lines), lines
    assert lines[0].endswith(" INFO [train_lofo nsl-kdd/mae/dos] an info line")
    assert lines[2].endswith(" INFO [train_lofo nsl-kdd/mae/dos] tracking: a library line")
    assert "WARNING [train_lofo nsl-kdd/mae/dos] py.warnings: " in lines[3] and "a Python warning" in lines[3]
    assert "done in" in lines[-1]
    err = capfd.readouterr().err
    assert "a warning line" in err and "a Python warning" in err
    assert "an info line" not in err and "done in" not in err


def test_an_error_names_the_job_and_its_log_on_the_console(tmp_path, capfd):
    snakemake = fake_snakemake(tmp_path, dataset="nsl-kdd", model="mae")
    with pytest.raises(ValueError), smk.job(snakemake, "train"):
        raise ValueError("no attack rows")
    err = capfd.readouterr().err
    assert f"ERROR [train nsl-kdd/mae] ValueError: no attack rows (log: {snakemake.log[0]})" in err


def test_a_multi_seed_job_names_dataset_model_and_seed_without_retracing_warnings(tmp_path):
    """Five seeds' autoencoders scored in one process: each line names dataset, model and seed, and
    TensorFlow's "triggered tf.function retracing" warning (every network its own predict function,
    traced again for each new row count) is not in the log. Before the fix: 2 such warnings."""
    seeds = [0, 1, 2, 3, 4]
    tests = {"test": synthetic(96, 30), "test21": synthetic(40, 31)}  # two row counts
    views = [(synthetic(160, 10 + seed), synthetic(48, 20 + seed), tests) for seed in seeds]
    snakemake = fake_snakemake(tmp_path, dataset="nsl-kdd", model="deep_ae")
    with smk.job(snakemake, "train") as log:
        for result in run_jobs(
            "deep_ae",
            {"epochs": 1, "batch_size": 64},
            seeds=seeds,
            threads=1,
            views=views,
            log=log,
            dataset="nsl-kdd",
        ):
            keras_setup.reset_state()
            assert result.metrics["seed"] in seeds
    text = (tmp_path / "job.log").read_text()
    assert "retracing" not in text, text
    lines = text.splitlines()
    assert all("[train nsl-kdd/deep_ae] " in line for line in lines if line[:4].isdigit()), text
    for seed in seeds:
        scored = [line for line in lines if f"nsl-kdd/deep_ae/seed{seed}: deep_ae on " in line]
        assert {line.split(" on ")[1].split(":")[0] for line in scored} == {"test", "test21"}, text
        assert any(f"nsl-kdd/deep_ae/seed{seed}: deep_ae: fitted on" in line for line in lines), text


def test_predicting_with_many_models_traces_each_once_and_keeps_the_numbers(caplog):
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the retracing warning is TensorFlow's")
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(n, 5)).astype("float32") for n in (50, 17, 3, 0)]
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(6):
            keras.utils.set_random_seed(seed)
            x = keras.Input((5,))
            model = keras.Model(x, keras.layers.Dense(5)(keras.layers.Dense(3, activation="relu")(x)))
            outputs = [keras_setup.predict_in_chunks(model, X, chunk_rows=32) for X in inputs]
            assert model.predict_function.experimental_get_tracing_count() == 1
            for X, out in zip(inputs, outputs):
                assert out.shape == X.shape
                np.testing.assert_allclose(out, model(X).numpy() if len(X) else out, rtol=1e-5, atol=1e-6)
    assert "retracing" not in caplog.text


def test_stderr_without_drops_only_the_noise(capfd):
    with keras_setup.stderr_without(keras_setup.IMPORT_NOISE):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796069782.435882   17956 port.cc:153] oneDNN custom operations are on. You may\n")
        os.write(2, b"a real problem\n")
    assert capfd.readouterr().err == "a real problem\n"
    with pytest.raises(RuntimeError), keras_setup.stderr_without(keras_setup.IMPORT_NOISE):
        os.write(2, b"I0000 00:00:1.0   1 port.cc:153] oneDNN custom operations are on. x\n")
        raise RuntimeError  # an import that fails shows everything it wrote
    assert "oneDNN" in capfd.readouterr().err


def test_importing_tensorflow_after_keras_setup_writes_no_startup_notices():
    """TensorFlow 2.21 prints Abseil's "All log messages before absl::InitializeLog()" and its oneDNN
    notice on import, whatever TF_CPP_MIN_LOG_LEVEL says; a fresh process shows neither."""
    pytest.importorskip("tensorflow")
    code = "import iotad.models.keras_setup, keras, tensorflow as tf; print(tf.constant(2.0).numpy())"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | {"KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout == "2.0\n", done.stderr
    assert "absl::InitializeLog" not in done.stderr and "oneDNN" not in done.stderr, done.stderr
