"""The training engine (iotad.models.stacked) on a real NSL-KDD slice: a seed's result does not depend
on the seeds training beside it (bit-identical), the engine's loss and update are Keras' for the same
network, every model's scores repeat for the same config and seed, and the JAX backend (in a fresh
process) does the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from iotad.models import build_detectors, stacked

pytestmark = pytest.mark.realdata

AUTOENCODERS = ["denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae"]
REPRESENTATIONS = ["ae", "dae", "vae", "mae", "mdae", "mvae"]


def network(model: str, seed: int, **params):
    """The part of a config model's detector that the engine trains (an autoencoder, an encoder)."""
    detector = next(iter(build_detectors(model, params, seed=seed, threads=2).values()))
    return stacked.trainable_part(detector)


def seed_rows(data, seed: int):
    """Each seed its own training rows (a seeded sample whose size depends on the seed: the seeds'
    epochs have different step counts) and the common validation rows."""
    (X, y), (Xv, yv), _ = data
    keep = np.random.default_rng(seed).permutation(len(X))[: 2500 + 137 * seed]
    return X[keep], y[keep], Xv, yv


def codes_or_scores(part, X):
    return part.transform(X) if hasattr(part, "transform") else part.decision_function(X)


def rising_val(data, seed: int):
    """``seed_rows`` with validation rows unlike the training rows (mirrored features): their loss
    soon climbs, so early stopping fires after a few epochs."""
    X, y, Xv, yv = seed_rows(data, seed)
    return X, y, 1.0 - Xv[:1500], yv[:1500]


# Seeds 0 and 3 see rising validation losses and stop early (seed 0 mostly first, patience 0), the
# others mostly train on (patience 1): seed 3 trains beside seeds that stop and seeds that go on
# (measured, epochs of seeds 0-4: denoising_ae 2, 7, 7, 3, 7; deep_ae 4, 7, 7, 4, 7).
PATIENCE = {0: 0, 1: 1, 2: 1, 3: 2, 4: 1}


@pytest.mark.parametrize("model", ["denoising_ae", "deep_ae", "sparse_deep_denoising_ae", "vae", "mdae", "mvae"])
def test_a_seed_trains_alike_alone_and_beside_four_other_seeds(nsl_slice, model):
    """Seeds [3] and [0..4], each seed on its own rows (of different counts) with its own patience:
    seed 3's weights, history and scores are bit-identical, and so its random streams (dropout, input
    noise, sampling), shuffling, early stopping and restored weights."""
    Xt = nsl_slice[2][0]

    def part(seed):
        return network(model, seed, epochs=7, batch_size=100, patience=PATIENCE[seed])

    def rows(seed):
        return (rising_val if seed in (0, 3) else seed_rows)(nsl_slice, seed)

    group = [part(seed) for seed in range(5)]
    stacked.fit_together(group, [rows(seed) for seed in range(5)])
    alone = part(3)
    stacked.fit_together([alone], [rows(3)])
    assert alone.history_ == group[3].history_
    for mine, theirs in zip(alone.model_.get_weights(), group[3].model_.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(codes_or_scores(alone, Xt), codes_or_scores(group[3], Xt))
    epochs = [len(p.history_["loss"]) for p in group]
    print(f"{model}: epochs per seed {epochs}")
    assert min(epochs) < 7 == max(epochs)  # the setting this test needs: seeds stop at different epochs
    assert not np.array_equal(codes_or_scores(group[2], Xt), codes_or_scores(group[3], Xt))


def keras_targets(part, X, y):
    if hasattr(part, "_centres"):
        centre = part._centres(y)
        return {"reconstruction": X, "latent": np.repeat(centre[:, None], part.code, axis=1)}
    return X


@pytest.mark.parametrize("model", AUTOENCODERS + REPRESENTATIONS)
def test_the_validation_loss_is_kerass_loss_of_the_trained_network(nsl_slice, model):
    """patience None keeps the last epoch's weights: Keras' evaluate of the fitted network on the
    validation rows gives the history's last validation loss and per-output losses (regularizers in).
    One batch: Keras averages its per-output losses over batches unweighted (its total loss weights
    them by rows), which the engine does not copy: its components are means over the rows."""
    X, y, Xv, yv = seed_rows(nsl_slice, 0)
    part = network(model, 0, epochs=2, batch_size=256, patience=None)
    stacked.fit_together([part], [(X, y, Xv, yv)])
    if model in AUTOENCODERS:
        Xv = Xv[~yv]
    keras_values = part.model_.evaluate(
        Xv, keras_targets(part, Xv, yv), batch_size=len(Xv), verbose=0, return_dict=True
    )
    for key, value in part.history_.items():
        if key.startswith("val_"):
            assert keras_values[key[4:]] == pytest.approx(value[-1], rel=2e-5), key


@pytest.mark.parametrize("model", ["deep_ae", "sparse_deep_ae", "ae", "mae"])
def test_one_epoch_is_kerass_adam_steps_on_the_same_batches(nsl_slice, model):
    """A network without randomness in training: one epoch of the engine (2,230 rows at batch 1,000:
    two full batches and a partial one) against Keras' train_on_batch on the same batches in the same
    order from the same initial weights. Same weights (float32 rounding apart) and the same epoch loss
    (Keras' mean of the batch losses weighted by their rows)."""
    X, y, _, _ = seed_rows(nsl_slice, 1)
    X, y = X[:2230], y[:2230]
    part = network(model, 1, epochs=1, batch_size=1000, patience=None)
    keras_twin = network(model, 1, epochs=1, batch_size=1000, patience=None)
    stacked.fit_together([part], [(X, y, None, None)])
    keras_twin._training_task(X, y, None, None)  # builds the same initial network (seed 1)
    rows = X if model in REPRESENTATIONS else X[~y]
    order = stacked.shuffler(1).permutation(len(rows))
    targets = keras_targets(keras_twin, X, y) if model in REPRESENTATIONS else rows
    losses, sizes = [], []
    for start in range(0, len(rows), 1000):
        batch = order[start : start + 1000]
        target = {k: v[batch] for k, v in targets.items()} if isinstance(targets, dict) else targets[batch]
        losses.append(keras_twin.model_.train_on_batch(rows[batch], target, return_dict=True)["loss"])
        sizes.append(len(batch))
    assert sizes[-1] < 1000
    for mine, keras_weights in zip(part.model_.get_weights(), keras_twin.model_.get_weights()):
        np.testing.assert_allclose(mine, keras_weights, rtol=1e-4, atol=1e-6)
    assert part.history_["loss"][0] == pytest.approx(np.average(losses, weights=sizes), rel=1e-5)


def test_the_backend_hyperparameter_is_checked_and_must_be_the_processes(nsl_slice):
    from iotad.models import check_model_params

    check_model_params(["deep_ae", "mae"], {"deep_ae": {"backend": "jax"}, "mae": {"backend": "tensorflow"}})
    with pytest.raises(ValueError, match="'backend' parameter of AutoencoderDetector must be a str among"):
        check_model_params(["deep_ae"], {"deep_ae": {"backend": "torch"}})
    import keras

    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    X, y, Xv, yv = seed_rows(nsl_slice, 0)
    with pytest.raises(ValueError, match=f"asks for the '{other}' Keras backend.*KERAS_BACKEND={other}"):
        network("deep_ae", 0, epochs=1, backend=other).fit(X, y, Xv, yv)


def test_group_keys_keep_different_networks_apart(nsl_slice):
    """Seeds of two widths (or batch sizes) in one call train in two graphs, each as it would alone."""
    X, y, Xv, yv = seed_rows(nsl_slice, 0)
    wide = network("deep_ae", 0, epochs=2, layer_options={"hidden": 32})
    narrow = network("deep_ae", 0, epochs=2)
    stacked.fit_together([wide, narrow], [(X, y, Xv, yv)] * 2)
    again = network("deep_ae", 0, epochs=2, layer_options={"hidden": 32}).fit(X, y, Xv, yv)
    assert wide.model_.get_layer("encoder").kernel.shape[1] == 32 and wide.history_ == again.history_


# Every model of the registry: the same config and seed give the same scores, another seed others.
EVERY_MODEL = [
    *((m, {"epochs": 2}) for m in AUTOENCODERS),
    *((m, {"epochs": 2, "classifiers": ["perceptron", "logistic_regression"]}) for m in REPRESENTATIONS),
    ("raw", {"classifiers": ["perceptron", "linear_svc"]}),
    ("cnn_lstm", {"epochs": 1}),
    ("pca", {}),
    ("isolation_forest", {"n_estimators": 20}),
    ("ocsvm", {"max_normal_rows": 1500}),
]


@pytest.fixture(scope="module")
def matrices(nsl_frames):
    from iotad.runs import Matrix

    transform, frames = nsl_frames
    ids = ["part", "record_id", "label", "family", "is_attack"]
    return [Matrix(transform.transform(f)[0], f.assign(part="train20")[ids].reset_index(drop=True)) for f in frames]


@pytest.mark.parametrize(("model", "params"), EVERY_MODEL, ids=[m for m, _ in EVERY_MODEL])
def test_every_models_scores_repeat_for_the_same_config_and_seed(matrices, model, params):
    from iotad.runs import run_job

    train, val, test = matrices
    params = {**params, "max_train_rows": 3000}
    first, again, other = (
        run_job(model, params, seed=seed, threads=2, train=train, val=val, tests={"test": test}) for seed in (1, 1, 2)
    )
    pd.testing.assert_frame_equal(first.scores, again.scores, check_exact=True)
    if model != "raw":  # the raw features' classifiers are deterministic bar the perceptron's shuffling
        assert not np.array_equal(first.scores["score"], other.scores["score"])


def without_times(document):
    if isinstance(document, dict):
        return {
            k: without_times(v)
            for k, v in document.items()
            if k not in ("fit_seconds", "predict_seconds", "records_per_second")
        }
    if isinstance(document, list):
        return [without_times(v) for v in document]
    return document


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("sparse_deep_denoising_ae", {"epochs": 3, "patience": 1, "max_train_rows": 3000}),
        ("mvae", {"epochs": 2, "max_train_rows": 3000, "classifiers": ["nearest_centroid"]}),
    ],
)
def test_a_job_of_five_seeds_gives_seed_3_what_a_job_of_seed_3_gives(matrices, model, params):
    """run_jobs trains the seeds' networks together, each seed on its own view (here: the same
    matrices, and a view with half the training rows for seeds 0 and 4)."""
    from iotad.runs import run_job, run_jobs

    train, val, test = matrices
    half = train.take(np.arange(len(train.rows) // 2))
    views = [(half if seed in (0, 4) else train, val, {"test": test}) for seed in range(5)]
    results = list(run_jobs(model, params, seeds=list(range(5)), threads=2, views=views))
    alone = run_job(model, params, seed=3, threads=2, train=train, val=val, tests={"test": test})
    assert without_times(results[3].metrics) == without_times(alone.metrics)
    pd.testing.assert_frame_equal(results[3].scores, alone.scores, check_exact=True)
    assert results[3].histories == alone.histories
    assert [r.metrics["seed"] for r in results] == list(range(5))


JAX_CHECK = """
import json, sys
import numpy as np
import keras
from iotad.models import build_detectors, load_detectors, save_detectors, stacked
from tests.unit.test_stacked import seed_rows
data = [tuple(np.load(sys.argv[1])[k] for k in pair) for pair in (("X", "y"), ("Xv", "yv"), ("Xt", "yt"))]
out = {"backend": keras.backend.backend()}
for model in ("denoising_ae", "mdae"):
    def part(seed):
        return stacked.trainable_part(next(iter(build_detectors(model, {"epochs": 4, "batch_size": 100, "patience": 1},
                                                                 seed=seed, threads=2).values())))
    group = [part(seed) for seed in range(5)]
    stacked.fit_together(group, [seed_rows(data, seed) for seed in range(5)])
    alone = part(3)
    stacked.fit_together([alone], [seed_rows(data, 3)])
    score = (lambda p, X: p.transform(X)) if model == "mdae" else (lambda p, X: p.decision_function(X))
    Xt = data[2][0]
    out[model] = {"identical": bool(np.array_equal(score(alone, Xt), score(group[3], Xt)) and alone.history_ == group[3].history_),
                  "other_seed_differs": not np.array_equal(score(group[2], Xt), score(group[3], Xt)),
                  "val_loss": alone.history_["val_loss"]}
detectors = build_detectors("deep_ae", {"epochs": 2}, seed=0, threads=2)
detectors["deep_ae"].fit(data[0][0], data[0][1], data[1][0], data[1][1])
save_detectors(detectors, sys.argv[2])
back = load_detectors(sys.argv[2])
out["reloaded_scores_equal"] = bool(np.array_equal(back["deep_ae"].decision_function(data[2][0]), detectors["deep_ae"].decision_function(data[2][0])))
print(json.dumps(out))
"""


def test_the_jax_backend_in_a_fresh_process(nsl_slice, tmp_path, repo):
    """KERAS_BACKEND=jax: seed 3 alone and beside four others bit-identical, another seed different,
    a saved autoencoder reloads with the same scores; the validation losses come out near
    TensorFlow's for the same settings (another backend: other initial weights and random streams)."""
    (X, y), (Xv, yv), (Xt, yt) = nsl_slice
    np.savez(tmp_path / "data.npz", X=X, y=y, Xv=Xv, yv=yv, Xt=Xt, yt=yt)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [sys.executable, "-c", JAX_CHECK, str(tmp_path / "data.npz"), str(tmp_path / "model")],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax" and out["reloaded_scores_equal"]
    for model in ("denoising_ae", "mdae"):
        assert out[model]["identical"] and out[model]["other_seed_differs"], model
        tf_part = network(model, 3, epochs=4, batch_size=100, patience=1)
        stacked.fit_together([tf_part], [seed_rows(nsl_slice, 3)])
        jax_best, tf_best = min(out[model]["val_loss"]), min(tf_part.history_["val_loss"])
        print(f"{model}: best val_loss jax {jax_best:.5f}, tensorflow {tf_best:.5f}")
        assert jax_best == pytest.approx(tf_best, rel=0.25)


class FixedRandom:
    """Stands in for a seed's random streams: given draws, so a training-mode loss can be recomputed
    through the Keras model on the perturbed input."""

    def __init__(self, uniform=None, normal=None):
        self.draws = {"uniform": uniform, "normal": normal}

    def uniform(self, shape, tag):
        return self.draws["uniform"]

    def normal(self, shape, tag):
        return self.draws["normal"]


@pytest.mark.parametrize("model", ["denoising_ae", "dae"])
def test_training_mode_perturbs_the_input_as_kerass_layers_do(nsl_slice, model):
    """Input dropout (keep where the draw is >= the rate, scale the kept by 1 / (1 - rate)) and clipped
    Gaussian input noise: the engine's training loss with given draws is the Keras network's loss on
    the input perturbed by hand with the same draws."""
    from keras import ops

    X, y, Xv, yv = seed_rows(nsl_slice, 0)
    X, y = X[:300], y[:300]
    part = network(model, 0, epochs=1)
    task = part._training_task(X, y, Xv, yv)
    rng = np.random.default_rng(0)
    u, n = rng.random(X.shape, dtype="float32"), rng.standard_normal(X.shape, dtype="float32")
    params = [ops.convert_to_tensor(w) for w in task.net.initial_weights()]
    centre = np.zeros(len(X), "float32") if task.centre is None else task.centre
    terms, per_row = task.net.row_losses(
        params, ops.convert_to_tensor(X), ops.convert_to_tensor(centre), FixedRandom(u, n)
    )
    if model == "denoising_ae":
        perturbed = np.where(u >= 0.2, X / 0.8, 0.0).astype("float32")
        expected = np.mean((part.model_.predict_on_batch(perturbed) - X) ** 2, axis=1)
        np.testing.assert_allclose(np.asarray(per_row), expected, rtol=1e-5, atol=1e-7)
    else:
        perturbed = np.clip(X + n * part.noise_sigma, 0, 1)
        reconstruction = part.model_.predict_on_batch(perturbed)["reconstruction"]
        np.testing.assert_allclose(
            np.asarray(terms["reconstruction_loss"]), np.mean((reconstruction - X) ** 2, axis=1), rtol=1e-5, atol=1e-7
        )
