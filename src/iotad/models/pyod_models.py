"""Any PyOD detector (or any class with PyOD's ``fit(X)`` / ``decision_function(X)``, higher = more
anomalous) as an iotad baseline: trained on the normal training rows like the other one-class
baselines, thresholded by the same rules on the validation split (PyOD's own contamination
threshold is not used), scored, tracked and reported like every other model.

Config: ``{model: pyod, class: ECOD}`` plus the class's own parameters, e.g.
``knn: {model: pyod, class: KNN, n_neighbors: 10, max_normal_rows: 10000}``. ``class`` is a class of
``pyod.models`` (``ECOD`` is looked up in ``pyod.models.ecod``) or a full import path
(``mypackage.detectors.MyDetector``, for one's own detector). A class taking ``random_state`` gets
the run's seed, one taking ``n_jobs`` the job's threads, unless the config sets them.

PyOD's ECOD and COPOD score new rows by recomputing their empirical distributions over the training
rows *and the rows being scored* (PyOD issues #400, #401, #604), so a test row's score depends on
the other rows scored with it: iotad scores each split's distinct rows as one batch, the validation
split's (for the threshold) as another.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import params
from .baselines import _OneClassBaseline, seeded_subsample


def _candidates(name: str) -> list[tuple[str, str]]:
    """(module, attribute) pairs where ``name`` may live: its own import path, or pyod.models' module
    named after the class (ECOD: ecod; AutoEncoder: auto_encoder)."""
    if "." in name:
        module, _, attribute = name.rpartition(".")
        return [(module, attribute)]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return [(f"pyod.models.{module}", name) for module in dict.fromkeys((name.lower(), snake))]


def pyod_class(name: str) -> type:
    """The detector class ``name`` names: a full import path, or a class of ``pyod.models``."""
    cls = None
    for module, attribute in _candidates(name):
        try:
            cls = getattr(importlib.import_module(module), attribute, None)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # no module of that name: the next candidate
                continue
            raise ValueError(
                f"detector class {name!r} needs the package {exc.name!r}, which this environment "
                "lacks (pip: pyproject.toml; conda: envs/models.yaml)"
            ) from None
        if cls is not None:
            break
    if cls is None:
        raise ValueError(
            f"no detector class {name!r}: give a class of pyod.models (ECOD, COPOD, HBOS, KNN, "
            "IForest, LODA, AutoEncoder, ...) or a full import path (package.module.Class)"
        )
    for method in ("fit", "decision_function"):
        if not callable(getattr(cls, method, None)):
            raise ValueError(f"detector class {name!r} has no {method}() (a PyOD detector's interface)")
    return cls


# What ECOD and COPOD keep of the rows they last scored (their tail probabilities, rows x features,
# float64): recomputed on every call, so not part of the fit that is saved.
SCRATCH = ("U_l", "U_r", "U_skew", "O")


@dataclass(repr=False, eq=False)
class PyodDetector(_OneClassBaseline):
    detector: str = "ECOD"  # the config's `class`
    options: dict | None = None  # the class's own parameters
    max_normal_rows: int | None = None  # a seeded subsample of the normal rows for costly methods (KNN)

    _parameter_constraints: ClassVar[dict] = {
        **params.COMMON,
        "detector": [str],
        "options": [dict, None],
        "max_normal_rows": [params.POSITIVE_INT, None],
    }

    def check_params(self) -> None:
        super().check_params()
        self._build()  # an unknown class or parameter name

    def check_config(self) -> None:
        """Also fits the class on a few seeded random rows: PyOD's classes check their parameters'
        values only when fitted, and a wrong value should stop the run at start-up, not the job hours
        later."""
        self.check_params()
        try:
            self._build().fit(np.random.default_rng(0).random((200, 3)))
        except Exception as exc:  # whatever the class raises on a value it cannot use (PyOD: not always a ValueError)
            raise ValueError(
                f"{self.detector}({self.options or {}}) fails on trial rows: {type(exc).__name__}: {exc}"
            ) from None

    def takes_random_step(self, X, y=None) -> bool:
        """The class takes the seed (``random_state``, unless the config sets it), or the normal rows
        are more than ``max_normal_rows`` (a seeded subsample)."""
        seeded = "random_state" in inspect.signature(pyod_class(self.detector)).parameters
        normal = len(X) if y is None else int(np.count_nonzero(~np.asarray(y, dtype=bool)))
        return (seeded and "random_state" not in (self.options or {})) or (
            self.max_normal_rows is not None and normal > self.max_normal_rows
        )

    def _build(self):
        cls = pyod_class(self.detector)
        accepted = inspect.signature(cls).parameters
        options = self.options or {}
        unknown = set(options) - set(accepted)
        if unknown and not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            raise ValueError(f"{self.detector} takes no parameter(s) {sorted(unknown)}; it takes {sorted(accepted)}")
        defaults = {"random_state": self.seed, "n_jobs": self.threads or 1}
        return cls(**{key: value for key, value in defaults.items() if key in accepted} | options)

    def _fit_normal(self, normal: np.ndarray) -> np.ndarray:
        normal = seeded_subsample(normal, self.max_normal_rows, self.seed)
        self.train_rows_ = int(len(normal))
        self.model_ = self._build().fit(normal)
        for name in SCRATCH:  # the fit's own scoring of the training rows
            self.model_.__dict__.pop(name, None)
        trees = getattr(getattr(self.model_, "detector_", None), "estimators_", None)  # IForest: its trees' nodes
        self.n_params_ = int(sum(tree.tree_.node_count for tree in trees)) if trees is not None else None
        return normal

    def _training_scores(self, normal: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.decision_scores_, dtype="float64")  # PyOD's own, from fit

    def _decision_function(self, X: np.ndarray) -> np.ndarray:
        # on a shallow copy: whatever a class keeps of the rows it scores stays out of the saved fit
        return np.asarray(copy.copy(self.model_).decision_function(X), dtype="float64")
