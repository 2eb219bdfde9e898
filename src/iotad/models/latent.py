"""Vu et al.'s latent representations and the simple classifiers that read them.

An encoder (85-30-15 by default, ReLU, linear code) and a mirrored decoder with a sigmoid output are
trained on all training rows. The loss is the reconstruction MSE plus, weighted, a latent term:

- ``ae``: none; ``dae``: the same with Gaussian input noise (clipped to [0, 1]) while training;
- ``vae``: KL(q(z|x) || N(0, I));
- ``mae`` / ``mdae``: the squared distance of the code to its class centre (normal 2, attack 3 in
  every dimension), ``mdae`` with input noise;
- ``mvae``: KL(q(z|x) || N(c_y, I)) with class centres 2 / 4, weight 1000.

The variational models' reconstruction term is the squared error summed over the features (the
ELBO's Gaussian likelihood up to constants), the others' the mean: with the mean, a unit-weight KL
collapsed the plain VAE's codes onto the prior (AUROC 0.51 on an NSL-KDD slice, against 0.96 summed).

The codes (the mean for the variational models), MinMax-scaled with the training codes' range, feed
LinearSVC, Perceptron, NearestCentroid and LogisticRegression; ``raw`` skips the encoder so the same
classifiers run on the features themselves. Every classifier's anomaly score is its decision function
(positive = attack), so its threshold is 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Perceptron
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import keras_setup, params, stacked
from .base import Detector

# representation -> (input noise, variational, class centres (normal, attack) or None, latent-term weight)
REPRESENTATIONS = {
    "raw": None,
    "ae": (False, False, None, 0.0),
    "dae": (True, False, None, 0.0),
    "vae": (False, True, (0.0, 0.0), 1.0),
    "mae": (False, False, (2.0, 3.0), 1.0),
    "mdae": (True, False, (2.0, 3.0), 1.0),
    "mvae": (False, True, (2.0, 4.0), 1000.0),
}

CLASSIFIERS = {
    "linear_svc": lambda seed: LinearSVC(random_state=seed),
    "perceptron": lambda seed: Perceptron(random_state=seed),
    "nearest_centroid": lambda seed: NearestCentroid(),
    "logistic_regression": lambda seed: LogisticRegression(max_iter=1000, random_state=seed),
}


def build_latent_model(
    n_features: int,
    representation: str,
    *,
    hidden=(85, 30),
    code: int = 15,
    noise_sigma: float = 0.0025,
    latent_weight: float | None = None,
    reconstruction_weight: float | None = None,
    learning_rate: float = 1e-3,
    seed: int = 0,
):
    """(training model, encoder). The training model maps x to [reconstruction, latent term input];
    the encoder maps x to the code (the mean for variational models)."""
    import keras
    from keras import layers

    noisy, variational, centres, default_weight = REPRESENTATIONS[representation]
    from .keras_parts import ClippedGaussianNoise, GaussianSample, kl_to_centre, squared_distance_to_centre

    inputs = keras.Input(shape=(n_features,), name="features")
    x = ClippedGaussianNoise(noise_sigma, seed=seed, name="input_noise")(inputs) if noisy else inputs
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"encoder_{i}")(x)
    if variational:
        mean = layers.Dense(code, name="code_mean")(x)
        log_var = layers.Dense(code, name="code_log_var")(x)
        z = GaussianSample(seed=seed, name="code_sample")([mean, log_var])
        latent = layers.Concatenate(name="latent")([mean, log_var])
    else:
        mean = z = latent = layers.Dense(code, name="code")(x)
    x = z
    for i, units in enumerate(reversed(hidden)):
        x = layers.Dense(units, activation="relu", name=f"decoder_{i}")(x)
    reconstruction = layers.Dense(n_features, activation="sigmoid", name="reconstruction")(x)
    model = keras.Model(inputs, {"reconstruction": reconstruction, "latent": latent}, name=representation)
    latent_loss = kl_to_centre if variational else squared_distance_to_centre
    weights = loss_weights(n_features, representation, latent_weight, reconstruction_weight)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"reconstruction": "mse", "latent": latent_loss},
        loss_weights={"reconstruction": weights[0], "latent": weights[1]},
    )
    return model, keras.Model(inputs, mean, name=f"{representation}_encoder")


def loss_weights(
    n_features: int, representation: str, latent_weight: float | None = None, reconstruction_weight: float | None = None
) -> tuple[float, float]:
    """(reconstruction, latent) weights of the training loss (``build_latent_model``'s)."""
    _, variational, centres, default_weight = REPRESENTATIONS[representation]
    weight = default_weight if latent_weight is None else latent_weight
    return (reconstruction_weight or (n_features if variational else 1.0)), (weight if centres is not None else 0.0)


class LatentNet(stacked.Net):
    """``build_latent_model``'s network and loss for the training engine: the weighted reconstruction
    MSE and latent term (KL to the class centre, or the squared distance to it), each also logged
    without its weight, as Keras logs its outputs' losses (as means over the epoch's rows: Keras' fit
    averages these two over batches, the last partial batch weighing as much as a full one); input
    noise (clipped to [0, 1]) and the variational sample in training, the code's mean otherwise."""

    components = ("latent_loss", "reconstruction_loss")
    random_tags = ("input_noise", "code_sample")

    def __init__(self, model, representation: str, *, hidden, noise_sigma: float, weights: tuple[float, float]):
        super().__init__(model)
        self.noisy, self.variational, _, _ = REPRESENTATIONS[representation]
        self.hidden, self.noise_sigma, self.weights = tuple(hidden), noise_sigma, weights
        code = ("code_mean", "code_log_var") if self.variational else ("code",)
        self.layers = (
            *(f"encoder_{i}" for i in range(len(hidden))),
            *code,
            *(f"decoder_{i}" for i in range(len(hidden))),
            "reconstruction",
        )

    def constants(self) -> tuple:
        return self.noisy, self.variational, self.hidden, self.noise_sigma, self.weights

    def row_losses(self, params, x, centre, random):
        from keras import ops

        h = x
        if self.noisy and random is not None:
            h = ops.clip(ops.add(x, random.normal(ops.shape(x), "input_noise") * self.noise_sigma), 0.0, 1.0)
        for i in range(len(self.hidden)):
            h = self.dense(params, f"encoder_{i}", h, ops.relu)
        centre = ops.expand_dims(centre, -1)
        if self.variational:
            mean, log_var = self.dense(params, "code_mean", h), self.dense(params, "code_log_var", h)
            z = (
                mean
                if random is None
                else ops.add(mean, ops.exp(0.5 * log_var) * random.normal(ops.shape(mean), "code_sample"))
            )
            latent = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean - centre) - 1.0 - log_var, axis=-1)
        else:
            mean = z = self.dense(params, "code", h)
            latent = ops.mean(ops.square(mean - centre), axis=-1)
        h = z
        for i in range(len(self.hidden)):
            h = self.dense(params, f"decoder_{i}", h, ops.relu)
        reconstruction = self.dense(params, "reconstruction", h, ops.sigmoid)
        rebuilt = ops.mean(ops.square(ops.subtract(x, reconstruction)), axis=-1)
        per_row = self.weights[0] * rebuilt + self.weights[1] * latent
        return {"latent_loss": latent, "reconstruction_loss": rebuilt}, per_row


@dataclass(repr=False, eq=False)
class LatentEncoder(BaseEstimator):
    """Learns one of ``REPRESENTATIONS`` (``raw``: the features themselves) and maps rows to
    MinMax-scaled codes (a scikit-learn transformer: ``fit(X, y, X_val, y_val)``, ``transform``)."""

    representation: str = "mae"
    epochs: int = 100
    batch_size: int = 100
    learning_rate: float = 1e-3
    patience: int | None = 5  # None: no early stopping (Vu et al. train 100 epochs)
    hidden: tuple = (85, 30)
    code: int = 15
    noise_sigma: float = 0.0025
    latent_weight: float | None = None
    centres: tuple | None = None  # (normal, attack) overriding the paper's
    seed: int = 0
    threads: int | None = None
    backend: str | None = None  # the Keras backend to train on: tensorflow | jax; None: the process's ($KERAS_BACKEND)

    _parameter_constraints: ClassVar[dict] = {
        "representation": [StrOptions(set(REPRESENTATIONS))],
        **params.TRAINING,
        "backend": stacked.BACKEND_CONSTRAINT,
        "hidden": [tuple, list],
        "code": [params.POSITIVE_INT],
        "noise_sigma": [params.NON_NEGATIVE_REAL],
        "latent_weight": [params.NON_NEGATIVE_REAL, None],
        "centres": [tuple, list, None],
        "seed": params.COMMON["seed"],
        "threads": params.COMMON["threads"],
    }

    def check_params(self) -> None:
        """Raise for a hyperparameter outside its declared constraint (fit calls it; so does the config check)."""
        params.check(self)
        params.check_sequence(self.hidden, type(self).__name__, "hidden")
        if self.centres is not None and len(self.centres) != 2:
            raise ValueError(
                f"The 'centres' parameter of {type(self).__name__} must be two numbers "
                f"(normal, attack). Got {self.centres!r} instead."
            )

    def _centres(self, y) -> np.ndarray:
        """Each row's class centre (normal, attack), the latent term's target in every code dimension."""
        centres = self.centres or REPRESENTATIONS[self.representation][2] or (0.0, 0.0)
        return np.where(np.asarray(y, dtype=bool), centres[1], centres[0]).astype("float32")

    def fit(self, X, y, X_val=None, y_val=None):
        """Train the representation on all rows (labels pull the codes to their class centres);
        early stopping uses the validation split. ``stacked.fit_together`` fits several at once."""
        return stacked.fit_together([self], [(X, y, X_val, y_val)])[0]

    def _training_task(self, X, y, X_val, y_val) -> stacked.Task | None:
        self.check_params()
        X = validate_data(self, X, dtype="float32")
        self.history_, self.n_params_, self.fit_seconds_ = {}, 0, 0.0
        if self.representation == "raw":
            self.model_ = self.encoder_ = None
            return None
        stacked.check_backend(self.backend, type(self).__name__)
        keras_setup.configure(self.seed, self.threads)  # the initial weights: this seed's, as in a process of its own
        self.model_, self.encoder_ = build_latent_model(
            X.shape[1],
            self.representation,
            hidden=tuple(self.hidden),
            code=self.code,
            noise_sigma=self.noise_sigma,
            latent_weight=self.latent_weight,
            learning_rate=self.learning_rate,
            seed=self.seed,
        )
        net = LatentNet(
            self.model_,
            self.representation,
            hidden=self.hidden,
            noise_sigma=self.noise_sigma,
            weights=loss_weights(X.shape[1], self.representation, self.latent_weight),
        )
        validate = X_val is not None and len(X_val) > 0
        X_val = np.asarray(X_val, dtype="float32") if validate else None
        return stacked.Task(
            net,
            X,
            self._centres(y),
            X_val,
            self._centres(y_val) if validate else None,
            seed=self.seed,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            patience=self.patience if validate else None,
        )

    def _finish_training(self, task: stacked.Task | None, result: stacked.Result | None, X, *_) -> None:
        start = time.perf_counter()
        if task is not None:
            task.net.set_weights(result.weights)
            self.history_ = result.history
            self.n_params_ = int(self.model_.count_params())
        self.scaler_ = MinMaxScaler().fit(self._codes(X))
        self.fit_seconds_ = (result.seconds if result is not None else 0.0) + time.perf_counter() - start

    def _codes(self, X) -> np.ndarray:
        X = np.asarray(X, dtype="float32")
        return X if self.encoder_ is None else keras_setup.predict_in_chunks(self.encoder_, X)

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "scaler_")
        return self.scaler_.transform(self._codes(validate_data(self, X, dtype="float32", reset=False))).astype(
            "float32"
        )


@dataclass(repr=False, eq=False)
class LatentClassifierDetector(Detector):
    """One (representation, classifier) pair: ``encoder`` (a ``LatentEncoder``'s hyperparameters) is
    fitted in ``fit`` as ``encoder_``, then one classifier learns the binary labels from its codes.
    The four classifiers of a job read one encoder: the job fits it once and passes it fitted as a
    ``sklearn.frozen.FrozenEstimator``, which ``fit`` uses as it is."""

    target: ClassVar[str] = "binary"

    encoder: LatentEncoder | FrozenEstimator | None = None  # None: LatentEncoder() (Vu et al.'s MAE)
    classifier: str = "logistic_regression"
    seed: int = 0

    _parameter_constraints: ClassVar[dict] = {
        "encoder": [LatentEncoder, FrozenEstimator, None],
        "classifier": [StrOptions(set(CLASSIFIERS))],
        "seed": params.COMMON["seed"],
    }

    def check_params(self) -> None:
        params.check(self)
        if isinstance(self.encoder, LatentEncoder):
            self.encoder.check_params()

    def fit(self, X, y, X_val=None, y_val=None):
        self.check_params()
        X = self._check_input(X, reset=True)
        y = np.asarray(y, dtype=bool)
        present = np.unique(y)
        if len(present) < 2:
            raise ValueError(
                f"the training rows are all {'attacks' if present.all() else 'normal'}: the "
                f"{self.classifier} classifier needs normal and attack rows to learn from; for such data use "
                "a one-class model (an autoencoder, pca, isolation_forest, ocsvm)"
            )
        encoder = LatentEncoder() if self.encoder is None else self.encoder
        self.encoder_ = clone(encoder).fit(X, y, X_val, y_val)  # a frozen encoder stays as fitted
        start = time.perf_counter()
        codes = self.encoder_.transform(X)
        self.classifier_ = CLASSIFIERS[self.classifier](self.seed).fit(codes, y)
        # The shared encoder's training time counts for every classifier reading its codes.
        self.fit_seconds_ = self.encoder_.fit_seconds_ + time.perf_counter() - start
        self.threshold_ = 0.0  # the classifiers' own rule: decision function > 0 means attack
        self.history_ = self.encoder_.history_
        self.n_params_ = self.encoder_.n_params_ + int(
            sum(np.size(v) for k, v in vars(self.classifier_).items() if k in ("coef_", "intercept_", "centroids_"))
        )
        self._record_training_scores(self.classifier_.decision_function(codes))
        return self

    def decision_function(self, X) -> np.ndarray:
        X = self._check_fitted_input(X)
        return np.asarray(self.classifier_.decision_function(self.encoder_.transform(X)), dtype="float64")
