"""The seed paper's autoencoders: 64-8-64, sigmoid output over MinMax-scaled inputs, MSE, Adam,
trained on normal rows only; the anomaly score is the per-record reconstruction MSE.

- ``denoising_ae``: dropout on the input;
- ``deep_ae``: L2 (0.01) on the first layer's weights;
- ``sparse_deep_ae``: L1 sparsity penalty on the 8-unit code;
- ``sparse_deep_denoising_ae``: input dropout and the sparse code together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ..thresholds import choose_threshold, predict
from . import keras_setup, params

VARIANTS = {
    "denoising_ae": {"input_dropout": True, "l2_first": False, "sparse_code": False},
    "deep_ae": {"input_dropout": False, "l2_first": True, "sparse_code": False},
    "sparse_deep_ae": {"input_dropout": False, "l2_first": False, "sparse_code": True},
    "sparse_deep_denoising_ae": {"input_dropout": True, "l2_first": False, "sparse_code": True},
}


def build_autoencoder(n_features: int, variant: str, *, hidden: int = 64, code: int = 8, l2: float = 0.01,
                      l1_code: float = 1e-5, dropout: float = 0.2, learning_rate: float = 1e-3):
    """Keras functional model for one of ``VARIANTS``."""
    import keras
    from keras import layers, regularizers

    opts = VARIANTS[variant]
    inputs = keras.Input(shape=(n_features,), name="features")
    x = layers.Dropout(dropout, name="input_dropout")(inputs) if opts["input_dropout"] else inputs
    x = layers.Dense(hidden, activation="relu", name="encoder",
                     kernel_regularizer=regularizers.L2(l2) if opts["l2_first"] else None)(x)
    x = layers.Dense(code, activation="relu", name="code",
                     activity_regularizer=regularizers.L1(l1_code) if opts["sparse_code"] else None)(x)
    x = layers.Dense(hidden, activation="relu", name="decoder")(x)
    outputs = layers.Dense(n_features, activation="sigmoid", name="reconstruction")(x)
    model = keras.Model(inputs, outputs, name=variant)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


@dataclass
class AutoencoderDetector:
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
    layer_options: dict = field(default_factory=dict)

    _parameter_constraints: ClassVar[dict] = {
        "variant": [StrOptions(set(VARIANTS))], **params.TRAINING, **params.COMMON, "layer_options": [dict],
    }
    # build_autoencoder's keyword arguments that the config may set (learning_rate is the detector's own).
    _layer_constraints: ClassVar[dict] = {
        "hidden": [params.POSITIVE_INT], "code": [params.POSITIVE_INT], "l2": [params.NON_NEGATIVE_REAL],
        "l1_code": [params.NON_NEGATIVE_REAL], "dropout": [params.FRACTION],
    }

    def __post_init__(self):
        params.check(self)
        params.check_options(self.layer_options, self._layer_constraints, f"{type(self).__name__}.layer_options")

    def fit(self, X, y=None, X_val=None, y_val=None):
        """Train on the normal rows of X (all rows when y is None); early stopping and the threshold
        use the validation split only."""
        keras_setup.configure(self.seed, self.threads)
        X = np.asarray(X, dtype="float32")
        normal = X if y is None else X[~np.asarray(y, dtype=bool)]
        val_normal = None
        if X_val is not None:
            X_val = np.asarray(X_val, dtype="float32")
            val_attack = np.zeros(len(X_val), bool) if y_val is None else np.asarray(y_val, dtype=bool)
            val_normal = X_val[~val_attack]
        if not len(normal):
            raise ValueError("no normal rows to train on: the autoencoder learns to reconstruct normal traffic")
        self.model_ = build_autoencoder(X.shape[1], self.variant, learning_rate=self.learning_rate, **self.layer_options)
        validate = val_normal is not None and len(val_normal) > 0
        start = time.perf_counter()
        history = self.model_.fit(
            normal, normal, epochs=self.epochs, batch_size=self.batch_size, shuffle=True, verbose=0,
            validation_data=(val_normal, val_normal) if validate else None,
            callbacks=keras_setup.early_stopping(self.patience) if validate else [],
            validation_batch_size=8192,  # forward passes only: large batches (same mean loss), fewer steps
        )
        self.fit_seconds_ = time.perf_counter() - start
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.n_params_ = int(self.model_.count_params())
        # The final model's plain reconstruction error on its training normals (no dropout, no
        # penalty); the history's last loss is the notebook's threshold (dropout and penalties in).
        self.train_mse_ = float(np.mean(self.score_samples(normal)))
        last_loss = self.history_["loss"][-1]
        self.alternative_thresholds_ = {} if self.threshold_rule == "last_loss" else {"last_loss": last_loss}
        self.threshold_ = choose_threshold(
            self.threshold_rule,
            val_scores=self.score_samples(X_val) if X_val is not None else None,
            val_is_attack=val_attack if X_val is not None else None,
            percentile=self.percentile, value=self.threshold_value,
            last_training_loss=last_loss,
        )
        return self

    def score_samples(self, X) -> np.ndarray:
        """Per-record reconstruction MSE (higher = more anomalous)."""
        X = np.asarray(X, dtype="float32")
        reconstruction = keras_setup.predict_in_chunks(self.model_, X)
        return np.mean(np.square(X - reconstruction), axis=1, dtype="float64")

    decision_function = score_samples

    def predict(self, X) -> np.ndarray:
        return predict(self.score_samples(X), self.threshold_).astype(int)
