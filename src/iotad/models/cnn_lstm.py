"""The seed paper's supervised hybrid CNN-LSTM: the feature vector is read as a one-channel sequence,
a 1-D convolution and max pooling extract local patterns, an LSTM summarises them, and a softmax
classifies the traffic family ("normal" = benign). For the binary benchmark the anomaly score is
1 - P(normal), so it sits beside the one-class detectors under the same metrics and threshold rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..outliers import distinct_rows
from . import keras_setup, params
from .base import Detector

NORMAL = "normal"


def build_cnn_lstm(
    n_features: int,
    n_classes: int,
    *,
    conv_filters: int = 32,
    kernel_size: int = 3,
    pool_size: int = 2,
    lstm_units: int = 32,
    dense_units: int = 64,
    dropout: float = 0.2,
    learning_rate: float = 1e-3,
    lstm_backwards: bool = True,
    unroll: bool = False,
):
    """Keras functional model: Reshape -> Conv1D -> MaxPooling1D -> LSTM -> Dense -> Dropout -> softmax.

    ``unroll``: the LSTM unrolled and 16 training steps a call (Keras' loop and one step otherwise):
    how TensorFlow runs the network, not what it computes (``CnnLstmDetector.unroll_lstm``)."""
    import keras
    from keras import layers

    # Valid padding as in the paper; a sequence too short for it (TON_IoT devices: 2-4 features) is
    # zero-padded at the edges instead, so the model still builds.
    padding = "valid" if n_features >= kernel_size + pool_size - 1 else "same"
    inputs = keras.Input(shape=(n_features,), name="features")
    x = layers.Reshape((n_features, 1), name="as_sequence")(inputs)
    x = layers.Conv1D(conv_filters, kernel_size, activation="relu", padding=padding, name="conv")(x)
    x = layers.MaxPooling1D(pool_size, padding=padding, name="pool")(x)
    x = layers.LSTM(lstm_units, go_backwards=lstm_backwards, unroll=unroll, name="lstm")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="family")(x)
    model = keras.Model(inputs, outputs, name="cnn_lstm")
    # weighted: the validation rows are distinct rows weighted by their repeats (see _distinct_weighted)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        weighted_metrics=["accuracy"],
        steps_per_execution=16 if unroll else 1,
    )
    return model


def _families(y, what: str) -> np.ndarray:
    if y is None:
        raise ValueError(f"CnnLstmDetector is supervised: {what} must be family names (target 'family')")
    y = np.asarray(y)
    if y.dtype == bool:
        raise ValueError(f"CnnLstmDetector needs family names in {what}, not boolean is_attack (target 'family')")
    return y.astype(str)


def _distinct_weighted(X: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct rows, their family codes, weights): each (row, family) once, weighted by its repeats and
    scaled to mean 1, so that Keras' validation loss is the mean over every row while the network is
    evaluated on the distinct ones only (kddcup99's validation split repeats most of its rows)."""
    unique, _, counts = distinct_rows(np.column_stack([X, codes.astype(X.dtype)]))
    return unique[:, :-1], unique[:, -1].astype(codes.dtype), counts * (len(unique) / len(X))


@dataclass(repr=False, eq=False)
class CnnLstmDetector(Detector):
    target: ClassVar[str] = "family"

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int | None = 3  # None: no early stopping
    conv_filters: int = 32
    kernel_size: int = 3
    pool_size: int = 2
    lstm_units: int = 32
    dense_units: int = 64
    dropout: float = 0.2
    # Read the sequence last feature first: the summary then sits nearest the leading numeric features
    # (forwards, the model stayed on the majority family on ton-iot-network and kddcup99).
    lstm_backwards: bool = True
    # The same arithmetic, run differently: on the CPU, TensorFlow's LSTM loop spends much of a step on
    # per-timestep control flow for this small cell. Unrolled (and several steps per call), the steady
    # epochs run faster but the first takes seconds longer to compile: it pays on long fits only.
    unroll_lstm: bool = False
    threshold_rule: str = "fixed"
    percentile: float = 99.0
    threshold_value: float | None = 0.5
    seed: int = 0
    threads: int | None = None

    _parameter_constraints: ClassVar[dict] = {
        **params.TRAINING,
        **params.COMMON,
        "dropout": [params.FRACTION],
        "lstm_backwards": ["boolean"],
        "unroll_lstm": ["boolean"],
        **{
            name: [params.POSITIVE_INT]
            for name in ("conv_filters", "kernel_size", "pool_size", "lstm_units", "dense_units")
        },
    }

    def fit(self, X, y=None, X_val=None, y_val=None):
        """Train on all rows of X with their family names y; early stopping (and a 'percentile' or
        'best_f1' threshold) use the validation split only."""
        self.check_params()
        if self.threshold_rule == "last_loss":
            raise ValueError(
                "threshold rule 'last_loss' does not apply to CnnLstmDetector: its training loss is "
                "a cross-entropy, not a score; use 'fixed', 'percentile' or 'best_f1'"
            )
        keras_setup.configure(self.seed, self.threads)
        X = self._check_input(X, reset=True)
        families = _families(y, "y")
        self.classes_ = np.unique(families)
        if NORMAL not in self.classes_:
            raise ValueError(
                f"the training families {list(self.classes_)} contain no {NORMAL!r} rows; "
                "the anomaly score 1 - P(normal) needs them"
            )
        self.normal_index_ = int(np.searchsorted(self.classes_, NORMAL))
        codes = np.searchsorted(self.classes_, families)

        validation = None
        val_attack = None
        if X_val is not None and len(X_val):
            X_val = self._check_input(X_val, reset=False)
            val_families = _families(y_val, "y_val")
            val_attack = val_families != NORMAL
            # Validation families absent from training (e.g. an unseen attack family) have no output
            # unit, so their rows cannot enter the validation loss: drop them there. They still count
            # (as attacks) for a 'percentile' or 'best_f1' threshold below.
            seen = np.isin(val_families, self.classes_)
            if seen.any():
                validation = _distinct_weighted(X_val[seen], np.searchsorted(self.classes_, val_families[seen]))

        self.model_ = build_cnn_lstm(
            X.shape[1],
            len(self.classes_),
            conv_filters=self.conv_filters,
            kernel_size=self.kernel_size,
            pool_size=self.pool_size,
            lstm_units=self.lstm_units,
            dense_units=self.dense_units,
            dropout=self.dropout,
            learning_rate=self.learning_rate,
            lstm_backwards=self.lstm_backwards,
            unroll=self.unroll_lstm,
        )
        callbacks = keras_setup.early_stopping(self.patience) if validation is not None else []
        start = time.perf_counter()
        history = self.model_.fit(
            X,
            codes,
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=True,
            verbose=0,
            validation_data=validation,
            callbacks=callbacks,
            validation_batch_size=8192,
        )
        self.fit_seconds_ = time.perf_counter() - start
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.n_params_ = int(self.model_.count_params())
        training_scores = self.decision_function(X)
        self.threshold_ = self._choose_threshold(  # a fixed threshold reads no scores: the validation rows go unscored
            training_scores,
            X_val if self.threshold_rule != "fixed" else None,
            val_attack,
            training_attack=families != NORMAL,
        )
        self._record_training_scores(training_scores)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Softmax probabilities, one column per entry of ``classes_``."""
        X = self._check_fitted_input(X)
        return keras_setup.predict_in_chunks(self.model_, X)

    def decision_function(self, X) -> np.ndarray:
        """1 - P(normal) (higher = more anomalous), computed as the sum of the attack-family
        probabilities: the same number, but without float32 cancellation for confident normals, so
        AUROC can still rank them."""
        return self.decision_function_and_families(X)[0]

    def decision_function_and_families(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``decision_function`` and ``predict_family`` from one pass of the network (the LSTM is slow)."""
        proba = self.predict_proba(X).astype("float64")
        return np.delete(proba, self.normal_index_, axis=1).sum(axis=1), self.classes_[np.argmax(proba, axis=1)]

    def predict_family(self, X) -> np.ndarray:
        """The most probable family name per record (for multi-class metrics)."""
        return self.decision_function_and_families(X)[1]
