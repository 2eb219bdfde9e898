"""Vu et al.'s latent models and their classifiers on a small real NSL-KDD slice (from the mirror)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from iotad.metrics import binary_metrics
from iotad.models import build_detectors, load_detectors, save_detectors
from iotad.models.latent import LatentClassifierDetector, LatentEncoder

pytestmark = pytest.mark.realdata


def encoder(representation, data, seed=0, **kw):
    (X, y), (Xv, yv), _ = data
    return LatentEncoder(representation, epochs=4, batch_size=256, seed=seed, threads=2, **kw).fit(X, y, Xv, yv)


@pytest.mark.parametrize("representation", ["ae", "dae", "vae", "mae", "mdae", "mvae"])
def test_each_representation_learns_and_its_codes_separate_attacks(nsl_slice, representation):
    (X, y), _, (Xt, yt) = nsl_slice
    enc = encoder(representation, nsl_slice)
    detector = LatentClassifierDetector(enc, "logistic_regression").fit(X, y)
    m = binary_metrics(yt, detector.decision_function(Xt), detector.predict(Xt))
    val = enc.history_["val_loss"]
    print(
        f"{representation}: val_loss {val[0]:.4f} -> {min(val):.4f}, AUROC {m['auroc']:.3f}, hard AUC {m['hard_auc']:.3f}"
    )
    assert min(val) < val[0]
    assert m["auroc"] > 0.9
    codes = enc.transform(Xt)
    assert codes.shape == (len(Xt), 15) and codes.dtype == np.float32


def test_class_centres_pull_codes_apart(nsl_slice):
    """MAE puts normal codes near 2 and attack codes near 3 in every dimension (before scaling)."""
    (X, y), _, _ = nsl_slice
    enc = encoder("mae", nsl_slice)
    codes = enc._codes(X)
    normal, attack = codes[~y].mean(), codes[y].mean()
    print(f"mean code: normal {normal:.2f}, attack {attack:.2f}")
    assert abs(normal - 2) < 0.3 and abs(attack - 3) < 0.3


def test_raw_features_with_each_classifier(nsl_slice):
    (X, y), _, (Xt, yt) = nsl_slice
    for name, detector in build_detectors("raw", {}, seed=0, threads=2).items():
        detector.fit(X, y)
        assert detector.threshold_ == 0.0
        m = binary_metrics(yt, detector.decision_function(Xt), detector.predict(Xt))
        print(f"{name}: AUROC {m['auroc']:.3f}, accuracy {m['accuracy']:.3f}")
        assert m["auroc"] > 0.9


def test_same_seed_same_codes_other_seed_different(nsl_slice):
    Xt = nsl_slice[2][0]
    codes = [encoder("mdae", nsl_slice, seed=s).transform(Xt) for s in (5, 5, 6)]
    np.testing.assert_array_equal(codes[0], codes[1])
    assert not np.array_equal(codes[0], codes[2])


def test_saved_detectors_reload_in_safe_mode_with_one_shared_encoder(nsl_slice, tmp_path):
    (X, y), (Xv, yv), (Xt, _) = nsl_slice
    detectors = build_detectors(
        "mvae", {"epochs": 1, "classifiers": ["perceptron", "nearest_centroid"]}, seed=0, threads=2
    )
    template = detectors["mvae:perceptron"].encoder
    shared = FrozenEstimator(clone(template).fit(X, y, Xv, yv))  # as the training job does: one encoder per seed
    for detector in detectors.values():
        detector.set_params(encoder=shared).fit(X, y, Xv, yv)
    assert not hasattr(template, "scaler_")  # the hyperparameter itself is never fitted
    save_detectors(detectors, tmp_path)
    assert len(list(tmp_path.glob("*.keras"))) == 2  # the training network and its encoder, once
    back = load_detectors(tmp_path)
    assert back["mvae:perceptron"].encoder_ is back["mvae:nearest_centroid"].encoder_
    for name, detector in detectors.items():
        np.testing.assert_allclose(back[name].decision_function(Xt), detector.decision_function(Xt), rtol=1e-6)


def test_a_classifier_fits_its_own_encoder_unless_given_one_fitted(nsl_slice):
    """Fitting one classifier neither fits nor changes another's encoder; a frozen fitted encoder is
    used as it is (same codes), an unfitted one is cloned and fitted inside ``fit``."""
    (X, y), (Xv, yv), _ = nsl_slice
    first, second = build_detectors(
        "ae", {"epochs": 1, "classifiers": ["perceptron", "linear_svc"]}, seed=0, threads=2
    ).values()
    first.fit(X, y, Xv, yv)
    assert first.encoder_ is not first.encoder and not hasattr(second.encoder, "scaler_")
    second.set_params(encoder=FrozenEstimator(first.encoder_)).fit(X, y, Xv, yv)
    assert second.encoder_.estimator is first.encoder_
    np.testing.assert_array_equal(second.encoder_.transform(Xv), first.encoder_.transform(Xv))


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown classifiers"):
        build_detectors("mae", {"classifiers": ["svm"]}, seed=0, threads=1)
    with pytest.raises(ValueError, match="unknown model 'gan'"):
        build_detectors("gan", {}, seed=0, threads=1)
