"""Parse raw dataset files into typed pandas frames (written as parquet by the workflow).

One reader per file format. Every reader fails on a malformed row with the file and line number:
pandas' C parser reads the good files fast, and only when something is off do we rescan the text
with the csv module to find the first offending line.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .registry import DatasetSpec

PathLike = str | Path


class ParseError(ValueError):
    """A raw file does not have the expected structure."""


# ---------------------------------------------------------------------------------------------
# Shared helpers


@contextmanager
def open_text(path: PathLike, encoding: str = "utf-8") -> Iterator[io.TextIOBase]:
    """Open a plain or gzip text file (detected by magic bytes, not by name)."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    with (gzip.open if gz else open)(path, "rt", encoding=encoding, newline="") as fh:
        yield fh


def _first_bad_line(
    lines: Iterator[str], sep: str, ncols: int, numeric: set[int], start_line: int = 1
) -> tuple[int, str] | None:
    """(line number, problem) of the first record with the wrong field count or a non-numeric value."""
    for offset, fields in enumerate(csv.reader(lines, delimiter=sep)):
        lineno = start_line + offset
        if len(fields) != ncols:
            return lineno, f"{len(fields)} fields, expected {ncols}"
        for i in numeric:
            try:
                float(fields[i])
            except ValueError:
                return lineno, f"field {i + 1} is {fields[i]!r}, expected a number"
    return None


def read_delimited(
    source: PathLike | Callable[[], io.TextIOBase],
    *,
    label: str,
    names: list[str] | None = None,
    sep: str = ",",
    dtype: dict | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a delimited text file with a header row (``names=None``) or given names.

    ``source`` is a path or a callable that opens the text (for archive members); ``label`` names
    the file in error messages. Rows with too few or too many fields, or a non-number in a column
    typed as numeric, raise ParseError with the line number.
    """
    opener = source if callable(source) else (lambda: open_text(source, encoding))
    header = 0 if names is None else None
    try:
        with opener() as fh:
            frame = pd.read_csv(
                fh, sep=sep, header=header, names=names, dtype=dtype,
                skip_blank_lines=False, on_bad_lines="error", low_memory=False,
            )
    except (pd.errors.ParserError, ValueError) as exc:
        frame, failure = None, exc
    else:
        # pandas pads short rows with NaN: a null in the last column means a short row.
        failure = None if not frame.iloc[:, -1].isna().any() else "short row"

    if failure is not None:
        with opener() as fh:
            lines = iter(fh)
            cols = names or next(csv.reader([next(lines, "")], delimiter=sep), [])
            ncols = len(cols)
            typed = dtype if isinstance(dtype, dict) else {}
            numeric = {cols.index(c) for c, t in typed.items() if c in cols and t != "string"}
            bad = _first_bad_line(lines, sep, ncols, numeric, start_line=1 if names else 2)
        if bad:
            raise ParseError(f"malformed row in {label}, line {bad[0]}: {bad[1]}")
        raise ParseError(f"cannot parse {label}: {failure}")
    return frame


def strip_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim the padding that several datasets carry around string values and column names."""
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in frame.columns:
        if pd.api.types.is_string_dtype(frame[col]) or frame[col].dtype == object:
            frame[col] = frame[col].str.strip()
    return frame


# ---------------------------------------------------------------------------------------------
# KDD Cup 99 and NSL-KDD


def kdd_names(names_file: PathLike) -> tuple[list[str], set[str]]:
    """Feature names (in order) and the symbolic ones, from ``kddcup.names``."""
    names, symbolic = [], set()
    with open_text(names_file) as fh:
        lines = [ln.strip() for ln in fh if ln.strip()]
    for line in lines[1:]:  # the first line lists the training classes
        match = re.fullmatch(r"([A-Za-z0-9_]+):\s*(continuous|symbolic)\.", line)
        if not match:
            raise ParseError(f"unexpected line in {names_file}: {line!r}")
        names.append(match.group(1))
        if match.group(2) == "symbolic":
            symbolic.add(match.group(1))
    if len(names) != 41:
        raise ParseError(f"{names_file}: expected 41 features, found {len(names)}")
    return names, symbolic


def read_kdd(path: PathLike, names_file: PathLike, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    features, symbolic = kdd_names(names_file)
    names = features + ["label", *extra]
    dtype = {n: ("string" if n in symbolic else "float64") for n in features}
    dtype["label"] = "string"
    dtype.update({n: "float64" for n in extra})
    frame = read_delimited(path, label=str(path), names=names, dtype=dtype)
    frame["label"] = frame["label"].str.strip().str.rstrip(".")
    # Counts and flags are whole numbers: store them as integers where every value is one.
    for col in [*features, *extra]:
        if col not in symbolic and (frame[col] % 1 == 0).all():
            frame[col] = frame[col].astype("int64")
    return frame


# ---------------------------------------------------------------------------------------------
# CSV with a header (UNSW-NB15, TON_IoT): BOM, CRLF and padded strings


def read_csv_with_header(path: PathLike) -> pd.DataFrame:
    return strip_strings(read_delimited(path, label=str(path), encoding="utf-8-sig"))


# ---------------------------------------------------------------------------------------------
# IoT-23 Zeek conn logs: tab-separated, but the last three fields are split by three spaces

ZEEK_NUMERIC = {"count", "int", "double", "interval", "port", "time"}


def read_zeek(path: PathLike) -> pd.DataFrame:
    names: list[str] = []
    types: list[str] = []
    rows: list[str] = []
    first_data_line = None
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if line.startswith("#fields"):
                names = re.split(r"\t| {3}", line)[1:]
            elif line.startswith("#types"):
                types = re.split(r"\t| {3}", line)[1:]
            elif line.startswith("#") or not line:
                continue
            else:
                first_data_line = first_data_line or lineno
                rows.append(line.replace("   ", "\t"))
    if not names:
        raise ParseError(f"{path}: no '#fields' header line; is this a Zeek log?")
    numeric = {n for n, t in zip(names, types) if t in ZEEK_NUMERIC}
    text = "\n".join(rows) + "\n"
    frame = read_delimited(
        lambda: io.StringIO(text), label=str(path), names=names, sep="\t", dtype="string"
    )
    if first_data_line is None:
        return frame
    for col in numeric:
        values = frame[col].where(frame[col] != "-")  # '-' is Zeek's unset field
        converted = pd.to_numeric(values, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            raise ParseError(f"malformed value in {path}: column {col} holds {values[bad].iloc[0]!r}")
        frame[col] = converted.astype("float64")
    return frame


# ---------------------------------------------------------------------------------------------
# N-BaIoT: per device a benign CSV and .rar archives of per-attack CSVs, all with 115 features

RAR_MAGIC = b"Rar!\x1a\x07"


def _open_archive(path: PathLike):
    """A zipfile-like reader for .rar (rarfile, which calls Debian's `unar`) or .zip archives."""
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic == RAR_MAGIC:
        import rarfile  # imported here: only N-BaIoT needs it

        try:
            return rarfile.RarFile(path)
        except rarfile.Error as exc:
            raise ParseError(f"{path}: cannot open RAR archive ({exc}); is `unar` installed?") from exc
    if magic[:2] == b"PK":
        return zipfile.ZipFile(path)
    raise ParseError(f"{path}: neither a RAR nor a ZIP archive")


def _check_header(frame: pd.DataFrame, header: list[str], label: str) -> None:
    if list(frame.columns) != header:
        raise ParseError(
            f"{label}: columns differ from N-BaIoT's 115-column header "
            f"({frame.shape[1]} columns, first difference at "
            f"{next((i for i, (a, b) in enumerate(zip(frame.columns, header)) if a != b), min(len(header), frame.shape[1]))})"
        )


def read_nbaiot(files: list[PathLike], header_file: PathLike) -> pd.DataFrame:
    with open_text(header_file) as fh:
        header = next(csv.reader(fh))
    if len(header) != 115:
        raise ParseError(f"{header_file}: expected 115 feature names, found {len(header)}")
    dtype = dict.fromkeys(header, "float64")
    frames, labels = [], []
    for path in map(Path, files):
        if path.suffix == ".csv":
            frame = read_delimited(path, label=str(path), dtype=dtype)
            _check_header(frame, header, str(path))
            frames.append(frame)
            labels.append(np.repeat("benign", len(frame)))
            continue
        botnet = path.name.split("_")[0]  # gafgyt_attacks.rar -> gafgyt
        with _open_archive(path) as archive:
            for member in sorted(n for n in archive.namelist() if n.endswith(".csv")):
                label = f"{path}:{member}"
                frame = read_delimited(
                    lambda: io.TextIOWrapper(archive.open(member), encoding="utf-8"), label=label, dtype=dtype
                )
                _check_header(frame, header, label)
                frames.append(frame)
                labels.append(np.repeat(f"{botnet}.{Path(member).stem}", len(frame)))
    frame = pd.concat(frames, ignore_index=True).copy()  # copy: one block per dtype, not 115
    frame["label"] = pd.Series(np.concatenate(labels), dtype="string")
    return frame


# ---------------------------------------------------------------------------------------------
# CIC-IDS2017 MachineLearningCSV.zip: eight per-day CSVs with padded names


def read_cic(path: PathLike) -> pd.DataFrame:
    frames = []
    with zipfile.ZipFile(path) as archive:
        for member in sorted(n for n in archive.namelist() if n.endswith(".csv")):
            frame = read_delimited(
                lambda: io.TextIOWrapper(archive.open(member), encoding="latin-1"), label=f"{path}:{member}"
            )
            frames.append(strip_strings(frame))
    frame = pd.concat(frames, ignore_index=True)
    # "Web Attack – Brute Force": the dash arrives in several encodings; normalise it.
    frame["Label"] = frame["Label"].str.replace(r"\s*[^\x00-\x7f]+\s*", " - ", regex=True)
    return frame


# ---------------------------------------------------------------------------------------------


def parse_part(spec: DatasetSpec, files: list[PathLike], aux: dict[str, PathLike]) -> pd.DataFrame:
    """Parse one part (train/test/...) of a dataset: its files, concatenated, with typed columns.

    ``aux`` maps auxiliary registry keys (names/header files) to local paths.
    """
    if spec.format == "nbaiot":
        return read_nbaiot(files, aux[spec.header_file])
    frames = []
    for path in files:
        if spec.format == "kdd":
            frame = read_kdd(path, aux[spec.names_file])
        elif spec.format == "nsl":
            frame = read_kdd(path, aux[spec.names_file], extra=("difficulty",))
        elif spec.format == "csv":
            frame = read_csv_with_header(path)
        elif spec.format == "zeek":
            frame = read_zeek(path)
        elif spec.format == "cic":
            frame = read_cic(path)
        else:
            raise ParseError(f"dataset {spec.name}: unknown format {spec.format!r}")
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(files) > 1:
        sizes = [len(f) for f in frames]
        frame["source_file"] = pd.Series(np.repeat([Path(p).name for p in files], sizes), dtype="string")
    return frame
