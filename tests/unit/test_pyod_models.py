"""PyOD's detectors through iotad's adapter, on a small real slice of NSL-KDD (from the mirror):
the same scores as PyOD used directly, iotad's threshold rules, and PyOD's IForest against iotad's
own Isolation Forest baseline."""

import numpy as np
import pytest

from iotad.metrics import binary_metrics
from iotad.models import build_detectors

pytestmark = pytest.mark.realdata


def fitted(name, params, data, seed=0):
    (X, y), (Xv, yv), _ = data
    detector = next(iter(build_detectors(name, params, seed=seed, threads=1).values()))
    return detector.fit(X, y, Xv, yv)


@pytest.mark.parametrize("cls", ["ECOD", "COPOD", "HBOS", "KNN"])
def test_scores_are_pyods_own_on_the_normal_training_rows(nsl_slice, cls):
    """PyOD itself, fitted on the normal training rows, gives the same test scores; the threshold is
    the 99th percentile of the validation normals' scores; attacks rank above normals."""
    import importlib

    (X, y), (Xv, yv), (Xt, yt) = nsl_slice
    detector = fitted(cls.lower(), {"model": "pyod", "class": cls}, nsl_slice)
    direct = getattr(importlib.import_module(f"pyod.models.{cls.lower()}"), cls)().fit(X[~y].astype("float32"))
    np.testing.assert_allclose(
        detector.decision_function(Xt), direct.decision_function(Xt.astype("float32")), rtol=1e-6
    )
    np.testing.assert_allclose(detector.decision_scores_, direct.decision_scores_, rtol=1e-6)
    if cls not in ("ECOD", "COPOD"):  # these score a batch against itself too: iotad's is the distinct rows
        val_scores = direct.decision_function(Xv.astype("float32"))
        assert detector.threshold_ == pytest.approx(np.percentile(val_scores[~yv], 99), rel=1e-6)
    auroc = binary_metrics(yt, detector.decision_function(Xt), detector.predict(Xt))["auroc"]
    print(f"{cls}: AUROC {auroc:.3f}")
    assert auroc > 0.8


def test_pyods_iforest_agrees_with_scikit_learns_isolation_forest(nsl_slice):
    """isolation_forest is PyOD's IForest (iotad's hand-written baseline, deleted, gave the same AUROCs):
    scikit-learn's IsolationForest on the same normal rows, same seed, ranks the test rows the same."""
    from sklearn.ensemble import IsolationForest

    (X, y), (_, _), (Xt, yt) = nsl_slice
    for seed in (0, 1):
        ours = fitted("isolation_forest", {"n_estimators": 100}, nsl_slice, seed)
        sklearn_scores = (
            -IsolationForest(n_estimators=100, random_state=seed)
            .fit(X[~y].astype("float32"))
            .score_samples(Xt.astype("float32"))
        )
        a = binary_metrics(yt, ours.decision_function(Xt), ours.predict(Xt))["auroc"]
        b = binary_metrics(yt, sklearn_scores, sklearn_scores > 0)["auroc"]
        print(f"seed {seed}: isolation_forest (PyOD) {a:.4f}, scikit-learn {b:.4f}")
        assert abs(a - b) < 0.01


OWN_DETECTOR = """
import numpy as np

class SquaredDistanceToMean:
    \"\"\"Score = squared distance to the training rows' mean (higher = more anomalous).\"\"\"

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, X, y=None):
        self.mean_ = X.mean(axis=0)
        self.decision_scores_ = self.decision_function(X)
        return self

    def decision_function(self, X):
        return self.scale * ((X - self.mean_) ** 2).sum(axis=1)
"""


def test_own_detector_by_import_path(nsl_slice, tmp_path, monkeypatch):
    """A class with PyOD's fit/decision_function in one's own module, named by its import path, with
    its own parameter (the docs' extending example)."""
    (tmp_path / "my_detectors.py").write_text(OWN_DETECTOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    detector = fitted("mine", {"model": "pyod", "class": "my_detectors.SquaredDistanceToMean", "scale": 2.0}, nsl_slice)
    (X, y), (_, _), (Xt, _) = nsl_slice
    expected = 2.0 * ((Xt - X[~y].mean(axis=0)) ** 2).sum(axis=1)
    np.testing.assert_allclose(detector.decision_function(Xt), expected, rtol=1e-4)


@pytest.mark.parametrize("cls", ["ECOD", "COPOD"])
def test_a_saved_detector_holds_its_fit_not_its_last_scoring(cls, tmp_path):
    """ECOD and COPOD keep the tail probabilities of every row they last scored (training rows and the
    scored batch together, four float64 arrays of rows x features); saved, that made kddcup99's fitted
    ECOD 600 MB a seed. The saved detector stays near the size of its training rows and scores alike."""
    from iotad.models import load_detectors, save_detectors

    rng = np.random.default_rng(0)
    X, y = rng.random((2000, 20)), np.zeros(2000, dtype=bool)
    batch = rng.random((40_000, 20))
    detectors = build_detectors("ecod", {"model": "pyod", "class": cls}, seed=0, threads=1)
    detector = detectors["ecod"].fit(X, y, X[:200], y[:200])
    expected = detector.decision_function(batch)
    save_detectors(detectors, tmp_path)
    size = (tmp_path / "detectors.pkl").stat().st_size
    assert size < 3 * X.nbytes, f"{size:,} bytes saved for {X.nbytes:,} bytes of training rows"
    np.testing.assert_array_equal(load_detectors(tmp_path)["ecod"].decision_function(batch), expected)
