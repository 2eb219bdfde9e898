"""The seed paper's autoencoders: 64-8-64, sigmoid output over MinMax-scaled inputs, MSE, Adam,
trained on normal rows only; the anomaly score is the per-record reconstruction MSE.

- ``denoising_ae``: dropout on the input;
- ``deep_ae``: L2 (0.01) on the first layer's weights;
- ``sparse_deep_ae``: L1 sparsity penalty on the 8-unit code;
- ``sparse_deep_denoising_ae``: input dropout and the sparse code together.

Training runs through ``stacked.train`` (every seed of a job in one compiled graph, each seed
independent of the others); ``build_autoencoder``'s Keras model holds the weights it starts from and
ends with, and is what scores, saves and loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import StrOptions

from . import keras_setup, params, stacked
from .base import Detector

VARIANTS = {
    "denoising_ae": {"input_dropout": True, "l2_first": False, "sparse_code": False},
    "deep_ae": {"input_dropout": False, "l2_first": True, "sparse_code": False},
    "sparse_deep_ae": {"input_dropout": False, "l2_first": False, "sparse_code": True},
    "sparse_deep_denoising_ae": {"input_dropout": True, "l2_first": False, "sparse_code": True},
}


def build_autoencoder(
    n_features: int,
    variant: str,
    *,
    hidden: int = 64,
    code: int = 8,
    l2: float = 0.01,
    l1_code: float = 1e-5,
    dropout: float = 0.2,
    learning_rate: float = 1e-3,
):
    """Keras functional model for one of ``VARIANTS``."""
    import keras
    from keras import layers, regularizers

    opts = VARIANTS[variant]
    inputs = keras.Input(shape=(n_features,), name="features")
    x = layers.Dropout(dropout, name="input_dropout")(inputs) if opts["input_dropout"] else inputs
    x = layers.Dense(
        hidden, activation="relu", name="encoder", kernel_regularizer=regularizers.L2(l2) if opts["l2_first"] else None
    )(x)
    x = layers.Dense(
        code,
        activation="relu",
        name="code",
        activity_regularizer=regularizers.L1(l1_code) if opts["sparse_code"] else None,
    )(x)
    x = layers.Dense(hidden, activation="relu", name="decoder")(x)
    outputs = layers.Dense(n_features, activation="sigmoid", name="reconstruction")(x)
    model = keras.Model(inputs, outputs, name=variant)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


class AutoencoderNet(stacked.Net):
    """``build_autoencoder``'s network and loss for the training engine: the reconstruction MSE, plus
    the code's L1 (Keras' activity regularizer: per row, averaged over the batch) and the first
    kernel's L2 where the variant has them; input dropout in training."""

    layers = ("encoder", "code", "decoder", "reconstruction")
    random_tags = ("input_dropout",)

    def __init__(self, model, variant: str, layer_options: dict):
        super().__init__(model)
        import inspect

        defaults = {
            name: p.default
            for name, p in inspect.signature(build_autoencoder).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        settings = {**defaults, **layer_options}  # the values build_autoencoder used
        self.options = VARIANTS[variant]
        self.dropout, self.l2, self.l1_code = settings["dropout"], settings["l2"], settings["l1_code"]

    def constants(self) -> tuple:
        return tuple(sorted(self.options.items())), self.dropout, self.l2, self.l1_code

    def row_losses(self, params, x, centre, random):
        from keras import ops

        h = x
        if self.options["input_dropout"] and random is not None and self.dropout > 0:
            keep = random.uniform(ops.shape(x), "input_dropout") >= self.dropout
            h = ops.where(keep, ops.divide(x, 1.0 - self.dropout), 0.0)
        h = self.dense(params, "encoder", h, ops.relu)
        code = self.dense(params, "code", h, ops.relu)
        h = self.dense(params, "decoder", code, ops.relu)
        reconstruction = self.dense(params, "reconstruction", h, ops.sigmoid)
        per_row = ops.mean(ops.square(ops.subtract(x, reconstruction)), axis=-1)
        if self.options["sparse_code"]:
            per_row = per_row + self.l1_code * ops.sum(ops.abs(code), axis=-1)
        return {}, per_row

    def penalty(self, params):
        from keras import ops

        return self.l2 * ops.sum(ops.square(params[0])) if self.options["l2_first"] else None


@dataclass(repr=False, eq=False)
class AutoencoderDetector(Detector):
    variant: str = "deep_ae"
    epochs: int = 50
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int | None = 5  # None: no early stopping (train every epoch, keep the last weights)
    threshold_rule: str = "percentile"
    percentile: float = 99.0
    threshold_value: float | None = None
    seed: int = 0
    threads: int | None = None
    layer_options: dict | None = None  # build_autoencoder's hidden, code, l2, l1_code, dropout (None: its defaults)
    backend: str | None = None  # the Keras backend to train on: tensorflow | jax; None: the process's ($KERAS_BACKEND)

    _parameter_constraints: ClassVar[dict] = {
        "variant": [StrOptions(set(VARIANTS))],
        **params.TRAINING,
        **params.COMMON,
        "layer_options": [dict, None],
        "backend": stacked.BACKEND_CONSTRAINT,
    }
    # build_autoencoder's keyword arguments that the config may set (learning_rate is the detector's own).
    _layer_constraints: ClassVar[dict] = {
        "hidden": [params.POSITIVE_INT],
        "code": [params.POSITIVE_INT],
        "l2": [params.NON_NEGATIVE_REAL],
        "l1_code": [params.NON_NEGATIVE_REAL],
        "dropout": [params.FRACTION],
    }

    def check_params(self) -> None:
        params.check(self)
        params.check_options(self.layer_options or {}, self._layer_constraints, f"{type(self).__name__}.layer_options")

    def fit(self, X, y=None, X_val=None, y_val=None):
        """Train on the normal rows of X (all rows when y is None); early stopping and the threshold
        use the validation split only. ``stacked.fit_together`` fits several (a job's seeds) at once,
        each with the result this gives."""
        return stacked.fit_together([self], [(X, y, X_val, y_val)])[0]

    def _training_task(self, X, y, X_val, y_val) -> stacked.Task:
        self.check_params()
        stacked.check_backend(self.backend, type(self).__name__)
        X = self._check_input(X, reset=True)
        normal = X if y is None else X[~np.asarray(y, dtype=bool)]
        val_normal = None
        if X_val is not None and len(X_val):
            X_val = self._check_input(X_val, reset=False)
            val_normal = X_val if y_val is None else X_val[~np.asarray(y_val, dtype=bool)]
        else:
            X_val = y_val = None
        if not len(normal):
            raise ValueError("no normal rows to train on: the autoencoder learns to reconstruct normal traffic")
        keras_setup.configure(self.seed, self.threads)  # the initial weights: this seed's, as in a process of its own
        self.model_ = build_autoencoder(
            X.shape[1], self.variant, learning_rate=self.learning_rate, **(self.layer_options or {})
        )
        validate = val_normal is not None and len(val_normal) > 0
        return stacked.Task(
            AutoencoderNet(self.model_, self.variant, self.layer_options or {}),
            normal,
            None,
            val_normal if validate else None,
            None,
            seed=self.seed,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            patience=self.patience if validate else None,
            context={"normal": normal, "X_val": X_val, "y_val": y_val},
        )

    def _finish_training(self, task: stacked.Task, result: stacked.Result, *_) -> None:
        task.net.set_weights(result.weights)
        self.fit_seconds_ = result.seconds  # this seed's share of the training time of the seeds trained with it
        self.history_ = result.history
        self.n_params_ = int(self.model_.count_params())
        normal = task.context["normal"]
        # The final model's plain reconstruction error on its training normals (no dropout, no
        # penalty); the history's last loss is the notebook's threshold (dropout and penalties in).
        training_scores = self._decision_function(normal)
        self.train_mse_ = float(np.mean(training_scores))
        last_loss = self.history_["loss"][-1]
        self.alternative_thresholds_ = {} if self.threshold_rule == "last_loss" else {"last_loss": last_loss}
        self.threshold_ = self._choose_threshold(
            training_scores, task.context["X_val"], task.context["y_val"], last_training_loss=last_loss
        )
        self._record_training_scores(training_scores)

    def _decision_function(self, X: np.ndarray) -> np.ndarray:
        reconstruction = keras_setup.predict_in_chunks(self.model_, X)
        return np.mean(np.square(X - reconstruction), axis=1, dtype="float64")

    def decision_function(self, X) -> np.ndarray:
        """Per-record reconstruction MSE (higher = more anomalous)."""
        return self._decision_function(self._check_fitted_input(X))
