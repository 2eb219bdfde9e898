"""Real data: the registry's checksums against the mirror, and parsed counts against published ones."""

import pytest

from iotad.clean import CleaningOptions, clean_part
from iotad.download import fetch
from iotad.parse import ParseError, identify_partition, parse_part
from iotad.registry import load_registry

pytestmark = pytest.mark.realdata
REG = load_registry()
MIRRORED = [k for k in REG.files if not k.startswith(("n-baiot/", "cic-ids2017/"))] + [
    "n-baiot/demonstrate_structure.csv.gz"
]


@pytest.mark.parametrize("key", MIRRORED)
def test_registry_checksum_verifies_the_mirror_copy(key, mirror, tmp_path):
    assert fetch(REG.file(key), tmp_path / key, [mirror]) == str(mirror / key)


_cache = {}


def parsed(mirror, dataset, part):
    if (dataset, part) not in _cache:
        spec = REG.dataset(dataset)
        aux = {k: mirror / k for k in spec.aux_files}
        _cache[dataset, part] = parse_part(spec, [mirror / f for f in spec.parts[part]], aux)
    return _cache[dataset, part]


@pytest.mark.parametrize(
    "dataset, part, rows, labels",
    [
        ("kddcup99", "train", 494_021, {"smurf": 280_790, "neptune": 107_201, "normal": 97_278, "spy": 2}),
        ("kddcup99", "test", 311_029, {"smurf": 164_091, "normal": 60_593, "snmpgetattack": 7_741, "mailbomb": 5_000}),
        ("nsl-kdd", "train", 125_973, {"normal": 67_343, "neptune": 41_214, "satan": 3_633}),
        ("nsl-kdd", "test", 22_544, {"normal": 9_711, "neptune": 4_657, "mscan": 996}),
        ("nsl-kdd", "test21", 11_850, {"normal": 2_152}),
        ("nsl-kdd", "train20", 25_192, {"normal": 13_449}),
        ("unsw-nb15", "all", 82_332, {"Normal": 37_000, "Generic": 18_871, "Worms": 44}),
        ("ton-iot-network", "all", 211_043, {"normal": 50_000, "mitm": 1_043, "xss": 20_000}),
        ("ton-iot-fridge", "all", 39_944, {"normal": 15_000, "xss": 2_042}),
        ("ton-iot-gps-tracker", "all", 38_960, {"normal": 15_000, "scanning": 550}),
        ("ton-iot-garage-door", "all", 39_587, {"normal": 15_000, "xss": 1_156}),
        ("ton-iot-modbus", "all", 31_106, {"normal": 15_000, "scanning": 529}),
        ("ton-iot-motion-light", "all", 39_488, {"normal": 15_000, "scanning": 1_775}),
        ("ton-iot-thermostat", "all", 32_774, {"normal": 15_000, "scanning": 61}),
        ("ton-iot-weather", "all", 39_260, {"normal": 15_000, "xss": 866}),
        ("iot-23", "all", 4_878, {"-": 452 + 4_420, "FileDownload": 3, "C&C-FileDownload": 3}),
    ],
)
def test_published_row_and_label_counts(mirror, dataset, part, rows, labels):
    frame = parsed(mirror, dataset, part)
    spec = REG.dataset(dataset)
    assert len(frame) == rows
    counts = frame[spec.label_column].value_counts()
    assert {k: counts.get(k, 0) for k in labels} == labels
    # Every label of the real data has a family, so cleaning with the default options succeeds.
    out, report = clean_part(frame, spec, CleaningOptions(nan_policy="zero"), dataset)
    assert report["rows_out"] == rows


def test_kdd_columns_come_from_kddcup_names(mirror):
    frame = parsed(mirror, "nsl-kdd", "train")
    assert frame.columns[:4].tolist() == ["duration", "protocol_type", "service", "flag"]
    assert frame.columns[-2:].tolist() == ["label", "difficulty"]
    assert frame["difficulty"].between(0, 21).all() and frame.shape[1] == 43


def test_kdd_families_and_test_only_attacks(mirror):
    spec = REG.dataset("kddcup99")
    train, _ = clean_part(parsed(mirror, "kddcup99", "train"), spec, CleaningOptions(), "train")
    test, _ = clean_part(parsed(mirror, "kddcup99", "test"), spec, CleaningOptions(), "test")
    assert train["family"].value_counts().to_dict() == {
        "dos": 391_458,
        "normal": 97_278,
        "probe": 4_107,
        "r2l": 1_126,
        "u2r": 52,
    }
    unseen = set(test["label"]) - set(train["label"])
    assert {"mailbomb", "apache2", "snmpgetattack", "mscan", "httptunnel"} <= unseen
    assert int(train["is_attack"].sum()) == 494_021 - 97_278


def test_ton_iot_network_duplicates_and_binary_label(mirror):
    spec = REG.dataset("ton-iot-network")
    frame = parsed(mirror, "ton-iot-network", "all")
    _, report = clean_part(frame, spec, CleaningOptions(drop_duplicates=True), "ton")
    assert report["duplicate_rows_as_parsed"] == 20_569
    assert report["attack_rows"] + report["family_counts"]["normal"] == report["rows_out"]
    assert report["rows_out"] == 211_043 - report["duplicate_rows"]


def test_unsw_partition_is_identified_by_row_count(mirror):
    spec = REG.dataset("unsw-nb15")
    rows = len(parsed(mirror, "unsw-nb15", "all"))
    assert identify_partition(spec, rows, "unsw").startswith("UNSW-NB15 testing-set")
    with pytest.raises(
        ParseError, match=r"unsw: 1,000 rows match no known partition of unsw-nb15 \(82,332, 175,341 rows\)"
    ):
        identify_partition(spec, 1_000, "unsw")
