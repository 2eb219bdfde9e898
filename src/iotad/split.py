"""Train / validation / test splits with record ids.

Official test files stay test sets (kddcup99 corrected, NSL-KDD KDDTest+ and KDDTest-21); datasets
published as one file get a seeded split stratified by family. The validation split is always
carved from training rows, so thresholds and early stopping never see a test row.

Splits iotad draws itself (the test draw and every validation carve-out) are *grouped* by default:
rows with the same cleaned feature vector land on one side, so no held-out row is a memorised
training row (`split.group_duplicates`). Split kinds:

- ``official``: the registry's test files (chosen by the registry, never by config);
- ``stratified``: ``test_size`` of the rows, stratified by family;
- ``vu_nbaiot``: Vu et al.'s N-BaIoT protocol: train on benign rows and the Gafgyt attacks, test on
  ``test_size`` of the benign rows held out and every Mirai attack (the botnet never seen in training).
"""

from __future__ import annotations

import fnmatch
import zlib

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .config import ConfigError
from .features import feature_columns
from .registry import DatasetSpec, Registry

SPLIT_KINDS = ("stratified", "vu_nbaiot")  # what split.kind_overrides may choose
VU_TRAIN_ATTACKS, VU_TEST_ATTACKS = "gafgyt", "mirai"  # families of the N-BaIoT registry entry


def split_names(spec: DatasetSpec) -> list[str]:
    """Output splits of a dataset: train, val, then its test splits."""
    tests = spec.split["test"] if spec.split["kind"] == "official" else ["test"]
    return ["train", "val", *tests]


def split_kind(spec: DatasetSpec, overrides: dict[str, str] | None = None) -> str:
    """The dataset's split kind: the first `split.kind_overrides` pattern matching its name, else the registry's."""
    for pattern, kind in (overrides or {}).items():
        if fnmatch.fnmatchcase(spec.name, pattern):
            return kind
    return spec.split["kind"]


def check_kind_overrides(overrides: dict[str, str], registry: Registry) -> None:
    """Refuse overrides that would do nothing or cannot work, at start-up rather than in a split job."""
    where = "config.yaml: split.kind_overrides"
    for pattern, kind in overrides.items():
        names = [n for n in registry.datasets if fnmatch.fnmatchcase(n, pattern)]
        if not names:
            raise ConfigError(
                f"{where}: {pattern!r} matches no dataset in the registry; known: {', '.join(registry.datasets)}"
            )
        if kind not in SPLIT_KINDS:
            raise ConfigError(
                f"{where}: {pattern!r}: unknown split kind {kind!r}; choose one of {', '.join(SPLIT_KINDS)}"
            )
        # Only names this pattern decides (an earlier pattern wins).
        names = [n for n in names if split_kind(registry.dataset(n), overrides) == kind]
        official = [n for n in names if registry.dataset(n).split["kind"] == "official"]
        if official:
            raise ConfigError(
                f"{where}: {pattern!r} matches {', '.join(official)}, split by its official test files; "
                "remove it from the pattern"
            )
        if kind == "vu_nbaiot":
            wrong = [
                n
                for n in names
                if not {VU_TRAIN_ATTACKS, VU_TEST_ATTACKS} <= set(registry.dataset(n).family_map.values())
            ]
            if wrong:
                raise ConfigError(
                    f"{where}: {pattern!r}: vu_nbaiot needs the families gafgyt and mirai (N-BaIoT devices); "
                    f"{', '.join(wrong)} has other families"
                )
            no_mirai = [n for n in names if not any("mirai" in f for f in registry.dataset(n).files())]
            if no_mirai:
                raise ConfigError(
                    f"{where}: {pattern!r} -> vu_nbaiot: {', '.join(no_mirai)}: no Mirai file for the test side; "
                    "map them to stratified before this pattern (the first matching pattern wins)"
                )


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


def feature_groups(frame: pd.DataFrame) -> np.ndarray:
    """A group number per row: rows with equal cleaned feature vectors (ids and labels ignored) share one."""
    return frame.groupby(feature_columns(frame), dropna=False, sort=False).ngroup().to_numpy()


def grouped_split(
    frame: pd.DataFrame, size: float, seed: int, eligible: pd.Series | None = None, stream: str = "test"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held out): whole groups of equal feature vectors held out until each family holds ``size``
    of its rows. ``eligible`` marks rows that may be held out; a group with any other row stays in rest.

    Why not a scikit-learn splitter: GroupShuffleSplit and train_test_split on groups count *groups*
    (GroupShuffleSplit does not stratify either), and StratifiedGroupKFold gives only 1/k shares
    (0.3 -> 1/3). Duplicate groups range from one row to thousands (kddcup99's smurf), so a share of
    groups is not a share of rows. Here each group gets the family of most of its rows; groups are
    visited in a seeded random order and one is held out when that brings its family's held rows
    closer to ``size`` of the family's rows: shares hold within one group per family, except that a
    group larger than twice its family's target always stays on the training side, so a family made
    mostly of one vector falls short of its share (``held_share_shortfalls`` names such families).  (Python's loop costs
    ~1 s per million groups: negligible beside parsing.)
    """
    groups = feature_groups(frame)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    codes, families = pd.factorize(frame["family"].astype(str), sort=True)
    # Each group's family: the one most of its rows carry (ties: first in sorted order).
    pairs, counts = np.unique(groups.astype(np.int64) * len(families) + codes, return_counts=True)
    pair_group, pair_family = pairs // len(families), pairs % len(families)
    order = np.lexsort((pair_family, -counts, pair_group))
    first = order[np.r_[True, np.diff(pair_group[order]) != 0]] if len(order) else order
    group_family = pair_family[first]
    sizes = np.bincount(groups, minlength=n_groups)
    target = size * np.bincount(group_family, weights=sizes, minlength=len(families))
    blocked = np.zeros(n_groups, dtype=bool)
    if eligible is not None:
        blocked = np.bincount(groups, weights=~eligible.to_numpy(dtype=bool), minlength=n_groups) > 0
    held_group = np.zeros(n_groups, dtype=bool)
    # The visiting order: a seeded hash of each group's feature vector and of the draw (``stream``),
    # so a family's order does not depend on the other families' rows, and seed s's validation draw
    # is not seed s+1's test draw. A leave-one-family-out view equals the full draw only where no
    # vector is shared with the held-out family: a shared vector's group changes family, and with it
    # that family's target and every later choice.
    vector_hash = np.zeros(n_groups, dtype=np.uint64)
    vector_hash[groups] = pd.util.hash_pandas_object(frame[feature_columns(frame)], index=False).to_numpy()
    salt = np.uint64(zlib.crc32(f"{seed}/{stream}".encode()))
    rank = pd.util.hash_array(vector_hash ^ salt)
    for f in range(len(families)):
        taken = 0
        candidates = np.flatnonzero((group_family == f) & ~blocked)
        for g in candidates[np.argsort(rank[candidates], kind="stable")]:
            if taken + sizes[g] / 2 <= target[f]:  # holding it out brings the family closer to its target
                held_group[g] = True
                taken += sizes[g]
    held = held_group[groups]
    return frame[~held], frame[held]


def _draw(
    frame: pd.DataFrame, size: float, seed: int, grouped: bool, eligible: pd.Series | None = None, stream: str = "test"
):
    """(rest, held out): grouped, or today's row-level stratified split, from the eligible rows."""
    if grouped:
        return grouped_split(frame, size, seed, eligible, stream)
    if eligible is None:
        return stratified_split(frame, size, seed)
    _, held = stratified_split(frame[eligible], size, seed)
    return frame.drop(index=held.index), held


def split_dataset(
    parts: dict[str, pd.DataFrame],
    spec: DatasetSpec,
    *,
    seed: int,
    val_size: float,
    test_size: float | None = None,
    group_duplicates: bool = True,
    kind: str | None = None,
    exclude_family: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Split the cleaned parts. Every row keeps ``record_id`` and gains ``part`` (its source part).

    ``kind`` (default: the registry's) comes from `split.kind_overrides` through ``split_kind``.
    ``exclude_family`` (leave-one-family-out) keeps that family out of train and validation, and
    draws the other rows without it, so changing its rows changes no other row's side; its test rows
    are drawn apart (stratified kind) or are the test files' (official kind).
    """
    parts = {name: frame.assign(part=name) for name, frame in parts.items()}
    kind = kind or spec.split["kind"]
    size = test_size if test_size is not None else spec.split.get("test_size")

    def without(frame):
        if not exclude_family:
            return frame
        held_out = frame["family"].astype(str) == exclude_family
        if not held_out.any():
            raise ValueError(
                f"{spec.name}: held-out family {exclude_family!r} does not occur in the training rows "
                f"(families: {', '.join(sorted(frame['family'].astype(str).unique()))})"
            )
        return frame[~held_out]

    if kind == "official":
        train = without(parts[spec.split["train"]])
        tests = {name: parts[name] for name in spec.split["test"]}
    elif kind == "stratified":
        frame = parts[spec.train_part]
        train, test = _draw(without(frame), size, seed, group_duplicates)
        if exclude_family:  # its own draw: the test rows a split without exclusion would hold
            family = frame[frame["family"].astype(str) == exclude_family]
            test = pd.concat([test, _draw(family, size, seed, group_duplicates)[1] if len(family) > 1 else family])
        tests = {"test": test.sort_index()}
    elif kind == "vu_nbaiot":
        frame = parts[spec.train_part]
        unknown = frame["family"] == VU_TEST_ATTACKS
        if not unknown.any():
            raise ValueError(
                f"{spec.name}: split kind vu_nbaiot needs mirai rows for the test side and found none; "
                "set split.kind_overrides to stratified for this dataset"
            )
        known = without(frame[~unknown])
        train, held = _draw(known, size, seed, group_duplicates, eligible=known["family"] == "normal")
        tests = {"test": pd.concat([held, frame[unknown]]).sort_index()}
    else:
        raise ValueError(f"{spec.name}: unknown split kind {kind!r}; choose one of official, {', '.join(SPLIT_KINDS)}")
    # A different stream for the validation split, still fixed by the seed.
    train, val = _draw(train, val_size, seed + 1, group_duplicates, stream="validation")
    return {"train": train, "val": val, **tests}


def held_share_shortfalls(splits: dict[str, pd.DataFrame], share: float, held: str = "test") -> dict[str, str]:
    """Families whose share of rows in the held-out split ``held`` is below half of ``share``
    (grouping keeps large groups of equal rows on the training side), with their counts; a family
    whose target is under one row is not named."""
    train = splits["train"]["family"].astype(str).value_counts()
    out = splits[held]["family"].astype(str).value_counts()
    found = {}
    for family in train.index.union(out.index):
        n_out, n_all = int(out.get(family, 0)), int(out.get(family, 0) + train.get(family, 0))
        if share * n_all >= 1 and n_out < share * n_all / 2:  # a target under one row cannot be met
            found[family] = f"{n_out} of {n_all} rows in {held} (target {share:.0%})"
    return found


def split_report(splits: dict[str, pd.DataFrame]) -> dict:
    """Per split: rows, attack rows, families, distinct feature vectors and (test and validation
    splits) how many rows, and attack rows, repeat a feature vector of the training split."""
    names = list(splits)
    frame = pd.concat([splits[n][feature_columns(splits[n])] for n in names], keys=names, names=["split", None])
    groups = pd.Series(feature_groups(frame), index=frame.index)
    train_groups = groups.loc["train"].unique() if "train" in splits else np.array([], dtype=int)
    report = {"feature_columns": len(feature_columns(splits[names[0]])), "splits": {}}
    for name in names:
        part = splits[name]
        attack = part["is_attack"].to_numpy(dtype=bool)
        own = groups.loc[name].to_numpy()
        entry = {
            "rows": len(part),
            "attack_rows": int(attack.sum()),
            "families": {str(k): int(v) for k, v in part["family"].value_counts().items()},
            "distinct_vectors": int(len(np.unique(own))),
        }
        if name != "train":
            repeats = np.isin(own, train_groups)
            entry |= _share("", int(repeats.sum()), len(part), "no rows")
            entry |= _share("attack_", int(repeats[attack].sum()), int(attack.sum()), "no attack rows")
        report["splits"][name] = entry
    return report


def _share(prefix: str, count: int, total: int, empty: str) -> dict:
    key = f"{prefix}share_in_train"
    entry = {f"{prefix}rows_in_train": count, key: count / total if total else None}
    if not total:  # undefined, not 0.0
        entry[f"{key}_note"] = f"{empty} in this split"
    return entry
