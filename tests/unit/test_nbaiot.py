"""N-BaIoT loader on a fixture built from the real 115-column header (from the mirror) and real
.rar archives (stored RAR 4, read through rarfile and Debian's `unar`)."""

import csv
import gzip
import shutil

import pytest
import rarfile

from iotad.parse import ParseError, read_nbaiot
from rar_fixture import write_stored_rar


@pytest.fixture
def device(tmp_path, mirror):
    header_file = mirror / "n-baiot/demonstrate_structure.csv.gz"
    with gzip.open(header_file, "rt") as fh:
        header = next(csv.reader(fh))
    assert len(header) == 115

    def rows(n, value):
        return ",".join(header) + "\n" + "".join(",".join([str(value)] * 115) + "\n" for _ in range(n))

    (tmp_path / "benign_traffic.csv").write_text(rows(4, 0.5))
    write_stored_rar(tmp_path / "gafgyt_attacks.rar", {"combo.csv": rows(2, 1).encode(), "udp.csv": rows(3, 2).encode()})
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
