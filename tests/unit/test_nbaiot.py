"""N-BaIoT loader on a fixture built from the real 115-column header (from the mirror) and real
.rar archives (stored RAR 4, read through rarfile and Debian's `unar`)."""

import csv
import gzip
import shutil

import numpy as np
import pandas as pd
import pytest
import rarfile
from rar_fixture import write_stored_rar

from iotad.parse import ParseError, read_nbaiot

pytestmark = pytest.mark.realdata  # the header file comes from the mirror


@pytest.fixture
def device(tmp_path, mirror):
    header_file = mirror / "n-baiot/demonstrate_structure.csv.gz"
    with gzip.open(header_file, "rt") as fh:
        header = next(csv.reader(fh))
    assert len(header) == 115

    def rows(n, value):
        return ",".join(header) + "\n" + "".join(",".join([str(value)] * 115) + "\n" for _ in range(n))

    (tmp_path / "benign_traffic.csv").write_text(rows(4, 0.5))
    write_stored_rar(
        tmp_path / "gafgyt_attacks.rar", {"combo.csv": rows(2, 1).encode(), "udp.csv": rows(3, 2).encode()}
    )
    write_stored_rar(tmp_path / "mirai_attacks.rar", {"syn.csv": rows(1, 3).encode()})
    files = [tmp_path / n for n in ("benign_traffic.csv", "gafgyt_attacks.rar", "mirai_attacks.rar")]
    return files, header_file, header


@pytest.mark.parametrize("through_unar", [False, True])
def test_benign_csv_and_rar_members_become_labelled_rows(device, monkeypatch, through_unar):
    if through_unar:
        assert shutil.which("unar"), "Debian's unar is required (apt-get install unar)"
        monkeypatch.setattr(rarfile, "FORCE_TOOL", True)  # extract with unar, not rarfile's own reader
    files, header_file, header = device
    frame = read_nbaiot(files, header_file)
    assert list(frame.columns) == header + ["label"]
    assert frame["label"].value_counts().to_dict() == {"benign": 4, "gafgyt.udp": 3, "gafgyt.combo": 2, "mirai.syn": 1}
    assert frame.loc[frame["label"] == "mirai.syn", header[0]].tolist() == [3.0]


def test_member_with_wrong_columns_is_named(device, tmp_path):
    files, header_file, header = device
    bad = ",".join(header[:-1]) + "\n" + ",".join(["1"] * 114) + "\n"
    write_stored_rar(files[1], {"junk.csv": bad.encode()})
    with pytest.raises(ParseError, match=r"gafgyt_attacks.rar:junk.csv: columns differ .*114 columns"):
        read_nbaiot(files, header_file)


@pytest.fixture
def varied_device(tmp_path, mirror):
    """A device's three files with varied rows (and a few repeated vectors), parsed and cleaned."""
    from iotad.clean import CleaningOptions, clean_part
    from iotad.registry import load_registry

    header_file = mirror / "n-baiot/demonstrate_structure.csv.gz"
    with gzip.open(header_file, "rt") as fh:
        header = next(csv.reader(fh))
    rng = np.random.default_rng(7)

    def rows(n, level):
        values = np.round(level + rng.integers(0, max(n // 2, 1), (n, 1)) + np.zeros((1, 115)), 1)  # ~2 rows per vector
        return ",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in values)

    (tmp_path / "benign_traffic.csv").write_text(rows(200, 0))
    write_stored_rar(
        tmp_path / "gafgyt_attacks.rar", {"combo.csv": rows(40, 1000).encode(), "udp.csv": rows(30, 2000).encode()}
    )
    write_stored_rar(
        tmp_path / "mirai_attacks.rar", {"syn.csv": rows(25, 3000).encode(), "ack.csv": rows(15, 4000).encode()}
    )
    files = [tmp_path / n for n in ("benign_traffic.csv", "gafgyt_attacks.rar", "mirai_attacks.rar")]
    spec = load_registry().dataset("n-baiot-danmini-doorbell")
    frame, _ = clean_part(read_nbaiot(files, header_file), spec, CleaningOptions(), "fixture")
    return spec, frame, header


def test_vu_protocol_trains_on_benign_and_gafgyt_and_tests_on_held_out_benign_and_every_mirai(varied_device):
    from iotad.split import split_dataset

    spec, frame, header = varied_device
    splits = split_dataset({"all": frame}, spec, seed=0, val_size=0.1, kind="vu_nbaiot")
    train, val, test = splits["train"], splits["val"], splits["test"]
    assert set(train["family"]) == set(val["family"]) == {"normal", "gafgyt"}  # validation from the training side
    assert test["family"].value_counts().to_dict() == {"normal": test["family"].eq("normal").sum(), "mirai": 40}
    assert sorted(pd.concat(splits.values())["record_id"]) == sorted(frame["record_id"])
    benign = frame["family"].eq("normal").sum()
    assert abs(test["family"].eq("normal").sum() / benign - 0.3) < 0.03  # the held-out benign share (test_size)
    assert train["family"].eq("gafgyt").sum() + val["family"].eq("gafgyt").sum() == 70
    # Grouped (the default): no benign vector on both sides.
    key = header
    assert not len(test.merge(pd.concat([train, val])[key].drop_duplicates(), on=key))
    again = split_dataset({"all": frame}, spec, seed=0, val_size=0.1, kind="vu_nbaiot")
    pd.testing.assert_frame_equal(again["test"], test)
    other = split_dataset({"all": frame}, spec, seed=1, val_size=0.1, kind="vu_nbaiot")
    assert set(other["test"]["record_id"]) != set(test["record_id"])


def test_vu_protocol_without_mirai_rows_is_refused(varied_device):
    from iotad.split import split_dataset

    spec, frame, _ = varied_device
    with pytest.raises(
        ValueError, match=r"n-baiot-danmini-doorbell: split kind vu_nbaiot needs mirai rows .*stratified"
    ):
        split_dataset({"all": frame[frame["family"] != "mirai"]}, spec, seed=0, val_size=0.1, kind="vu_nbaiot")
