"""Train / validation / test splits with record ids.

Official test files stay test sets (kddcup99 corrected, NSL-KDD KDDTest+ and KDDTest-21); datasets
published as one file get a seeded split stratified by family. The validation split is always
carved from training rows, so thresholds and early stopping never see a test row.
"""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from .registry import DatasetSpec


def split_names(spec: DatasetSpec) -> list[str]:
    """Output splits of a dataset: train, val, then its test splits."""
    tests = spec.split["test"] if spec.split["kind"] == "official" else ["test"]
    return ["train", "val", *tests]


def _strata(frame: pd.DataFrame) -> pd.Series:
    """Families, with families of a single row pooled (stratification needs two of each)."""
    family = frame["family"].astype(str)
    counts = family.map(family.value_counts())
    pooled = family.where(counts >= 2, "(rare)")
    if (pooled == "(rare)").sum() == 1:  # a lone rare row joins the largest family
        pooled = pooled.replace("(rare)", family.value_counts().idxmax())
    return pooled


def stratified_split(frame: pd.DataFrame, size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held out) with ``size`` of the rows held out, stratified by family."""
    rest, held = train_test_split(frame, test_size=size, random_state=seed, stratify=_strata(frame))
    return rest.sort_index(), held.sort_index()


def split_dataset(
    parts: dict[str, pd.DataFrame], spec: DatasetSpec, *, seed: int, val_size: float, test_size: float | None = None
) -> dict[str, pd.DataFrame]:
    """Split the cleaned parts. Every row keeps ``record_id`` and gains ``part`` (its source part)."""
    parts = {name: frame.assign(part=name) for name, frame in parts.items()}
    if spec.split["kind"] == "official":
        train = parts[spec.split["train"]]
        tests = {name: parts[name] for name in spec.split["test"]}
    else:
        size = test_size if test_size is not None else spec.split["test_size"]
        train, test = stratified_split(parts[spec.train_part], size, seed)
        tests = {"test": test}
    # A different stream for the validation split, still fixed by the seed.
    train, val = stratified_split(train, val_size, seed + 1)
    return {"train": train, "val": val, **tests}
