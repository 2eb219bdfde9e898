import numpy as np
import pandas as pd
import pytest

from iotad.clean import CleaningOptions, LabelError, clean_part
from iotad.registry import load_registry

UNSW = load_registry().dataset("unsw-nb15")


def frame(**overrides):
    data = {
        "id": [1, 2, 3, 4, 5],
        "dur": [0.1, np.nan, 0.3, np.inf, 0.1],
        "proto": ["tcp", "udp", None, "tcp", "tcp"],
        "attack_cat": ["Normal", "DoS", "Exploits", " Normal ", "Normal"],
        "label": [0, 1, 1, 0, 0],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_families_binary_label_and_record_ids():
    out, report = clean_part(frame(dur=[0.1, 0.2, 0.3, 0.4, 0.5]), UNSW, CleaningOptions(), "f.parquet")
    assert out.columns.tolist() == ["record_id", "dur", "proto", "label", "family", "is_attack"]
    assert out["family"].tolist() == ["normal", "dos", "exploits", "normal", "normal"]
    assert out["is_attack"].tolist() == [False, True, True, False, False]
    assert out["record_id"].tolist() == [0, 1, 2, 3, 4]
    assert report["dropped_columns"] == ["id"] and report["family_counts"]["normal"] == 3


def test_unknown_labels_are_listed_with_counts():
    bad = frame(attack_cat=["Normal", "Teleport", "Teleport", "Warp", "Normal"])
    with pytest.raises(
        LabelError, match=r"f.parquet: labels not in the family map.*'Teleport' \(2 rows\), 'Warp' \(1 rows\)"
    ):
        clean_part(bad, UNSW, CleaningOptions(), "f.parquet")


def test_binary_label_contradicting_the_family_is_an_error():
    with pytest.raises(LabelError, match="1 rows where 'label' contradicts"):
        clean_part(frame(label=[1, 1, 1, 0, 0]), UNSW, CleaningOptions(), "f.parquet")


def test_nan_and_inf_drop_policy_counts_and_drops():
    out, report = clean_part(frame(), UNSW, CleaningOptions("drop"), "f")
    assert report["nan_values"] == {"dur": 1} and report["inf_values"] == {"dur": 1}
    assert report["rows_dropped_nan_or_inf"] == 2 and len(out) == 3
    assert out["record_id"].tolist() == [0, 2, 4]  # ids still point at the parsed rows
    assert report["missing_text_values"] == {"proto": 1} and out["proto"].tolist()[1] == "missing"


@pytest.mark.parametrize("policy, filled", [("zero", [0.0, 0.0]), ("median", [0.1, 0.1])])
def test_nan_and_inf_impute_policies(policy, filled):
    out, report = clean_part(frame(), UNSW, CleaningOptions(policy), "f")
    assert len(out) == 5 and report["rows_dropped_nan_or_inf"] == 0
    assert out["dur"].iloc[[1, 3]].tolist() == filled
    assert np.isfinite(out["dur"]).all()


def test_duplicates_counted_and_optionally_removed():
    dup = frame(dur=[0.1, 0.2, 0.3, 0.4, 0.1], proto=["tcp"] * 5)  # rows 0 and 4 repeat (ids differ, dropped)
    _, kept = clean_part(dup, UNSW, CleaningOptions(), "f")
    out, removed = clean_part(dup, UNSW, CleaningOptions(drop_duplicates=True), "f")
    assert kept["duplicate_rows"] == 1 and kept["rows_out"] == 5
    assert removed["duplicates_removed"] and len(out) == 4 and out["record_id"].tolist() == [0, 1, 2, 3]


def test_median_of_a_column_without_finite_values_is_zero():
    out, _ = clean_part(frame(dur=[np.nan, np.inf, np.nan, -np.inf, np.nan]), UNSW, CleaningOptions("median"), "f")
    assert out["dur"].tolist() == [0.0] * 5


def test_a_part_that_cleaning_empties_is_an_error_not_a_0_row_output():
    from iotad.clean import EmptyPartError

    with pytest.raises(
        EmptyPartError, match=r"^parsed/x.parquet: cleaning left no rows \(5 in, 5 dropped for NaN/inf\)"
    ):
        clean_part(
            frame(dur=[np.nan, np.inf, np.nan, -np.inf, np.nan]), UNSW, CleaningOptions("drop"), "parsed/x.parquet"
        )
