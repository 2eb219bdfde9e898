"""The seed paper's autoencoders on a small real slice of NSL-KDD (from the mirror)."""

import numpy as np
import pytest

from iotad.metrics import binary_metrics

pytestmark = pytest.mark.realdata


def fit(variant, data, seed, **kw):
    from iotad.models.autoencoders import AutoencoderDetector

    (X, y), (Xv, yv), _ = data
    return AutoencoderDetector(variant=variant, epochs=8, batch_size=256, seed=seed, threads=2, **kw).fit(X, y, Xv, yv)


@pytest.mark.parametrize("variant", ["denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae"])
def test_each_autoencoder_learns_and_separates_attacks(nsl_slice, variant):
    model = fit(variant, nsl_slice, seed=0)
    Xt, yt = nsl_slice[2]
    scores = model.score_samples(Xt)
    m = binary_metrics(yt, scores, model.predict(Xt))
    print(f"{variant}: val_loss {model.history_['val_loss'][0]:.4f} -> {min(model.history_['val_loss']):.4f}, "
          f"AUROC {m['auroc']:.3f}, accuracy {m['accuracy']:.3f}, {model.n_params_} parameters")
    assert min(model.history_["val_loss"]) < model.history_["val_loss"][0]
    assert m["auroc"] > 0.8


def test_same_seed_same_metrics_other_seed_different(nsl_slice):
    Xt, yt = nsl_slice[2]
    runs = [fit("deep_ae", nsl_slice, seed=s) for s in (3, 3, 4)]
    scores = [r.score_samples(Xt) for r in runs]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert runs[0].threshold_ == runs[1].threshold_
    assert not np.array_equal(scores[0], scores[2])


def test_threshold_comes_from_validation_normals(nsl_slice):
    model = fit("deep_ae", nsl_slice, seed=0)
    (_, _), (Xv, yv), _ = nsl_slice
    assert model.threshold_ == pytest.approx(np.percentile(model.score_samples(Xv)[~yv], 99))
    last = fit("deep_ae", nsl_slice, seed=0, threshold_rule="last_loss")
    assert last.threshold_ == last.history_["loss"][-1]
