"""The one place that picks the Keras backend, seeds Keras and sets its thread pools.

The backend (TensorFlow, the default, or JAX) is fixed when Keras is first imported: ``KERAS_BACKEND``
then, or ``select_backend`` before any Keras import (the training job calls it with the model's
``backend`` hyperparameter)."""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "3"
)  # TF C++ logs (start-up chatter, harmless graph warnings) stay out of job logs

log = logging.getLogger(__name__)


def select_backend(backend: str | None, threads: int | None = None) -> str:
    """Set the Keras backend (None: keep $KERAS_BACKEND, default tensorflow) before Keras is imported,
    and, for JAX on one thread, XLA's CPU flags (JAX reads them once, when it starts). Returns the
    backend; raises if Keras already runs on another one in this process."""
    if "keras" in sys.modules:
        running = sys.modules["keras"].backend.backend()
        if backend is not None and backend != running:
            raise RuntimeError(f"Keras already runs on {running!r} in this process; cannot switch to {backend!r}")
        return running
    if backend is not None:
        os.environ["KERAS_BACKEND"] = backend
    if os.environ["KERAS_BACKEND"] == "jax" and threads == 1 and "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
            )
    return os.environ["KERAS_BACKEND"]


def configure(seed: int, threads: int | None = None) -> None:
    """Seed Python, NumPy and the backend, make ops deterministic, and size TF's thread pools to the
    rule's ``threads`` so parallel jobs do not oversubscribe the cores (JAX: see ``select_backend``)."""
    import keras

    tf = None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:  # TF already running in this process: its pools are fixed
                log.debug("TensorFlow thread pools already initialised; keeping them")
    keras.utils.set_random_seed(seed)
    if tf is not None:
        tf.config.experimental.enable_op_determinism()


def early_stopping(patience: int | None) -> list:  # the CNN-LSTM's (Keras fit); the engine has its own
    """The EarlyStopping callback (best validation weights restored), or none when ``patience`` is None:
    the papers' fixed epoch budgets keep the last epoch's weights, so no checkpoint is chosen on
    validation data. A large patience is not the same: Keras would still restore the best epoch."""
    if patience is None:
        return []
    import keras

    return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]


def predict_in_chunks(model, X, chunk_rows: int = 32768):
    """``model`` applied to ``X`` in large chunks through ``predict_on_batch``: ``model.predict``'s
    data pipeline costs more than these small networks (measured on 125,973 x 122 rows, deep_ae:
    predict(batch 8192) 158,000 rows/s, chunks of 32,768 with the MSE 736,000 rows/s)."""
    import numpy as np

    X = np.asarray(X, dtype="float32")
    if not len(X):
        return model.predict_on_batch(X[:1])[:0]
    return np.concatenate([model.predict_on_batch(X[i : i + chunk_rows]) for i in range(0, len(X), chunk_rows)])


def reset_state() -> None:
    """Forget the Keras models and state of this process's earlier work (no-op without Keras), so
    one job can train seed after seed with each result what a fresh process would give."""
    import gc
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    gc.collect()
