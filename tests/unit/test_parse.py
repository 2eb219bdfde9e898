import gzip

import pandas as pd
import pytest

from iotad.parse import ParseError, read_csv_with_header, read_kdd, read_zeek

SYMBOLIC = {1: "protocol_type", 2: "service", 3: "flag"}
NAMES = [SYMBOLIC.get(i, f"f{i}") for i in range(41)]


@pytest.fixture
def names_file(tmp_path):
    lines = ["back,normal,smurf."] + [f"{n}: {'symbolic' if n in SYMBOLIC.values() else 'continuous'}." for n in NAMES]
    path = tmp_path / "kddcup.names"
    path.write_text("\r\n".join(lines) + "\r\n")  # the original has CRLF line endings
    return path


def kdd_row(label="normal.", protocol="tcp", first="0"):
    values = [first, protocol, "http", "SF"] + ["1"] * 37
    return ",".join(values + [label])


def write_gz(path, lines):
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_kdd_labels_lose_the_trailing_dot_and_counts_become_integers(tmp_path, names_file):
    path = write_gz(tmp_path / "train.gz", [kdd_row("normal."), kdd_row("smurf.", "icmp", "2")])
    frame = read_kdd(path, names_file)
    assert list(frame.columns) == NAMES + ["label"]
    assert frame["label"].tolist() == ["normal", "smurf"]
    assert frame["f0"].dtype == "int64" and frame["protocol_type"].tolist() == ["tcp", "icmp"]


@pytest.mark.parametrize(
    "bad, problem",
    [
        (kdd_row() + ",extra", "43 fields, expected 42"),
        (kdd_row().rsplit(",", 1)[0], "41 fields, expected 42"),
        (kdd_row(first="abc"), "field 1 is 'abc', expected a number"),
    ],
)
def test_malformed_kdd_row_names_file_and_line(tmp_path, names_file, bad, problem):
    path = write_gz(tmp_path / "train.gz", [kdd_row(), kdd_row(), bad, kdd_row()])
    with pytest.raises(ParseError, match=rf"malformed row in {path}, line 3: {problem}"):
        read_kdd(path, names_file)


def test_nsl_difficulty_is_kept(tmp_path, names_file):
    path = write_gz(tmp_path / "nsl.gz", [kdd_row("neptune") + ",21"])
    frame = read_kdd(path, names_file, extra=("difficulty",))
    assert frame["difficulty"].tolist() == [21] and frame["label"].tolist() == ["neptune"]


def test_csv_with_bom_crlf_and_padded_strings(tmp_path):
    raw = "\ufeffdate,time,light_status,label,type\r\n25-Apr-19, 19:41:37 , on,1,ddos\r\n25-Apr-19,8:59:02, off,0,normal\r\n"
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(raw.encode("utf-8")))
    frame = read_csv_with_header(path)
    assert list(frame.columns) == ["date", "time", "light_status", "label", "type"]
    assert frame["time"].tolist() == ["19:41:37", "8:59:02"]
    assert frame["light_status"].tolist() == ["on", "off"]
    assert frame["label"].tolist() == [1, 0]


def test_csv_short_row_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("\ufeffid,dur,attack_cat,label\r\n1,0.5,Normal,0\r\n2,0.7,Normal\r\n")
    with pytest.raises(ParseError, match=r"u.csv, line 3: 3 fields, expected 4"):
        read_csv_with_header(path)


ZEEK = """#separator \\x09
#fields\tts\tuid\tduration\torig_bytes\tproto\ttunnel_parents   label   detailed-label
#types\ttime\tstring\tinterval\tcount\tenum\tset[string]   string   string
1547127288.02\tC1\t3.9\t83\ttcp\t-   Malicious   FileDownload
1547157330.03\tC2\t-\t-\tudp\t-   Benign   -
#close\t2019-01-11
"""


def test_zeek_mixed_separators_and_unset_fields(tmp_path):
    path = tmp_path / "conn.log.labeled"
    path.write_text(ZEEK)
    frame = read_zeek(path)
    assert list(frame.columns) == [
        "ts",
        "uid",
        "duration",
        "orig_bytes",
        "proto",
        "tunnel_parents",
        "label",
        "detailed-label",
    ]
    assert frame["detailed-label"].tolist() == ["FileDownload", "-"]
    assert frame["duration"].dtype == "float64" and pd.isna(frame["duration"].iloc[1])


def test_zeek_wrong_field_count_names_the_line(tmp_path):
    path = tmp_path / "conn.log.labeled"
    path.write_text(ZEEK.replace("\tudp\t", "\t"))
    with pytest.raises(ParseError, match=r"conn.log.labeled, line 5: 7 fields, expected 8"):  # the file's line
        read_zeek(path)


def test_zeek_bad_number_names_the_line(tmp_path):
    path = tmp_path / "conn.log.labeled"
    path.write_text(ZEEK.replace("\t3.9\t", "\t3.9.1\t"))
    with pytest.raises(ParseError, match=r"line 4: field 3 is '3.9.1', expected a number"):
        read_zeek(path)


def test_zeek_log_without_rows_is_empty(tmp_path):
    path = tmp_path / "conn.log.labeled"
    path.write_text("".join(line + "\n" for line in ZEEK.splitlines() if line.startswith("#")))
    assert len(read_zeek(path)) == 0


def test_empty_label_is_a_malformed_row(tmp_path, names_file):
    path = write_gz(tmp_path / "train.gz", [kdd_row(), kdd_row(label="")])
    with pytest.raises(ParseError, match=r"line 2: the last field is empty"):
        read_kdd(path, names_file)


def test_kdd_binary_flags_stay_numeric(tmp_path, names_file):
    names = tmp_path / "flags.names"
    names.write_text(names_file.read_text().replace("f6: continuous.", "f6: symbolic."))
    frame = read_kdd(write_gz(tmp_path / "t.gz", [kdd_row()]), names)
    assert frame["f6"].dtype == "int64" and frame["service"].dtype == "string"


SCHEMA = ["id", "dur", "proto", "attack_cat", "label"]


def test_csv_header_must_match_the_registry_schema(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("id,dur,proto,label\n1,0.5,tcp,0\n")
    with pytest.raises(
        ParseError, match=r"header does not match the registry's 5 columns \(found 4; missing \['attack_cat'\]"
    ):
        read_csv_with_header(path, SCHEMA, ("proto", "attack_cat"))


def test_csv_non_number_in_numeric_column_names_the_line(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("\ufeffid,dur,proto,attack_cat,label\r\n1,0.5,tcp,Normal,0\r\n2,0.1.2,udp,DoS,1\r\n")
    with pytest.raises(ParseError, match=r"u.csv, line 3: field 2 is '0.1.2', expected a number"):
        read_csv_with_header(path, SCHEMA, ("proto", "attack_cat"))
    path.write_text("\ufeffid,dur,proto,attack_cat,label\r\n1,0.5,tcp,Normal,0\r\n")
    frame = read_csv_with_header(path, SCHEMA, ("proto", "attack_cat"))
    assert frame["id"].dtype == "int64" and frame["dur"].dtype == "float64"


@pytest.mark.parametrize(
    "content", ["", "date,time,fridge_temperature,temp_condition,label,type\n"], ids=["empty", "header-only"]
)
def test_an_empty_or_header_only_file_stops_parsing_with_its_name(tmp_path, content):
    from iotad.parse import parse_part
    from iotad.registry import DEFAULT_REGISTRY, load_registry

    spec = load_registry(DEFAULT_REGISTRY).dataset("ton-iot-fridge")
    path = tmp_path / "Train_Test_IoT_Fridge.csv.gz"
    path.write_bytes(gzip.compress(content.encode()))
    with pytest.raises(ParseError, match=f"{path}: no records"):
        parse_part(spec, [path], {})


def test_an_empty_kdd_file_or_zeek_log_without_records_stops_parsing(tmp_path, names_file):
    from iotad.parse import parse_part
    from iotad.registry import DEFAULT_REGISTRY, load_registry

    registry = load_registry(DEFAULT_REGISTRY)
    kdd = tmp_path / "corrected.gz"
    kdd.write_bytes(gzip.compress(b""))
    with pytest.raises(ParseError, match=f"{kdd}: no records"):
        parse_part(registry.dataset("kddcup99"), [kdd], {registry.dataset("kddcup99").names_file: names_file})
    zeek = tmp_path / "conn.log.labeled"
    zeek.write_text("#separator \\x09\n#fields\tts\tuid\tlabel\n#types\ttime\tstring\tstring\n#close\t2019\n")
    with pytest.raises(ParseError, match=f"{zeek}: no records"):
        parse_part(registry.dataset("iot-23"), [zeek], {})
