"""Custom Keras layers and losses of the latent models, registered (package "iotad") so a saved
``.keras`` model loads with ``keras.saving.load_model(path, safe_mode=True)`` once this module is
imported. Imported lazily: it pulls in TensorFlow."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="iotad")
class ClippedGaussianNoise(layers.Layer):
    """Gaussian noise clipped to [0, 1], active only in training (the inputs are MinMax-scaled)."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev, self.seed = stddev, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noise = keras.random.normal(ops.shape(inputs), stddev=self.stddev, seed=self.seed_generator)
        return ops.clip(inputs + noise, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="iotad")
class GaussianSample(layers.Layer):
    """z = mean + exp(log_var / 2) * eps (the reparameterisation trick) in training; the mean otherwise."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        mean, log_var = inputs
        if not training:
            return mean
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="iotad")
def squared_distance_to_centre(centre, code):
    """Mean squared distance of the code to its class centre (MAE/MDAE's latent term)."""
    return ops.mean(ops.square(code - centre), axis=-1)


@keras.saving.register_keras_serializable(package="iotad")
def kl_to_centre(centre, mean_and_log_var):
    """KL(N(mean, exp(log_var)) || N(centre, I)), summed over the latent dimensions (VAE/MVAE)."""
    mean, log_var = ops.split(mean_and_log_var, 2, axis=-1)
    return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean - centre) - 1.0 - log_var, axis=-1)
