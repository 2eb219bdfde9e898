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
    scores = model.decision_function(Xt)
    m = binary_metrics(yt, scores, model.predict(Xt))
    print(
        f"{variant}: val_loss {model.history_['val_loss'][0]:.4f} -> {min(model.history_['val_loss']):.4f}, "
        f"AUROC {m['auroc']:.3f}, accuracy {m['accuracy']:.3f}, {model.n_params_} parameters"
    )
    assert min(model.history_["val_loss"]) < model.history_["val_loss"][0]
    assert m["auroc"] > 0.8


def test_same_seed_same_metrics_other_seed_different(nsl_slice):
    Xt, yt = nsl_slice[2]
    runs = [fit("deep_ae", nsl_slice, seed=s) for s in (3, 3, 4)]
    scores = [r.decision_function(Xt) for r in runs]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert runs[0].threshold_ == runs[1].threshold_
    assert not np.array_equal(scores[0], scores[2])


def test_threshold_comes_from_validation_normals(nsl_slice):
    model = fit("deep_ae", nsl_slice, seed=0)
    (_, _), (Xv, yv), _ = nsl_slice
    assert model.threshold_ == pytest.approx(np.percentile(model.decision_function(Xv)[~yv], 99))
    last = fit("deep_ae", nsl_slice, seed=0, threshold_rule="last_loss")
    assert last.threshold_ == last.history_["loss"][-1]


def _val_loss_rises(data):
    """Validation normals unlike the training normals (mirrored features): their reconstruction
    loss is lowest after the first epoch and then climbs, so restoring the best epoch is visible."""
    (X, y), _, test = data
    normal = X[~y][:3000]
    mirrored = 1.0 - normal[:1000]
    return (normal, np.zeros(len(normal), bool)), (mirrored, np.zeros(len(mirrored), bool)), test


def test_no_early_stopping_keeps_the_last_epochs_weights(nsl_slice):
    """patience None (the papers' fixed budgets): the fitted model is the last epoch's, whose loss on
    the validation rows is the history's last val_loss, not its minimum. With a patience that never
    runs out, Keras restores the best validation epoch: a checkpoint chosen on validation data."""
    from iotad.models.autoencoders import AutoencoderDetector

    (X, y), (Xv, yv), _ = _val_loss_rises(nsl_slice)
    runs = {
        patience: AutoencoderDetector(
            variant="denoising_ae", epochs=6, batch_size=256, seed=0, threads=2, patience=patience
        ).fit(X, y, Xv, yv)
        for patience in (None, 100)
    }
    for patience, model in runs.items():
        val_loss = model.history_["val_loss"]
        assert np.argmin(val_loss) < len(val_loss) - 1  # the setting this test needs: the best epoch is not the last
        final = float(np.mean(model.decision_function(Xv)))  # denoising_ae's val_loss is the plain MSE (no penalty)
        expected = val_loss[-1] if patience is None else min(val_loss)
        assert final == pytest.approx(expected, rel=1e-4), patience


def test_train_mse_and_the_notebooks_last_loss_threshold_beside_the_configured_rule(nsl_slice):
    model = fit("sparse_deep_denoising_ae", nsl_slice, seed=0)
    (X, y), _, _ = nsl_slice
    reconstruction = model.model_.predict_on_batch(X[~y])  # inference mode: no input dropout
    assert model.train_mse_ == pytest.approx(float(np.mean((X[~y] - reconstruction) ** 2)), rel=1e-5)
    # The notebook's rule is the last epoch's training loss, dropout and L1 penalty included: above the plain MSE.
    assert model.alternative_thresholds_ == {"last_loss": model.history_["loss"][-1]}
    assert model.history_["loss"][-1] > model.train_mse_
    assert fit("deep_ae", nsl_slice, seed=0, threshold_rule="last_loss").alternative_thresholds_ == {}


@pytest.mark.parametrize("sparse, dense", [("sparse_deep_denoising_ae", "denoising_ae")])
def test_default_sparse_variant_has_a_sparser_code_than_its_dense_twin(
    nsl_slice, config_hyperparameters, sparse, dense
):
    """At the default run's L1 the sparse variant's 8-unit code is measurably sparser than the same
    network's without the penalty, same seed (at the notebook's 1e-5 the two codes matched: mean |code|
    ratio ~0.98, AUROC within 0.0007)."""
    import keras

    options = config_hyperparameters[sparse].get("layer_options", {})
    Xt = nsl_slice[2][0]
    codes = {}
    for variant, layer_options in ((sparse, options), (dense, {})):
        model = fit(variant, nsl_slice, seed=0, layer_options=layer_options)
        codes[variant] = keras.Model(model.model_.input, model.model_.get_layer("code").output).predict(Xt, verbose=0)
    ratio = np.abs(codes[sparse]).mean() / np.abs(codes[dense]).mean()
    print(
        f"{sparse} {options}: mean |code| {ratio:.3f} of {dense}'s; zero share "
        f"{(codes[sparse] == 0).mean():.2f} vs {(codes[dense] == 0).mean():.2f}"
    )
    assert ratio < 0.75
    # sparser, not merely smaller: more of the code's units are exactly off (ReLU) per record
    assert (codes[sparse] == 0).mean() > (codes[dense] == 0).mean() + 0.1
