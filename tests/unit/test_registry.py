import pytest
import yaml

from iotad.registry import load_registry

REG = load_registry()


def test_every_dataset_family_is_known():
    expected = {"kddcup99", "nsl-kdd", "unsw-nb15", "ton-iot-network", "iot-23", "cic-ids2017"}
    assert expected <= set(REG.datasets)
    telemetry = [d for d in REG.datasets if d.startswith("ton-iot-") and d != "ton-iot-network"]
    assert len(telemetry) == 7
    assert len([d for d in REG.datasets if d.startswith("n-baiot-")]) == 9


def test_pinned_hashes_are_sha256_and_every_file_has_a_source():
    for spec in REG.files.values():
        assert spec.sources, spec.key
        if spec.sha256 is not None:
            assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0, spec.key
    # Everything the local mirror holds is pinned; only internet-only files may be unpinned.
    unpinned = {k.split("/")[0] for k, s in REG.files.items() if s.sha256 is None}
    assert unpinned <= {"n-baiot", "cic-ids2017"}


def test_kdd_family_map_covers_the_test_only_attack_types():
    fam = REG.dataset("kddcup99").family_map
    test_only = {
        "mailbomb": "dos",
        "apache2": "dos",
        "processtable": "dos",
        "udpstorm": "dos",
        "mscan": "probe",
        "saint": "probe",
        "snmpgetattack": "r2l",
        "snmpguess": "r2l",
        "named": "r2l",
        "sendmail": "r2l",
        "xlock": "r2l",
        "xsnoop": "r2l",
        "worm": "r2l",
        "httptunnel": "u2r",
        "ps": "u2r",
        "sqlattack": "u2r",
        "xterm": "u2r",
    }
    for label, family in test_only.items():
        assert fam[label] == family
    assert REG.dataset("nsl-kdd").family_map == fam


def test_cic_families_follow_the_datasets_paper():
    # Sharafaldin et al. 2018 (ICISSP), Sec. 4 attack profiles; PortScan as labelled (Friday afternoon).
    profiles = {
        "normal": ["BENIGN"],
        "dos": ["DoS Hulk", "DoS GoldenEye", "DoS slowloris", "DoS Slowhttptest"],
        "ddos": ["DDoS"],
        "portscan": ["PortScan"],
        "heartbleed": ["Heartbleed"],  # an OpenSSL memory leak, not a denial of service
        "bruteforce": ["FTP-Patator", "SSH-Patator"],
        "webattack": ["Web Attack - Brute Force", "Web Attack - XSS", "Web Attack - Sql Injection"],
        "botnet": ["Bot"],
        "infiltration": ["Infiltration"],
    }
    assert REG.dataset("cic-ids2017").family_map == {label: f for f, labels in profiles.items() for label in labels}


def test_nbaiot_devices_without_mirai_have_no_mirai_file():
    for device in ("ennio-doorbell", "samsung-snh-1011-n-webcam"):
        files = REG.dataset(f"n-baiot-{device}").parts["all"]
        assert not any("mirai" in f for f in files)
    assert any("mirai" in f for f in REG.dataset("n-baiot-danmini-doorbell").parts["all"])


@pytest.mark.parametrize(
    "key",
    [
        "../outside/x.csv",
        "kdd/../../etc/passwd",
        "/tmp/x.csv",
        "single.csv",
        "kdd//x.csv",
        "kdd/./x.csv",
        "kdd\\..\\x.csv",
        "C:/x.csv",
    ],
)
def test_a_file_key_that_could_leave_the_raw_directory_is_refused(tmp_path, key):
    """A registry key becomes results/raw/<key> and <mirror>/<key>: one with '..' wrote outside results/."""
    from iotad.registry import RegistryError, load_registry

    registry = tmp_path / "registry.yaml"
    registry.write_text(
        yaml.safe_dump({"files": {key: {"sha256": None, "urls": ["https://example.org/x.csv"]}}, "datasets": {}})
    )
    with pytest.raises(RegistryError, match=r"registry\.yaml: file key .* must be <source>/<file>"):
        load_registry(registry)


def test_a_dataset_name_must_be_a_plain_directory_name(tmp_path):
    from iotad.registry import RegistryError, load_registry

    registry = tmp_path / "registry.yaml"
    registry.write_text(
        yaml.safe_dump(
            {
                "files": {},
                "datasets": {
                    "../x": {"format": "kdd", "parts": {}, "label_column": "label", "family_map": {}, "split": {}}
                },
            }
        )
    )
    with pytest.raises(RegistryError, match=r"dataset name '\.\./x' must be"):
        load_registry(registry)
