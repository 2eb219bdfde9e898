"""Encoding and scaling, fitted on the training split only, saved as plain JSON.

Categorical (string) columns are one-hot encoded with the categories seen in training; a category
seen only later becomes an all-zero block and is counted. Numeric columns are scaled by an affine map
``(x - offset) / scale`` whose parameters scikit-learn's scalers compute on the training split
(MinMax by default, standard and max-abs selectable). Because the whole transform is a few lists
of numbers in JSON, it can be reapplied to another dataset with the same feature space
(cross-dataset tests) without unpickling anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, OneHotEncoder, StandardScaler

from .clean import LABEL_COLUMNS

ID_COLUMNS = ["record_id", "part"]
NON_FEATURES = {*ID_COLUMNS, *LABEL_COLUMNS, "difficulty", "source_file"}
SCALERS = {"minmax": MinMaxScaler, "standard": StandardScaler, "maxabs": MaxAbsScaler}


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in NON_FEATURES]


@dataclass(frozen=True)
class FeatureTransform:
    scaler: str
    numeric: list[str]
    offset: list[float]
    scale: list[float]
    categorical: dict[str, list[str]]  # column -> categories seen in training, in output order

    @classmethod
    def fit(cls, train: pd.DataFrame, scaler: str = "minmax") -> FeatureTransform:
        if scaler not in SCALERS:
            raise ValueError(f"scaler must be one of {sorted(SCALERS)}, got {scaler!r}")
        columns = feature_columns(train)
        numeric = [
            c for c in columns if pd.api.types.is_numeric_dtype(train[c]) and not pd.api.types.is_bool_dtype(train[c])
        ]
        categorical = [c for c in columns if c not in numeric]
        offset = scale = np.zeros(0)
        if numeric:  # some telemetry devices have none
            fitted = SCALERS[scaler]().fit(train[numeric].to_numpy(dtype="float64"))
            offset, scale = {
                "minmax": lambda: (fitted.data_min_, fitted.data_range_),
                "standard": lambda: (fitted.mean_, fitted.scale_),
                "maxabs": lambda: (np.zeros(len(numeric)), fitted.max_abs_),
            }[scaler]()
            scale = np.where(scale == 0, 1.0, scale)  # constant in training: map to offset 0, as scikit-learn does
        encoder = OneHotEncoder(handle_unknown="ignore").fit(train[categorical].astype(str)) if categorical else None
        return cls(
            scaler=scaler,
            numeric=numeric,
            offset=[float(v) for v in offset],
            scale=[float(v) for v in scale],
            categorical={c: [str(v) for v in cats] for c, cats in zip(categorical, encoder.categories_)}
            if encoder
            else {},
        )

    @property
    def feature_names(self) -> list[str]:
        return self.numeric + [f"{col}={cat}" for col, cats in self.categorical.items() for cat in cats]

    def transform(self, frame: pd.DataFrame, fill_missing: bool = False) -> tuple[np.ndarray, dict[str, int]]:
        """Feature matrix (float32, columns = ``feature_names``) and unseen-category counts per column.
        ``fill_missing`` (another dataset, for models trained on a feature subset) adds absent
        columns as all-zero features instead of refusing them."""
        missing = [c for c in [*self.numeric, *self.categorical] if c not in frame.columns]
        if missing and not fill_missing:
            raise ValueError(f"columns missing for this transform: {missing}")
        if missing:
            offsets = dict(zip(self.numeric, self.offset))
            frame = frame.assign(**{c: offsets[c] if c in offsets else None for c in missing})
        blocks = [((frame[self.numeric].to_numpy(dtype="float64") - self.offset) / self.scale).astype("float32")]
        unseen = {}
        for col, cats in self.categorical.items():
            codes = pd.Index(cats).get_indexer(frame[col].astype(str))  # -1 = unseen
            block = np.zeros((len(frame), len(cats)), dtype="float32")
            seen = codes >= 0
            block[np.flatnonzero(seen), codes[seen]] = 1.0
            blocks.append(block)
            if (~seen).any():
                unseen[col] = int((~seen).sum())
        return np.hstack(blocks), unseen

    def to_json(self, path: str | Path) -> None:
        from .io import write_json

        write_json(asdict(self), path)

    @classmethod
    def from_json(cls, path: str | Path) -> FeatureTransform:
        return cls(**json.loads(Path(path).read_text()))


def matrix_frame(matrix: np.ndarray, names: list[str], rows: pd.DataFrame) -> pd.DataFrame:
    """Features with their names, then the id and label columns of ``rows``."""
    features = pd.DataFrame(matrix, columns=names, index=rows.index)
    keep = [c for c in [*ID_COLUMNS, *LABEL_COLUMNS] if c in rows.columns]
    return pd.concat([features, rows[keep]], axis=1).reset_index(drop=True)


def read_matrix(path: str | Path, feature_columns: list[str] | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """(feature matrix, id/label columns) from a features parquet. ``feature_columns`` keeps only the
    features of those source columns (a numeric column, or every ``column=category`` of a categorical one)."""
    frame = pd.read_parquet(path)
    meta = [c for c in [*ID_COLUMNS, *LABEL_COLUMNS] if c in frame.columns]
    features = [c for c in frame.columns if c not in meta]
    if feature_columns:
        wanted = set(feature_columns)
        features = [c for c in features if c.split("=", 1)[0] in wanted]
        missing = wanted - {c.split("=", 1)[0] for c in features}
        if missing:
            raise ValueError(f"{path}: no features from the columns {sorted(missing)} (check feature_columns)")
    return frame[features].to_numpy(dtype="float32"), frame[meta]
