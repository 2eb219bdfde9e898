"""Threshold rules that turn anomaly scores into predictions. None of them looks at test data.

- ``percentile``: a percentile of the validation split's normal scores (the default);
- ``last_loss``: the last training loss, as in the public NSL-KDD notebook behind the seed paper;
- ``fixed``: a given value;
- ``best_f1``: the score cut with the best F1 on the validation split (needs attacks in it).
A record is predicted an attack when its score is strictly above the threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

RULES = ("percentile", "last_loss", "fixed", "best_f1")


class ThresholdError(ValueError):
    """A threshold rule cannot be applied to the data it was given."""


def choose_threshold(
    rule: str,
    *,
    val_scores=None,
    val_is_attack=None,
    percentile: float = 99.0,
    value: float | None = None,
    last_training_loss: float | None = None,
) -> float:
    if rule == "fixed":
        if value is None:
            raise ThresholdError("threshold rule 'fixed' needs a value")
        return float(value)
    if rule == "last_loss":
        if last_training_loss is None:
            raise ThresholdError("threshold rule 'last_loss' needs the model's last training loss")
        return float(last_training_loss)
    if rule not in RULES:
        raise ThresholdError(f"unknown threshold rule {rule!r}; choose one of {RULES}")
    scores = np.asarray(val_scores, dtype="float64")
    attack = np.asarray(val_is_attack, dtype=bool)
    if rule == "percentile":
        normal = scores[~attack]
        if not len(normal):
            raise ThresholdError("threshold rule 'percentile' needs normal records in the validation split")
        return float(np.percentile(normal, percentile))
    if not attack.any() or attack.all():
        raise ThresholdError("threshold rule 'best_f1' needs normal and attack records in the validation split")
    precision, recall, cuts = precision_recall_curve(attack, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    # precision_recall_curve predicts "attack" for score >= cut; with strict ">" the same split is
    # obtained by a threshold just below the cut.
    return float(np.nextafter(cuts[np.argmax(f1)], -np.inf))


def predict(scores, threshold: float) -> np.ndarray:
    return np.asarray(scores) > threshold
