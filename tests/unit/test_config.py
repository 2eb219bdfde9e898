import pytest

from iotad.clean import CleaningOptions
from iotad.config import ConfigError, cleaning_options, resolve_datasets
from iotad.registry import load_registry

REG = load_registry()


def test_patterns_expand_in_registry_order():
    assert resolve_datasets(["n-baiot-*"], REG)[0] == "n-baiot-danmini-doorbell"
    assert len(resolve_datasets(["n-baiot-*", "kddcup99", "kddcup99"], REG)) == 10


def test_unknown_dataset_names_the_entry_and_lists_known_ones():
    with pytest.raises(ConfigError, match=r"'kdd-cup' matches no dataset.*nsl-kdd"):
        resolve_datasets(["kdd-cup"], REG)


def test_overrides_apply_per_dataset():
    pre = {
        "nan_policy": "drop",
        "drop_duplicates": False,
        "drop_columns": ["x"],
        "overrides": {"iot-23": {"nan_policy": "zero"}},
    }
    assert cleaning_options(pre, "iot-23") == CleaningOptions("zero", False, ("x",))
    assert cleaning_options(pre, "kddcup99").nan_policy == "drop"


def test_invalid_nan_policy_is_rejected():
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        CleaningOptions(nan_policy="sometimes")


def test_misspelt_override_dataset_is_refused():
    from iotad.config import check_overrides

    with pytest.raises(ConfigError, match=r"overrides names unknown datasets \['ton-iot-netwrok'\]"):
        check_overrides({"overrides": {"ton-iot-netwrok": {"drop_duplicates": True}}}, REG)
    check_overrides({"overrides": {"ton-iot-network": {}}}, REG)
