"""The one place that picks the Keras backend, seeds Keras and sets its thread pools.

The backend (TensorFlow, the default, or JAX) is fixed when Keras is first imported: ``KERAS_BACKEND``
then, or ``select_backend`` before any Keras import (the training job calls it with the model's
``backend`` hyperparameter)."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "3"
)  # TF C++ logs (start-up chatter, harmless graph warnings) stay out of job logs

log = logging.getLogger(__name__)


class _StackedTrainerCompiles(logging.Filter):
    """The stacked trainer compiles one epoch function per group of seeds, by design (each group its
    own shapes): a process that trains several groups (a job whose seeds' splits differ in width, a
    test session) draws TensorFlow's "frequent retracing" warning about them, which says nothing wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and ("epoch_fn" in message or "val_fn" in message))


logging.getLogger("tensorflow").addFilter(_StackedTrainerCompiles())

# What TensorFlow (2.21) writes to the process's stderr while it is imported, whatever
# TF_CPP_MIN_LOG_LEVEL says: two of its libraries log through Abseil before anything initialises
# Abseil's logging, so each prints Abseil's notice and then TensorFlow's oneDNN notice.
IMPORT_NOISE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR\r?\n?$"
    rb"|[IW]\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\."
)


@contextmanager
def stderr_without(noise: re.Pattern):
    """Hold back what is written to file descriptor 2 (C libraries included) while the block runs, then
    write it out without the lines that ``noise`` matches (all of it where the block raises)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().splitlines(keepends=True)
            kept = lines if failed else [line for line in lines if not noise.match(line)]
            if kept:
                os.write(2, b"".join(kept))


class _QuietTensorFlowImport:
    """A meta-path finder: the first ``import tensorflow`` of the process (wherever it happens: Keras,
    a model module) runs with ``IMPORT_NOISE`` held out of stderr, so that job logs and the console
    show none of it. Costs nothing where TensorFlow is never imported."""

    def __init__(self):
        self._finding = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader:
    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # the module keeps its own loader: this wrapper is only there for the import
        module.__loader__ = module.__spec__.loader = self.loader
        with stderr_without(IMPORT_NOISE):
            self.loader.exec_module(module)


if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowImport())


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
    _trace_for_any_rows(model, X.shape[1:])
    if not len(X):
        return model.predict_on_batch(X[:1])[:0]
    return np.concatenate([model.predict_on_batch(X[i : i + chunk_rows]) for i in range(0, len(X), chunk_rows)])


def _trace_for_any_rows(model, row_shape) -> None:
    """Trace the model's TensorFlow predict function once, for any number of rows, before its first
    call. Otherwise it traces on its first call and again on the first other row count (a second
    split, a last chunk), and as every seed's and detector's network is a model of its own whose
    predict function is the same Python code, a job scoring five of them tripped TensorFlow's
    frequent-retracing warning ("5 out of the last 5 calls to <function TensorFlowTrainer.
    make_predict_function...> triggered tf.function retracing"). One trace per model, counted by no
    such warning (a concrete function is requested, not called), and the same numbers."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    model.make_predict_function()
    function = model.predict_function
    if not hasattr(function, "get_concrete_function") or function.experimental_get_tracing_count():
        return  # run eagerly, or traced already
    import tensorflow as tf

    function.get_concrete_function([(tf.TensorSpec((None, *row_shape), tf.float32),)])


def reset_state() -> None:
    """Forget the Keras models and state of this process's earlier work (no-op without Keras), so
    one job can train seed after seed with each result what a fresh process would give."""
    import gc
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    gc.collect()
