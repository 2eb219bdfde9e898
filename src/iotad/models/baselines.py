"""Classical one-class baselines (scikit-learn) beside the seed paper's autoencoders: PCA
reconstruction error and a one-class SVM (Isolation Forest and the rest come from PyOD:
``pyod_models``). Like the autoencoders they are trained on
normal rows only and take their threshold from the validation split, so the comparison isolates the
model, not the protocol.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions

from . import params
from .base import Detector


def seeded_subsample(rows: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """At most ``max_rows`` of ``rows``, drawn without replacement by ``seed``, in their order."""
    if max_rows is None or len(rows) <= max_rows:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), size=max_rows, replace=False))]


def rbf_expansion(
    X, support_vectors: np.ndarray, coefficients: np.ndarray, gamma: float, chunk_rows: int = 2048
) -> np.ndarray:
    """sum_i coefficients[i] * exp(-gamma * |x - support_vectors[i]|^2) per row of X, in float64: a
    fitted RBF SVM's kernel expansion as blocked matrix products (libsvm, behind scikit-learn's
    ``decision_function``, evaluates the kernel one pair of rows at a time)."""
    X = np.asarray(X, dtype="float64")
    support_vectors = np.asarray(support_vectors, dtype="float64")
    support_norms = np.einsum("ij,ij->i", support_vectors, support_vectors)
    out = np.empty(len(X))
    for start in range(0, len(X), chunk_rows):
        block = X[start : start + chunk_rows]
        squared = np.einsum("ij,ij->i", block, block)[:, None] + support_norms - 2.0 * (block @ support_vectors.T)
        np.maximum(squared, 0.0, out=squared)  # rounding can take |x - s|^2 of a support vector itself below 0
        out[start : start + chunk_rows] = np.exp(-gamma * squared, out=squared) @ coefficients
    return out


@dataclass(kw_only=True, repr=False, eq=False)
class _OneClassBaseline(Detector):
    """Shared protocol: pick the normal training rows, time the fit, choose the threshold. Subclasses
    are dataclasses whose own hyperparameters come first (positional); these are keyword-only."""

    threshold_rule: str = "percentile"
    percentile: float = 99.0
    threshold_value: float | None = None
    seed: int = 0
    threads: int | None = None

    _parameter_constraints: ClassVar[dict] = params.COMMON

    def fit(self, X, y=None, X_val=None, y_val=None):
        """Train on the normal rows of X (all rows when y is None); the threshold uses the validation
        split only (without one: the training rows' scores)."""
        self.check_params()
        if self.threshold_rule == "last_loss":
            raise ValueError(
                f"threshold rule 'last_loss' needs a training loss, which {type(self).__name__} "
                "does not have; use 'percentile', 'best_f1' or 'fixed'"
            )
        X = self._check_input(X, reset=True)
        normal = X if y is None else X[~np.asarray(y, dtype=bool)]
        if not len(normal):
            raise ValueError("no normal rows to train on")
        start = time.perf_counter()
        normal = self._fit_normal(normal)
        self.fit_seconds_ = time.perf_counter() - start
        self.history_: dict[str, list[float]] = {}
        training_scores = self._training_scores(normal)
        self.threshold_ = self._choose_threshold(training_scores, X_val, y_val)
        self._record_training_scores(training_scores)
        return self

    def _fit_normal(self, normal: np.ndarray) -> np.ndarray:
        """Fit the model on normal rows; returns the rows it was fitted on."""
        raise NotImplementedError

    def _training_scores(self, normal: np.ndarray) -> np.ndarray:
        """The scores of the rows the model was fitted on (``decision_scores_``)."""
        return self._decision_function(normal)

    def _decision_function(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def decision_function(self, X) -> np.ndarray:
        return self._decision_function(self._check_fitted_input(X))


@dataclass(repr=False, eq=False)
class PcaDetector(_OneClassBaseline):
    """Linear counterpart of the autoencoder: score = per-record MSE of the PCA reconstruction.
    ``n_components`` below 1 is the share of variance to keep. The full SVD makes it deterministic."""

    n_components: float | int = 0.95

    def takes_random_step(self, X, y=None) -> bool:
        return False

    _parameter_constraints: ClassVar[dict] = {  # a count of components, or the share of variance kept
        **params.COMMON,
        "n_components": [params.POSITIVE_INT, Interval(RealNotInt, 0, 1, closed="neither")],
    }

    def _fit_normal(self, normal: np.ndarray) -> None:
        from sklearn.decomposition import PCA

        self.model_ = PCA(n_components=self.n_components, svd_solver="full", random_state=self.seed).fit(normal)
        self.n_params_ = int(self.model_.components_.size + self.model_.mean_.size)
        return normal

    def _decision_function(self, X) -> np.ndarray:
        """Per-record reconstruction MSE (higher = more anomalous)."""
        reconstruction = self.model_.inverse_transform(self.model_.transform(X))
        return np.mean((X.astype("float64") - reconstruction) ** 2, axis=1)


@dataclass(repr=False, eq=False)
class OneClassSvmDetector(_OneClassBaseline):
    """RBF one-class SVM on normal rows; score = minus sklearn's score_samples.

    Kernel SVM training is quadratic (or worse) in the number of rows in time and kernel-cache
    memory, so it is trained on a seeded random subsample (without replacement) of at most
    ``max_normal_rows`` normal rows; ``train_rows_`` records how many were used.
    """

    # scikit-learn's default: at 0.01 a few boundary support vectors defined the score, and dense attack
    # clusters inside diverse normal traffic (TON_IoT scans and floods) ranked as the most normal rows.
    nu: float = 0.5
    gamma: str | float = "scale"
    max_normal_rows: int | None = 20000

    _parameter_constraints: ClassVar[dict] = {
        **params.COMMON,
        "nu": [Interval(Real, 0, 1, closed="right")],
        "gamma": [StrOptions({"scale", "auto"}), params.POSITIVE_REAL],
        "max_normal_rows": [params.POSITIVE_INT, None],
    }

    def _fit_normal(self, normal: np.ndarray) -> np.ndarray:
        from sklearn.svm import OneClassSVM

        normal = seeded_subsample(normal, self.max_normal_rows, self.seed)
        self.train_rows_ = int(len(normal))
        self.model_ = OneClassSVM(nu=self.nu, gamma=self.gamma).fit(normal)
        self.n_params_ = int(self.model_.support_vectors_.size)
        return normal

    def _decision_function(self, X) -> np.ndarray:
        """Minus scikit-learn's ``score_samples`` (its kernel expansion without the offset)."""
        return -rbf_expansion(X, self.model_.support_vectors_, self.model_.dual_coef_.ravel(), self.model_._gamma)
