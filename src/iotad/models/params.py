"""The detectors' declared hyperparameter types and ranges, in scikit-learn's constraint language.

Each detector class lists a constraint for every field in ``_parameter_constraints`` and checks its
values in ``fit`` (``check``); the workflow checks every configured detector at start-up, so a
wrong value in the config stops the run before any job, with scikit-learn's message naming the
parameter, the allowed values and the value given.
"""

from __future__ import annotations

import dataclasses
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

from ..thresholds import RULES

POSITIVE_INT = Interval(Integral, 1, None, closed="left")
NON_NEGATIVE_INT = Interval(Integral, 0, None, closed="left")
POSITIVE_REAL = Interval(Real, 0, None, closed="neither")
NON_NEGATIVE_REAL = Interval(Real, 0, None, closed="left")
FRACTION = Interval(Real, 0, 1, closed="left")  # a dropout rate: 1 would drop everything

# Shared by every detector: the threshold rule, the seed and the thread count.
COMMON = {
    "threshold_rule": [StrOptions(set(RULES))],
    "percentile": [Interval(Real, 0, 100, closed="both")],
    "threshold_value": [Real, None],
    "seed": [NON_NEGATIVE_INT],
    "threads": [POSITIVE_INT, None],
}
# Every network's training loop.
TRAINING = {
    "epochs": [POSITIVE_INT],
    "batch_size": [POSITIVE_INT],
    "learning_rate": [POSITIVE_REAL],
    "patience": [NON_NEGATIVE_INT, None],
}


def check(detector) -> None:
    """Raise scikit-learn's ``InvalidParameterError`` (a ValueError) for a field outside its declared
    constraint; a field without one is a programming error."""
    name = type(detector).__name__
    params = {f.name: getattr(detector, f.name) for f in dataclasses.fields(detector)}
    undeclared = set(params) - set(detector._parameter_constraints)
    if undeclared:
        raise TypeError(f"{name}: no declared constraint for {sorted(undeclared)}")
    validate_parameter_constraints(detector._parameter_constraints, params, caller_name=name)


def check_sequence(values, caller: str, parameter: str) -> None:
    """A layer-width list (``hidden``): every entry a positive int."""
    for value in values:
        validate_parameter_constraints({parameter: [POSITIVE_INT]}, {parameter: value}, caller_name=caller)


def check_options(options: dict, constraints: dict, caller: str) -> None:
    """A dict-valued hyperparameter (``layer_options``): known keys, each within its constraint."""
    unknown = set(options) - set(constraints)
    if unknown:
        raise ValueError(f"The '{caller}' keys {sorted(unknown)} are unknown; choose from {sorted(constraints)}.")
    validate_parameter_constraints(constraints, options, caller_name=caller)
