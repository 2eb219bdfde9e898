"""One training job: fit a config model's detectors on the training matrix, pick thresholds on the
validation split, and score every test split. Returns what the job writes: per-record scores, a
metrics document and the training histories."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from .features import read_matrix
from .metrics import binary_metrics, detection_rates
from .models import JOB_OPTIONS, build_detectors
from .outliers import distinct_rows
from .split import stratified_split


@dataclass
class Matrix:
    """A feature matrix and its id/label columns (part, record_id, label, family, is_attack)."""

    X: np.ndarray
    rows: pd.DataFrame

    @classmethod
    def read(cls, path, feature_columns: list[str] | None = None) -> Matrix:
        return cls(*read_matrix(path, feature_columns))

    def labels(self, target: str):
        return self.rows["family"].astype(str).to_numpy() if target == "family" else self.rows["is_attack"].to_numpy(bool)

    def take(self, positions) -> Matrix:
        return Matrix(self.X[positions], self.rows.iloc[positions].reset_index(drop=True))

    @cached_property
    def distinct(self) -> Matrix:
        """The first row of each group with equal features and family. Exact repeats (kddcup99: 494,021
        rows, 145,584 distinct) add no information but weight a fit towards the most repeated records;
        cached, as every seed of a job asks for it."""
        keys = pd.DataFrame(self.X).assign(family=self.rows["family"].astype(str).to_numpy())
        return self.take(np.flatnonzero(~keys.duplicated().to_numpy()))

    @cached_property
    def distinct_features(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(distinct feature vectors, each row's index into them), so that a detector scores each vector
        once (kddcup99's test split: 311,029 rows, 77,216 distinct); None when nothing repeats."""
        unique, row_to_unique, _ = distinct_rows(self.X)
        return None if len(unique) == len(self.X) else (unique, row_to_unique)


@dataclass
class JobResult:
    metrics: dict
    scores: pd.DataFrame
    histories: dict
    detectors: dict = field(default_factory=dict)


def subsample(train: Matrix, max_rows: int | None, seed: int, distinct: bool = False) -> Matrix:
    """At most ``max_rows`` training rows (of the distinct ones with ``distinct``), stratified by family
    and fixed by the seed."""
    if distinct:
        train = train.distinct
    if not max_rows or len(train.rows) <= max_rows:
        return train
    kept, _ = stratified_split(train.rows, len(train.rows) - int(max_rows), seed)
    return train.take(kept.index.to_numpy())


def evaluate(rows: pd.DataFrame, scores, predictions, training_labels) -> dict:
    """Binary metrics and per-family / per-label detection rates of one detector on one split."""
    metrics = binary_metrics(rows["is_attack"], scores, predictions)
    # The unknown-attack question in two numbers: attacks whose type the training split lacks, vs the rest.
    flagged = np.asarray(predictions, dtype=bool)
    attack = rows["is_attack"].to_numpy(bool)
    unseen = attack & ~rows["label"].astype(str).isin(set(training_labels)).to_numpy()
    for name, mask in (("unseen", unseen), ("seen", attack & ~unseen)):
        metrics[f"{name}_attack_records"] = int(mask.sum())
        metrics[f"{name}_attack_detection_rate"] = float(flagged[mask].mean()) if mask.any() else float("nan")
    metrics["detection"] = detection_rates(rows, predictions, training_labels).to_dict(orient="records")
    return metrics


def _score_frame(rows: pd.DataFrame, split: str, detector: str, scores, predictions) -> pd.DataFrame:
    ids = rows[[c for c in ("part", "record_id", "label", "family", "is_attack") if c in rows.columns]]
    return ids.assign(split=split, detector=detector, score=np.asarray(scores, "float64"),
                      prediction=np.asarray(predictions, "int8"))


def score_rows(detector, data: Matrix) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Every row's score (and family, for the supervised model), computing each distinct feature vector
    once; returns how many rows were scored too."""
    multi_class = getattr(detector, "target", "binary") == "family"
    X, row_to_unique = data.distinct_features or (data.X, None)
    scores, families = detector.score_samples_and_families(X) if multi_class else (detector.score_samples(X), None)
    if row_to_unique is not None:
        scores, families = scores[row_to_unique], None if families is None else families[row_to_unique]
    return scores, families, len(X)


def score_splits(name: str, detector, tests: dict[str, Matrix], training_labels, log=None) -> tuple[dict, list]:
    """Metrics per test split and the per-record score frames of one fitted detector."""
    results, frames = {}, []
    for split, data in tests.items():
        data.distinct_features  # grouped once per matrix (cached), outside the detector's scoring time
        start = time.perf_counter()
        scores, families, scored = score_rows(detector, data)
        seconds = time.perf_counter() - start
        predictions = scores > detector.threshold_  # what each detector's predict() does
        result = evaluate(data.rows, scores, predictions, training_labels)
        # Throughput of the detector itself: rows it scored, not the repeats filled in from them.
        result.update(predict_seconds=seconds, distinct_records_scored=scored, records_per_second=scored / max(seconds, 1e-9))
        if families is not None:
            truth = data.labels("family")
            result.update(family_accuracy=float(accuracy_score(truth, families)),
                          family_macro_f1=float(f1_score(truth, families, average="macro", zero_division=0)))
        results[split] = result
        frames.append(_score_frame(data.rows, split, name, scores, predictions))
        if log:
            log.info("%s on %s: AUROC %.4f, accuracy %.4f, F1 %.4f (%d records, %d distinct scored at %.0f records/s)",
                     name, split, result["auroc"], result["accuracy"], result["f1"], len(data.rows), scored,
                     result["records_per_second"])
    return results, frames


def without_family(data: Matrix, family: str) -> Matrix:
    return data.take(np.flatnonzero((data.rows["family"].astype(str) != family).to_numpy()))


def run_job(model: str, params: dict, *, seed: int, threads: int | None, train: Matrix, val: Matrix,
            tests: dict[str, Matrix], exclude_family: str | None = None, log=None) -> JobResult:
    """Fit one config model's detectors and score the test splits. ``exclude_family`` holds one
    attack family out of training and validation (leave-one-family-out): it becomes an unknown attack."""
    if exclude_family:
        if not (train.rows["family"].astype(str) == exclude_family).any():
            raise ValueError(f"family {exclude_family!r} does not occur in the training split")
        train, val = without_family(train, exclude_family), without_family(val, exclude_family)
    params = dict(params)
    # The job's own options (one list for the job and the config check); feature_columns were applied
    # when the matrices were read, sweep is bookkeeping.
    options = {key: params.pop(key, None) for key in JOB_OPTIONS}
    max_rows, distinct = options["max_train_rows"], bool(options["distinct_rows"])
    sweep, feature_columns = options["sweep"], options["feature_columns"]
    fitted_on = subsample(train, max_rows, seed, distinct)
    training_labels = set(train.rows["label"].astype(str))
    detectors = build_detectors(model, params, seed, threads)
    document = {"model": model, "base_model": params.get("model", model), "seed": seed, "params": params, "max_train_rows": max_rows,
                "distinct_rows": distinct, "train_rows": len(fitted_on.rows), "train_rows_available": len(train.rows), "detectors": {}}
    if distinct:
        document["train_rows_distinct"] = len(train.distinct.rows)
    if sweep:
        document["sweep"] = sweep
    if exclude_family:
        document["excluded_family"] = exclude_family
    if feature_columns:
        document["feature_columns"] = list(feature_columns)
    frames, histories = [], {}
    for name, detector in detectors.items():
        target = getattr(detector, "target", "binary")
        detector.fit(fitted_on.X, fitted_on.labels(target), val.X, val.labels(target))
        histories[name] = detector.history_
        if log:
            log.info("%s: fitted on %d rows in %.1f s, threshold %.6g", name, len(fitted_on.rows),
                     detector.fit_seconds_, detector.threshold_)
        splits, new_frames = score_splits(name, detector, tests, training_labels, log)
        frames += new_frames
        document["detectors"][name] = {"fit_seconds": detector.fit_seconds_, "n_params": detector.n_params_,
                                       "threshold": float(detector.threshold_),
                                       "epochs": len(detector.history_.get("loss", [])), "splits": splits}
    return JobResult(document, pd.concat(frames, ignore_index=True), histories, detectors)


def cross_job(detectors: dict, trained: dict, tests: dict[str, Matrix], training_labels, log=None) -> JobResult:
    """Score another dataset's splits (in the training dataset's feature space) with fitted detectors;
    ``trained`` is the training job's metrics document (fit figures are copied from it)."""
    document = {key: trained[key] for key in ("model", "base_model", "seed", "params", "feature_columns") if key in trained}
    document["detectors"], frames = {}, []
    for name, detector in detectors.items():
        splits, new_frames = score_splits(name, detector, tests, training_labels, log)
        frames += new_frames
        fit = {k: v for k, v in trained["detectors"][name].items() if k != "splits"}
        document["detectors"][name] = {**fit, "splits": splits}
    return JobResult(document, pd.concat(frames, ignore_index=True), {})


def precomputed_lof_job(lof_scores: pd.DataFrame, summary: dict, train_labels, tests: list[str]) -> JobResult:
    """The canonicalization stage's novelty LOF as a baseline: its scores, outline-score threshold."""
    document = {"model": "lof", "base_model": "lof", "seed": None, "params": {"n_neighbors": summary["n_neighbors"],
                                                         "contamination": summary["contamination"]},
                "detectors": {"lof": {"fit_seconds": None, "n_params": None, "threshold": summary["outline_score"],
                                      "epochs": 0, "splits": {}}}}
    frames = []
    for split in tests:
        rows = lof_scores[lof_scores["split"] == split].reset_index(drop=True)
        predictions = rows["lof_label"].to_numpy() == -1
        document["detectors"]["lof"]["splits"][split] = evaluate(rows, rows["lof_score"], predictions, set(train_labels))
        frames.append(_score_frame(rows, split, "lof", rows["lof_score"], predictions))
    return JobResult(document, pd.concat(frames, ignore_index=True), {"lof": {}})
