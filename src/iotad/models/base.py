"""What every iotad detector is: a scikit-learn estimator (``get_params``/``set_params``, ``clone``,
its repr) with PyOD's outlier-detector semantics.

- ``fit(X, y=None, X_val=None, y_val=None)`` returns self; ``y`` marks attacks (``is_attack``), or
  names families for a ``target = "family"`` detector; the validation split feeds early stopping and
  the threshold, never the test split.
- ``decision_function(X)``: the anomaly score, higher = more anomalous (PyOD's convention).
- After ``fit``: ``threshold_`` (on the decision function), ``decision_scores_`` (the scores of the
  rows the detector was trained on, as fit computed them: a one-class model's normal rows, the
  OCSVM's subsample; PyOD's KNN leaves each row out of its own neighbours) and ``labels_`` (1 where
  those scores exceed ``threshold_``), ``n_features_in_``.
- ``predict(X)``: 1 where ``decision_function(X) > threshold_``, else 0 (PyOD's labels, not
  scikit-learn's outlier +1/-1).

Detectors are dataclasses (their fields are the hyperparameters, checked against
``_parameter_constraints`` by ``check_params``: in ``fit``, as scikit-learn does, and by the config
check at start-up) deriving from :class:`Detector`; declare them with ``@dataclass(repr=False,
eq=False)`` so scikit-learn's repr and identity semantics stay.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from ..outliers import distinct_rows
from ..thresholds import choose_threshold
from . import params


def scores_of_distinct(score, X) -> np.ndarray:
    """``score(X)``, computing each distinct row once (validation splits repeat rows: kddcup99's most
    of them) and copying its score to the repeats."""
    unique, row_to_unique, _ = distinct_rows(np.asarray(X, dtype="float32"))
    return score(unique)[row_to_unique]


class Detector(BaseEstimator):
    target: ClassVar[str] = "binary"  # what ``y`` holds: "binary" (is_attack) or "family" (family names)

    def check_params(self) -> None:
        """Raise scikit-learn's InvalidParameterError (a ValueError) for a hyperparameter outside its
        declared constraint: ``fit`` calls it, and so does the config check before any job runs."""
        params.check(self)

    def check_config(self) -> None:
        """What the config check runs before any job: ``check_params``, and what only a trial can tell."""
        self.check_params()

    def takes_random_step(self, X, y=None) -> bool:
        """Whether fitting on these rows draws anything from ``seed``. False lets a job fit once for
        its seeds that train on the same rows (their results would be the same): deterministic
        detectors say so."""
        return True

    def _check_input(self, X, *, reset: bool) -> np.ndarray:
        """X as a float32 matrix without NaN or infinity; ``reset`` (in fit) records its width, which
        later calls must match."""
        return validate_data(self, X, reset=reset, dtype="float32", order="C")

    def _check_fitted_input(self, X) -> np.ndarray:
        check_is_fitted(self)  # any fitted attribute: fit scores its validation rows before threshold_ exists
        return self._check_input(X, reset=False)

    def _choose_threshold(self, training_scores, X_val=None, y_val=None, training_attack=None, **rule_inputs) -> float:
        """``threshold_rule`` applied to the validation split's scores (``y_val``: which rows are
        attacks; None: all normal); without a validation split (None or no rows), to the training
        rows' scores (``training_attack`` marks attacks among them; as PyOD's contamination does: the
        99th percentile flags 1 % of them)."""
        if X_val is None or len(X_val) == 0:
            attack = np.zeros(len(training_scores), bool) if training_attack is None else training_attack
            val_scores, val_attack = training_scores, attack
        else:
            val_scores = scores_of_distinct(self.decision_function, X_val)
            val_attack = np.zeros(len(val_scores), bool) if y_val is None else np.asarray(y_val, dtype=bool)
        return choose_threshold(
            self.threshold_rule,
            val_scores=val_scores,
            val_is_attack=val_attack,
            percentile=self.percentile,
            value=self.threshold_value,
            **rule_inputs,
        )

    def _record_training_scores(self, scores) -> None:
        self.decision_scores_ = np.asarray(scores, dtype="float64")
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def decision_function(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > self.threshold_).astype(int)
