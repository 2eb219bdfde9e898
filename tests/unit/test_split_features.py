import json

import numpy as np
import pandas as pd
import pytest

from iotad.config import ConfigError
from iotad.features import FeatureTransform, matrix_frame, read_matrix
from iotad.registry import load_registry
from iotad.split import check_kind_overrides, split_dataset, split_kind, split_names, split_report

REG = load_registry()


def clean_frame(n=400, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    family = rng.choice(["normal", "dos", "probe"], size=n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame(
        {
            "record_id": np.arange(n),
            "bytes": rng.uniform(0, 100, n) + offset,
            "count": rng.integers(0, 5, n),
            "proto": rng.choice(["tcp", "udp"], n),
            "label": family,
            "family": family,
            "is_attack": family != "normal",
        }
    )


@pytest.mark.parametrize("grouped", [True, False])
def test_stratified_split_is_seeded_disjoint_and_keeps_family_shares(grouped):
    spec = REG.dataset("unsw-nb15")
    parts = {"all": clean_frame()}  # every feature vector distinct: grouping changes only the draw
    a = split_dataset(parts, spec, seed=0, val_size=0.1, group_duplicates=grouped)
    b = split_dataset(parts, spec, seed=0, val_size=0.1, group_duplicates=grouped)
    c = split_dataset(parts, spec, seed=1, val_size=0.1, group_duplicates=grouped)
    assert list(a) == split_names(spec) == ["train", "val", "test"]
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["test"]["record_id"].equals(c["test"]["record_id"])
    ids = [set(a[s]["record_id"]) for s in a]
    assert sum(map(len, ids)) == 400 and not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert abs(len(a["test"]) - 120) <= (2 if grouped else 1)  # grouped: rounded per family
    shares = a["test"]["family"].value_counts(normalize=True)
    assert abs(shares["normal"] - parts["all"]["family"].value_counts(normalize=True)["normal"]) < 0.02


def test_official_splits_keep_test_files_and_carve_validation_from_training():
    spec = REG.dataset("nsl-kdd")
    parts = {
        "train": clean_frame(300),
        "test": clean_frame(50, 1),
        "test21": clean_frame(40, 2),
        "train20": clean_frame(30, 3),
    }
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


def duplicated_frame(n=1500, seed=0):
    """Rows drawn from ~400 feature vectors (a few heavy ones, like kddcup99's smurf), families tied
    to the vector but not always (the same vector can carry two labels)."""
    rng = np.random.default_rng(seed)
    code = np.where(rng.random(n) < 0.15, rng.integers(0, 3, n), rng.integers(3, 400, n))
    family = np.array(["normal", "normal", "dos", "probe", "normal"])[code % 5]
    noisy = rng.random(n) < 0.05
    family[noisy] = rng.choice(["normal", "dos", "probe"], noisy.sum())
    return pd.DataFrame(
        {
            "record_id": np.arange(n),
            "bytes": (code * 7 % 101).astype(float),
            "count": code // 101,
            "proto": np.where(code % 3, "tcp", "udp"),
            "label": family,
            "family": family,
            "is_attack": family != "normal",
        }
    )


FEATURES = ["bytes", "count", "proto"]


def shared_vectors(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Oracle: rows of ``b`` whose feature vector also occurs in ``a`` (a plain pandas join)."""
    return len(b.merge(a[FEATURES].drop_duplicates(), on=FEATURES))


def test_grouped_split_keeps_every_feature_vector_on_one_side():
    frame = duplicated_frame()
    spec = REG.dataset("unsw-nb15")
    splits = split_dataset({"all": frame}, spec, seed=0, val_size=0.1)  # grouping is the default
    train, val, test = splits["train"], splits["val"], splits["test"]
    assert shared_vectors(train, test) == 0 and shared_vectors(train, val) == 0 and shared_vectors(val, test) == 0
    assert sorted(pd.concat(splits.values())["record_id"]) == list(range(len(frame)))
    # Requested shares hold within a few of the (up to ~60-row) groups; family shares too.
    assert abs(len(test) / len(frame) - 0.3) < 0.04 and abs(len(val) / (len(frame) - len(test)) - 0.1) < 0.04
    overall = frame["family"].value_counts(normalize=True)
    for part in (train, test):
        shares = part["family"].value_counts(normalize=True)
        assert (shares.reindex(overall.index).fillna(0) - overall).abs().max() < 0.06
    # The seed fixes everything; another seed draws another split.
    again = split_dataset({"all": frame}, spec, seed=0, val_size=0.1)
    for name in splits:
        pd.testing.assert_frame_equal(splits[name], again[name])
    other = split_dataset({"all": frame}, spec, seed=1, val_size=0.1)
    assert set(other["test"]["record_id"]) != set(test["record_id"])
    assert set(other["val"]["record_id"]) != set(val["record_id"])


def test_ungrouped_split_is_todays_row_split():
    frame = duplicated_frame()
    spec = REG.dataset("unsw-nb15")
    splits = split_dataset({"all": frame}, spec, seed=0, val_size=0.1, group_duplicates=False)
    assert shared_vectors(splits["train"], splits["test"]) > 0.5 * len(splits["test"])  # repeats cross sides
    assert len(splits["test"]) == 450


def test_validation_carve_out_from_an_official_training_file_is_grouped():
    spec = REG.dataset("nsl-kdd")
    parts = {
        "train": duplicated_frame(),
        "test": clean_frame(50, 1),
        "test21": clean_frame(40, 2),
        "train20": clean_frame(30, 3),
    }
    splits = split_dataset(parts, spec, seed=0, val_size=0.2)
    assert shared_vectors(splits["train"], splits["val"]) == 0
    assert abs(len(splits["val"]) / 1500 - 0.2) < 0.04 and len(splits["test"]) == 50


def test_leave_one_family_out_draw_ignores_the_familys_rows_and_keeps_the_grids_test_rows():
    frame, spec = clean_frame(600), REG.dataset("unsw-nb15")
    grid = split_dataset({"all": frame}, spec, seed=3, val_size=0.1)
    probe = frame["family"] == "probe"
    altered = pd.concat([frame[~probe], frame[probe].iloc[::2].assign(bytes=1e9)])  # other values, fewer rows
    views = [split_dataset({"all": f}, spec, seed=3, val_size=0.1, exclude_family="probe") for f in (frame, altered)]
    for name in ("train", "val"):
        pd.testing.assert_frame_equal(views[0][name], views[1][name])
        assert not (views[0][name]["family"] == "probe").any()
    others = [v["test"][v["test"]["family"] != "probe"] for v in views]
    pd.testing.assert_frame_equal(others[0], others[1])
    # One stream per family: the view's test split is the grid's, probe rows included.
    pd.testing.assert_frame_equal(views[0]["test"], grid["test"])
    assert abs(views[1]["test"]["family"].eq("probe").sum() - 0.3 * (altered["family"] == "probe").sum()) <= 1


def test_split_report_counts_rows_repeating_a_training_vector():
    frame = duplicated_frame()
    spec = REG.dataset("unsw-nb15")
    splits = split_dataset({"all": frame}, spec, seed=0, val_size=0.1, group_duplicates=False)
    report = split_report(splits)
    for name, part in splits.items():
        entry = report["splits"][name]
        assert entry["rows"] == len(part) and entry["attack_rows"] == int(part["is_attack"].sum())
        assert entry["families"] == part["family"].value_counts().to_dict()
        assert entry["distinct_vectors"] == len(part[FEATURES].drop_duplicates())
        if name == "train":
            continue
        repeats, attack_repeats = (
            shared_vectors(splits["train"], part),
            shared_vectors(splits["train"], part[part["is_attack"]]),
        )
        assert entry["rows_in_train"] == repeats > 0 and entry["share_in_train"] == pytest.approx(repeats / len(part))
        assert entry["attack_rows_in_train"] == attack_repeats
        assert entry["attack_share_in_train"] == pytest.approx(attack_repeats / part["is_attack"].sum())
    grouped = split_report(split_dataset({"all": frame}, spec, seed=0, val_size=0.1))
    assert grouped["splits"]["test"]["rows_in_train"] == 0 and grouped["splits"]["val"]["rows_in_train"] == 0


def test_split_report_share_without_attacks_is_null_with_a_reason():
    frame = clean_frame(60)
    splits = {"train": frame, "val": frame.iloc[:5], "test": frame[~frame["is_attack"]].iloc[:10]}
    entry = split_report(splits)["splits"]["test"]
    assert entry["attack_rows"] == 0 and entry["attack_share_in_train"] is None
    assert "no attack rows" in entry["attack_share_in_train_note"]
    assert entry["rows_in_train"] == 10 and entry["share_in_train"] == 1.0


def test_split_kind_overrides_first_match_wins_and_are_checked():
    no_mirai = ["n-baiot-ennio-doorbell", "n-baiot-samsung-snh-1011-n-webcam"]
    overrides = {**dict.fromkeys(no_mirai, "stratified"), "n-baiot-*": "vu_nbaiot"}
    check_kind_overrides(overrides, REG)
    assert split_kind(REG.dataset("n-baiot-danmini-doorbell"), overrides) == "vu_nbaiot"
    assert split_kind(REG.dataset("n-baiot-ennio-doorbell"), overrides) == "stratified"
    assert split_kind(REG.dataset("unsw-nb15"), overrides) == "stratified"
    with pytest.raises(
        ConfigError,
        match=r"split.kind_overrides: 'n-baiot-\*'.*n-baiot-ennio-doorbell, "
        r"n-baiot-samsung-snh-1011-n-webcam: no Mirai",
    ):
        check_kind_overrides({"n-baiot-*": "vu_nbaiot"}, REG)
    with pytest.raises(ConfigError, match=r"split.kind_overrides: 'unsw-nb15'.*vu_nbaiot.*gafgyt and mirai"):
        check_kind_overrides({"unsw-nb15": "vu_nbaiot"}, REG)
    with pytest.raises(ConfigError, match=r"split.kind_overrides: 'nsl-kdd' .*official test files"):
        check_kind_overrides({"nsl-kdd": "stratified"}, REG)
    with pytest.raises(ConfigError, match=r"split.kind_overrides: 'n-baiot-nope' matches no dataset"):
        check_kind_overrides({"n-baiot-nope": "vu_nbaiot"}, REG)


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
    np.testing.assert_array_equal(
        subset, X[:, [fitted.feature_names.index(n) for n in ("bytes", "proto=tcp", "proto=udp")]]
    )
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


def test_an_absent_held_out_family_is_an_error_not_the_full_split():
    with pytest.raises(ValueError, match="held-out family 'worms' does not occur in the training rows"):
        split_dataset({"all": clean_frame()}, REG.dataset("unsw-nb15"), seed=0, val_size=0.1, exclude_family="worms")


def test_a_family_of_one_repeated_vector_is_named_as_short_of_its_share():
    from iotad.split import held_share_shortfalls

    frame = clean_frame(400)
    dos = frame["family"] == "dos"
    frame.loc[dos, ["bytes", "count", "proto"]] = [1.0, 1, "tcp"]  # every dos row the same vector: one group
    splits = split_dataset({"all": frame}, REG.dataset("unsw-nb15"), seed=0, val_size=0.1)
    assert (splits["test"]["family"] == "dos").sum() == 0  # kept whole on the training side
    n_dos = int(dos.sum())
    assert held_share_shortfalls(splits, 0.3) == {"dos": f"0 of {n_dos} rows in test (target 30%)"}
    tiny = {"train": frame.head(5).assign(family=["normal"] * 3 + ["cnc"] * 2), "val": frame.head(0)}
    assert held_share_shortfalls(tiny, 0.1, "val") == {}  # 0.2 rows of cnc cannot be held out
