import json

import numpy as np
import pandas as pd
import pytest

from iotad.features import FeatureTransform, matrix_frame, read_matrix
from iotad.registry import load_registry
from iotad.split import split_dataset, split_names

REG = load_registry()


def clean_frame(n=400, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    family = rng.choice(["normal", "dos", "probe"], size=n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame({
        "record_id": np.arange(n),
        "bytes": rng.uniform(0, 100, n) + offset,
        "count": rng.integers(0, 5, n),
        "proto": rng.choice(["tcp", "udp"], n),
        "label": family, "family": family, "is_attack": family != "normal",
    })


def test_stratified_split_is_seeded_disjoint_and_keeps_family_shares():
    spec = REG.dataset("unsw-nb15")
    parts = {"all": clean_frame()}
    a = split_dataset(parts, spec, seed=0, val_size=0.1)
    b = split_dataset(parts, spec, seed=0, val_size=0.1)
    c = split_dataset(parts, spec, seed=1, val_size=0.1)
    assert list(a) == split_names(spec) == ["train", "val", "test"]
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["test"]["record_id"].equals(c["test"]["record_id"])
    ids = [set(a[s]["record_id"]) for s in a]
    assert sum(map(len, ids)) == 400 and not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert abs(len(a["test"]) - 120) <= 1
    shares = a["test"]["family"].value_counts(normalize=True)
    assert abs(shares["normal"] - parts["all"]["family"].value_counts(normalize=True)["normal"]) < 0.02


def test_official_splits_keep_test_files_and_carve_validation_from_training():
    spec = REG.dataset("nsl-kdd")
    parts = {"train": clean_frame(300), "test": clean_frame(50, 1), "test21": clean_frame(40, 2), "train20": clean_frame(30, 3)}
    splits = split_dataset(parts, spec, seed=0, val_size=0.2)
    assert list(splits) == ["train", "val", "test", "test21"]
    assert len(splits["train"]) + len(splits["val"]) == 300 and len(splits["val"]) == 60
    assert set(splits["val"]["part"]) == {"train"} and set(splits["test21"]["part"]) == {"test21"}
    assert len(splits["test"]) == 50


def test_single_row_family_does_not_break_stratification():
    frame = clean_frame(100)
    frame.loc[5, ["family", "label"]] = "u2r"
    splits = split_dataset({"all": frame}, REG.dataset("unsw-nb15"), seed=0, val_size=0.1)
    assert sum(len(s) for s in splits.values()) == 100


def test_transform_is_fitted_on_training_rows_only():
    train, test = clean_frame(200), clean_frame(200, seed=1, offset=50.0)  # test values reach 150
    fitted = FeatureTransform.fit(train)
    leaked = FeatureTransform.fit(pd.concat([train, test]))
    assert fitted.offset[0] == train["bytes"].min() and fitted.scale[0] == pytest.approx(np.ptp(train["bytes"]))
    assert fitted.offset != leaked.offset or fitted.scale != leaked.scale
    X_train, _ = fitted.transform(train)
    X_test, _ = fitted.transform(test)
    assert X_train[:, 0].min() == 0 and X_train[:, 0].max() == pytest.approx(1)
    assert X_test[:, 0].max() > 1.4  # test rows are not rescaled to fit
    assert fitted.feature_names == ["bytes", "count", "proto=tcp", "proto=udp"]


def test_unseen_category_becomes_zeros_and_is_counted(tmp_path):
    fitted = FeatureTransform.fit(clean_frame(50))
    test = clean_frame(10, seed=2)
    test.loc[[1, 4, 7], "proto"] = "sctp"
    X, unseen = fitted.transform(test)
    assert unseen == {"proto": 3}
    assert X[[1, 4, 7], 2:].sum() == 0 and X[0, 2:].sum() == 1

    fitted.to_json(tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text())["categorical"] == {"proto": ["tcp", "udp"]}
    again = FeatureTransform.from_json(tmp_path / "t.json")
    np.testing.assert_array_equal(again.transform(test)[0], X)


@pytest.mark.parametrize("scaler", ["standard", "maxabs"])
def test_other_scalers(scaler):
    train = clean_frame(300)
    X, _ = FeatureTransform.fit(train, scaler).transform(train)
    if scaler == "standard":
        assert abs(X[:, 0].mean()) < 1e-5 and X[:, 0].std() == pytest.approx(1, rel=1e-4)
    else:
        assert np.abs(X[:, 0]).max() == pytest.approx(1)


def test_matrix_round_trip(tmp_path):
    train = clean_frame(20).assign(part="train")
    fitted = FeatureTransform.fit(train)
    X, _ = fitted.transform(train)
    matrix_frame(X, fitted.feature_names, train).to_parquet(tmp_path / "m.parquet")
    back, rows = read_matrix(tmp_path / "m.parquet")
    np.testing.assert_array_equal(back, X)
    assert rows.columns.tolist() == ["record_id", "part", "label", "family", "is_attack"]


def test_feature_subset_and_another_datasets_missing_columns(tmp_path):
    train = clean_frame(20).assign(part="train")
    fitted = FeatureTransform.fit(train)
    X, _ = fitted.transform(train)
    matrix_frame(X, fitted.feature_names, train).to_parquet(tmp_path / "m.parquet")
    subset, _ = read_matrix(tmp_path / "m.parquet", ["bytes", "proto"])
    np.testing.assert_array_equal(subset, X[:, [fitted.feature_names.index(n) for n in ("bytes", "proto=tcp", "proto=udp")]])
    with pytest.raises(ValueError, match="no features from the columns \\['size'\\]"):
        read_matrix(tmp_path / "m.parquet", ["bytes", "size"])
    other = train.drop(columns=["count", "proto"])  # another dataset without two of the columns
    with pytest.raises(ValueError, match="columns missing"):
        fitted.transform(other)
    filled, unseen = fitted.transform(other, fill_missing=True)
    np.testing.assert_array_equal(filled[:, 0], X[:, 0])
    assert not filled[:, 1:].any() and unseen == {"proto": 20}  # absent numeric -> 0, categorical -> unseen


def test_categorical_only_dataset():
    train = clean_frame(30).drop(columns=["bytes", "count"])
    fitted = FeatureTransform.fit(train)
    X, _ = fitted.transform(train)
    assert fitted.feature_names == ["proto=tcp", "proto=udp"] and (X.sum(axis=1) == 1).all()
