"""Clean a parsed part and group its labels: the input every later stage reads.

Output columns: ``record_id`` (row position in the parsed part, kept through every later stage),
the features, metadata columns, then ``label`` (the original attack label), ``family`` and
``is_attack``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .registry import DatasetSpec

NAN_POLICIES = ("drop", "zero", "median")
LABEL_COLUMNS = ["label", "family", "is_attack"]


class EmptyPartError(ValueError):
    """Cleaning removed every row of a part: no 0-row output is written."""


class LabelError(ValueError):
    """Labels the registry's family map does not know, or labels that contradict each other."""


@dataclass(frozen=True)
class CleaningOptions:
    nan_policy: str = "drop"  # rows with NaN/inf in a numeric feature: drop, or set to 0 / the column median
    drop_duplicates: bool = False
    drop_columns: tuple[str, ...] = ()  # in addition to the registry's

    def __post_init__(self):
        if self.nan_policy not in NAN_POLICIES:
            raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {self.nan_policy!r}")


def group_labels(labels: pd.Series, spec: DatasetSpec, where: str) -> pd.Series:
    """Map original labels to families; any label outside the map is an error that lists them."""
    family = labels.map(spec.family_map)
    unknown = labels[family.isna()].value_counts()
    if len(unknown):
        listed = ", ".join(f"{lab!r} ({n} rows)" for lab, n in unknown.items())
        raise LabelError(
            f"{where}: labels not in the family map of dataset {spec.name!r}: {listed}. "
            f"Add them to `family_map` in src/iotad/datasets.yaml."
        )
    return family.astype("string")


def clean_part(frame: pd.DataFrame, spec: DatasetSpec, options: CleaningOptions, where: str):
    """Return (cleaned frame, report dict). ``where`` names the input in error messages."""
    missing = [c for c in (spec.label_column, spec.binary_label_column) if c and c not in frame.columns]
    if missing:
        raise LabelError(f"{where}: label column(s) {missing} not found; columns are {list(frame.columns)}")

    rows_in = len(frame)
    raw_duplicates = int(frame.duplicated().sum())
    labels = frame[spec.label_column].astype("string").str.strip()
    family = group_labels(labels, spec, where)
    is_attack = family != "normal"
    if spec.binary_label_column:
        binary = frame[spec.binary_label_column]
        # IoT-23 writes Benign/Malicious, the others 0/1.
        declared = binary.astype("string").str.lower().isin(["1", "malicious"])
        disagree = int((declared != is_attack).sum())
        if disagree:
            raise LabelError(
                f"{where}: {disagree} rows where {spec.binary_label_column!r} contradicts the family "
                f"of {spec.label_column!r}"
            )

    drop = [c for c in (*spec.drop_columns, *options.drop_columns) if c in frame.columns]
    label_cols = [c for c in (spec.label_column, spec.binary_label_column) if c]
    meta_cols = [c for c in (*spec.meta_columns, "source_file") if c in frame.columns]
    features = frame.drop(columns=[*drop, *label_cols, *meta_cols])
    meta = frame[meta_cols]
    out = pd.concat(
        [
            pd.DataFrame({"record_id": np.arange(rows_in, dtype="int64")}, index=frame.index),
            features,
            meta,
            pd.DataFrame({"label": labels, "family": family, "is_attack": is_attack.astype(bool)}),
        ],
        axis=1,
    )

    numeric = features.select_dtypes("number").columns
    values = out[numeric].to_numpy(dtype="float64", na_value=np.nan)
    nan_mask, inf_mask = np.isnan(values), np.isinf(values)
    bad_rows = (nan_mask | inf_mask).any(axis=1)
    text = features.columns.difference(numeric)
    missing_text = out[text].isna()

    report = {
        "rows_in": rows_in,
        "dropped_columns": drop,
        "nan_policy": options.nan_policy,
        "nan_values": {c: int(n) for c, n in zip(numeric, nan_mask.sum(axis=0)) if n},
        "inf_values": {c: int(n) for c, n in zip(numeric, inf_mask.sum(axis=0)) if n},
        "rows_with_nan_or_inf": int(bad_rows.sum()),
        "missing_text_values": {c: int(n) for c, n in missing_text.sum().items() if n},
    }

    if options.nan_policy == "drop":
        out = out[~bad_rows]
    else:
        cleaned = np.where(nan_mask | inf_mask, np.nan, values)
        if options.nan_policy == "zero":
            fill = 0.0
        else:  # a column without one finite value has no median: 0, as with "zero"
            finite = ~np.isnan(cleaned)
            fill = np.zeros(cleaned.shape[1])
            has = finite.any(axis=0)
            fill[has] = np.nanmedian(cleaned[:, has], axis=0)
        cleaned = np.where(np.isnan(cleaned), fill, cleaned)
        for i, col in enumerate(numeric):
            if nan_mask[:, i].any() or inf_mask[:, i].any():
                out[col] = cleaned[:, i]
    out[list(text)] = out[list(text)].fillna("missing")
    report["rows_dropped_nan_or_inf"] = rows_in - len(out)

    content = out.columns.drop("record_id")
    duplicated = out.duplicated(subset=list(content))
    report["duplicate_rows_as_parsed"] = raw_duplicates  # all parsed columns
    report["duplicate_rows"] = int(duplicated.sum())  # after dropping columns: what models see
    report["duplicates_removed"] = bool(options.drop_duplicates)
    if options.drop_duplicates:
        out = out[~duplicated]
    out = out.reset_index(drop=True)
    if out.empty:
        raise EmptyPartError(
            f"{where}: cleaning left no rows ({rows_in} in, {report['rows_dropped_nan_or_inf']} dropped for NaN/inf"
            f"{', the rest duplicates' if options.drop_duplicates else ''}); use nan_policy 'median' or 'zero', or "
            "check the file"
        )

    report["rows_out"] = len(out)
    report["columns_out"] = len(out.columns)
    report["label_counts"] = {k: int(v) for k, v in out["label"].value_counts().items()}
    report["family_counts"] = {k: int(v) for k, v in out["family"].value_counts().items()}
    report["attack_rows"] = int(out["is_attack"].sum())
    return out, report
