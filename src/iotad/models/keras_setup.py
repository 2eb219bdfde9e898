"""The one place that seeds Keras/TensorFlow and sets its thread pools."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of logs

log = logging.getLogger(__name__)


def configure(seed: int, threads: int | None = None) -> None:
    """Seed Python, NumPy and TensorFlow, make ops deterministic, and size TF's thread pools to the
    rule's ``threads`` so parallel jobs do not oversubscribe the cores."""
    import keras
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TF already running in this process: its pools are fixed
            log.debug("TensorFlow thread pools already initialised; keeping them")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
