"""One training job: fit a config model's detectors on the training matrix, pick thresholds on the
validation split, and score every test split. Returns what the job writes: per-record scores, a
metrics document and the training histories."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from .features import read_matrix
from .metrics import binary_metrics, detection_rates, threshold_metrics
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
        return (
            self.rows["family"].astype(str).to_numpy() if target == "family" else self.rows["is_attack"].to_numpy(bool)
        )

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
    def row_hashes(self) -> np.ndarray:
        """One 64-bit hash per feature vector, to find test rows that repeat a training row (pandas'
        row hash; a collision among a million rows has odds of about 1e-7)."""
        return pd.util.hash_pandas_object(pd.DataFrame(self.X), index=False).to_numpy()

    def seen_in(self, train: Matrix) -> np.ndarray:
        """Which rows have a feature vector that also occurs in ``train``."""
        return np.isin(self.row_hashes, train.row_hashes)

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


NOVEL_METRICS = (
    "records",
    "attacks",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auroc",
    "auprc",
    "auprc_baseline",
    "false_alarm_rate",
)
RULE_METRICS = ("accuracy", "precision", "recall", "f1", "false_alarm_rate")


def evaluate(rows: pd.DataFrame, scores, predictions, training_labels, seen=None, thresholds=None) -> dict:
    """Binary metrics and per-family / per-label detection rates of one detector on one split.
    ``seen`` marks rows whose feature vector occurs in training: the headline metrics are repeated
    on the others (``novel``). ``thresholds`` ({rule: value}) adds the metrics at other threshold
    rules (e.g. the seed paper's last training loss beside the configured one)."""
    metrics = binary_metrics(rows["is_attack"], scores, predictions)
    # The unknown-attack question in two numbers: attacks whose type the training split lacks, vs the rest.
    flagged = np.asarray(predictions, dtype=bool)
    attack = rows["is_attack"].to_numpy(bool)
    unseen = attack & ~rows["label"].astype(str).isin(set(training_labels)).to_numpy()
    for name, mask in (("unseen", unseen), ("seen", attack & ~unseen)):
        metrics[f"{name}_attack_records"] = int(mask.sum())
        metrics[f"{name}_attack_detection_rate"] = float(flagged[mask].mean()) if mask.any() else None
    metrics["detection"] = detection_rates(rows, predictions, training_labels).to_dict(orient="records")
    if seen is not None:
        metrics["overlap_records"] = int(seen.sum())
        metrics["overlap_share"] = float(seen.mean()) if len(seen) else None  # no records: "accuracy" says why
        novel = binary_metrics(attack[~seen], np.asarray(scores)[~seen], flagged[~seen])
        metrics["novel"] = {key: novel[key] for key in NOVEL_METRICS} | (
            {"undefined": novel["undefined"]} if "undefined" in novel else {}
        )
    for rule, threshold in (thresholds or {}).items():
        at_rule = np.asarray(scores) > threshold
        values = threshold_metrics(attack, at_rule)  # a threshold moves no score-based metric
        undefined = {key: why for key, why in values.get("undefined", {}).items() if key in RULE_METRICS}
        metrics[rule] = {
            "threshold": float(threshold),
            **{key: values[key] for key in RULE_METRICS},
            "detection": detection_rates(rows, at_rule, training_labels).to_dict(orient="records"),
        }
        if undefined:
            metrics[rule]["undefined"] = undefined
    return metrics


def _score_frame(rows: pd.DataFrame, split: str, detector: str, scores, predictions) -> pd.DataFrame:
    ids = rows[[c for c in ("part", "record_id", "label", "family", "is_attack") if c in rows.columns]]
    return ids.assign(
        split=split, detector=detector, score=np.asarray(scores, "float64"), prediction=np.asarray(predictions, "int8")
    )


def score_rows(detector, data: Matrix) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Every row's score (and family, for the supervised model), computing each distinct feature vector
    once; returns how many rows were scored too."""
    multi_class = getattr(detector, "target", "binary") == "family"
    X, row_to_unique = data.distinct_features or (data.X, None)
    scores, families = (
        detector.decision_function_and_families(X) if multi_class else (detector.decision_function(X), None)
    )
    if row_to_unique is not None:
        scores, families = scores[row_to_unique], None if families is None else families[row_to_unique]
    return scores, families, len(X)


def score_splits(
    name: str,
    detector,
    tests: dict[str, Matrix],
    training_labels,
    log=None,
    seen: dict[str, np.ndarray] | None = None,
    context: str = "",
) -> tuple[dict, list]:
    """Metrics per test split and the per-record score frames of one fitted detector. With ``seen``
    ({split: rows whose feature vector occurs in training}, see ``seen_in_training``), each split also
    reports its overlap with the training rows and the metrics on its novel rows; ``context``
    (dataset, model, seed) names the job in warnings."""
    results, frames = {}, []
    thresholds = getattr(detector, "alternative_thresholds_", None)
    for split, data in tests.items():
        _ = data.distinct_features  # grouped once per matrix (cached), outside the detector's scoring time
        start = time.perf_counter()
        scores, families, scored = score_rows(detector, data)
        seconds = time.perf_counter() - start
        predictions = scores > detector.threshold_  # what each detector's predict() does
        result = evaluate(data.rows, scores, predictions, training_labels, (seen or {}).get(split), thresholds)
        # Throughput of the detector itself: rows it scored, not the repeats filled in from them.
        result.update(
            predict_seconds=seconds, distinct_records_scored=scored, records_per_second=scored / max(seconds, 1e-9)
        )
        if families is not None:
            truth = data.labels("family")
            result.update(
                family_accuracy=float(accuracy_score(truth, families)),
                family_macro_f1=float(f1_score(truth, families, average="macro", zero_division=0)),
            )
        results[split] = result
        frames.append(_score_frame(data.rows, split, name, scores, predictions))
        if log:
            warn_undefined(log, f"{context}{name} on {split}", result)
            log.info(
                "%s%s on %s: AUROC %s, accuracy %s, F1 %s (%d records, %d distinct scored at %.0f records/s)",
                context,
                name,
                split,
                _shown(result["auroc"]),
                _shown(result["accuracy"]),
                _shown(result["f1"]),
                len(data.rows),
                scored,
                result["records_per_second"],
            )
    return results, frames


def seen_in_training(tests: dict[str, Matrix], train: Matrix | None) -> dict[str, np.ndarray] | None:
    """{split: rows whose feature vector occurs in ``train``}: once per job, for all its detectors."""
    return None if train is None else {split: data.seen_in(train) for split, data in tests.items()}


def degenerate_reasons(
    splits: dict, frames: list[pd.DataFrame], history: dict, majority_share: float | None
) -> list[str]:
    """Why a fitted detector is degenerate (empty: it is not): the same score for every record of a
    test split, every normal record of a test split flagged, or (a supervised model) a validation
    accuracy that never left the majority family's share. Such runs are reported apart, never averaged."""
    reasons = []
    for frame in frames:
        split = frame["split"].iloc[0] if len(frame) else "?"
        if len(frame) > 1 and np.ptp(frame["score"].to_numpy()) == 0:
            reasons.append(f"constant score on {split}")
    for split, result in splits.items():
        if result.get("false_alarm_rate") == 1.0:
            reasons.append(f"every normal record flagged on {split}")
    accuracy = history.get("val_accuracy") or []
    # (a validation split of one family says nothing: predicting it is right, not stuck)
    if (
        majority_share is not None
        and majority_share < 1
        and len(accuracy) > 1
        and np.ptp(accuracy) == 0
        and abs(accuracy[0] - majority_share) < 1e-3
    ):
        reasons.append(f"validation accuracy constant at the majority family's share ({majority_share:.3f})")
    return reasons


def warn_undefined(log, where: str, result: dict) -> None:
    """One warning per undefined metric of a split's result, its sections (novel rows, other
    threshold rules) included: "<dataset>/<model>/seed<s>: <detector> on <split>: <metric> undefined"."""
    sections = [("", result)] + [(f"{k}.", v) for k, v in result.items() if isinstance(v, dict) and "undefined" in v]
    for prefix, section in sections:
        for metric, reason in section.get("undefined", {}).items():
            log.warning("%s: %s%s undefined (%s): written as null", where, prefix, metric, reason)


def _shown(value) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def run_job(
    model: str,
    params: dict,
    *,
    seed: int,
    threads: int | None,
    train: Matrix,
    val: Matrix,
    tests: dict[str, Matrix],
    exclude_family: str | None = None,
    log=None,
    dataset: str = "",
) -> JobResult:
    """Fit one config model's detectors and score the test splits. ``exclude_family`` names the family
    a leave-one-family-out job holds out: its matrices come from a view prepared without it (split,
    transform, LOF, DBSCAN), so here it must be absent from training and validation already."""
    return next(
        run_jobs(
            model,
            params,
            seeds=[seed],
            threads=threads,
            views=[(train, val, tests)],
            exclude_family=exclude_family,
            log=log,
            dataset=dataset,
        )
    )


def run_jobs(
    model: str,
    params: dict,
    *,
    seeds: list[int],
    threads: int | None,
    views: list[tuple[Matrix, Matrix, dict[str, Matrix]]],
    exclude_family: str | None = None,
    log=None,
    dataset: str = "",
) -> Iterator[JobResult]:
    """``run_job`` for every seed of a (dataset, model) job, each on its own view (train, val, tests):
    the networks of all seeds train together (``models.stacked``: one compiled graph, each seed's
    result what it would be alone), then each seed's other fits and scoring. Yields each seed's result
    in turn."""
    for train, val, _ in views:
        for name, data in (("training", train), ("validation", val)):
            if exclude_family and (data.rows["family"].astype(str) == exclude_family).any():
                raise ValueError(
                    f"{dataset}: held-out family {exclude_family!r} occurs in the {name} rows of a "
                    f"leave-one-family-out job; its matrices must come from the view without it"
                )
    params = dict(params)
    # The job's own options (one list for the job and the config check); feature_columns were applied
    # when the matrices were read, sweep is bookkeeping.
    options = {key: params.pop(key, None) for key in JOB_OPTIONS}
    max_rows, distinct = options["max_train_rows"], bool(options["distinct_rows"])
    fitted_on = [subsample(train, max_rows, seed, distinct) for seed, (train, _, _) in zip(seeds, views)]
    detectors = [build_detectors(model, params, seed, threads) for seed in seeds]
    pretrained = _train_networks_together(
        model, seeds, detectors, fitted_on, [val for _, val, _ in views], log, dataset
    )
    shared = {}  # a deterministic detector's fit and scores, for the seeds that train on the same rows
    for seed, (train, val, tests), fitted, seed_detectors in zip(seeds, views, fitted_on, detectors):
        yield _seed_job(
            model,
            params,
            options,
            seed,
            train,
            val,
            tests,
            fitted,
            seed_detectors,
            pretrained,
            exclude_family,
            log,
            dataset,
            shared,
        )


def _train_networks_together(
    model: str, seeds, detectors: list[dict], fitted_on: list[Matrix], vals: list[Matrix], log, dataset: str
) -> set[int]:
    """Fit every seed's networks (an autoencoder, the encoder a latent model's classifiers share) in
    one group; returns the ids of the detectors now fully fitted. A latent model's encoder is fitted
    once per seed and handed to its classifiers frozen (they then fit their classifier on its codes)."""
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    from .models import stacked

    networks, rows, names, whole, readers = [], [], [], set(), {}
    for seed, seed_detectors, fitted, val in zip(seeds, detectors, fitted_on, vals):
        for name, detector in seed_detectors.items():
            part = stacked.trainable_part(detector)
            if part is None:
                continue
            if part is not detector:  # an encoder template, shared by the model's classifiers
                if id(part) in readers:
                    readers[id(part)][1].append(detector)
                    continue
                readers[id(part)] = (len(networks), [detector])
                part = clone(part)
            else:
                whole.add(id(detector))
            target = getattr(detector, "target", "binary")
            networks.append(part)
            rows.append((fitted.X, fitted.labels(target), val.X, val.labels(target)))
            names.append(f"{dataset}/{model}/seed{seed}: {name}")
    if networks:
        stacked.fit_together(networks, rows, names, log)
    for index, classifiers in readers.values():
        frozen = FrozenEstimator(networks[index])
        for detector in classifiers:
            detector.set_params(encoder=frozen)
    return whole


def _seed_job(
    model,
    params,
    options,
    seed,
    train,
    val,
    tests,
    fitted_on,
    detectors,
    pretrained,
    exclude_family,
    log,
    dataset,
    shared=None,
) -> JobResult:
    """One seed's remaining fits, scoring and metrics document (its networks trained already).
    ``shared`` holds the fits and scores of detectors that take no random step, by the matrices they
    saw: a later seed on the same matrices takes them over instead of computing them again."""
    shared = {} if shared is None else shared
    max_rows, distinct = options["max_train_rows"], bool(options["distinct_rows"])
    sweep, feature_columns = options["sweep"], options["feature_columns"]
    training_labels = set(train.rows["label"].astype(str))
    document = {
        "model": model,
        "base_model": params.get("model", model),
        "seed": seed,
        "params": params,
        "max_train_rows": max_rows,
        "distinct_rows": distinct,
        "train_rows": len(fitted_on.rows),
        "train_rows_available": len(train.rows),
        "detectors": {},
    }
    if distinct:
        document["train_rows_distinct"] = len(train.distinct.rows)
    if sweep:
        document["sweep"] = sweep
    if exclude_family:
        document["excluded_family"] = exclude_family
    if feature_columns:
        document["feature_columns"] = list(feature_columns)
    frames, histories, seen, fitted = [], {}, seen_in_training(tests, train), {}
    for name, detector in detectors.items():
        target = getattr(detector, "target", "binary")
        inputs = (name, id(fitted_on), id(val), *map(id, tests.values()))
        deterministic = id(detector) not in pretrained and not detector.takes_random_step(
            fitted_on.X, fitted_on.labels(target)
        )
        if deterministic and inputs in shared:
            first_seed, detector, splits, new_frames = shared[inputs]
            detector = copy.copy(detector).set_params(seed=seed)
            splits = copy.deepcopy(splits)
            if log:
                log.info(
                    "%s/%s/seed%s: %s: no random step, fit and scores of seed %s (same rows)",
                    dataset,
                    model,
                    seed,
                    name,
                    first_seed,
                )
        else:
            if id(detector) not in pretrained:
                try:
                    detector.fit(fitted_on.X, fitted_on.labels(target), val.X, val.labels(target))
                except ValueError as exc:  # the data cannot train this detector: say which job and detector
                    raise ValueError(f"{dataset}/{model}/seed{seed}: {name}: {exc}") from exc
            if log:
                log.info(
                    "%s/%s/seed%s: %s: fitted on %d rows in %.1f s, threshold %.6g",
                    dataset,
                    model,
                    seed,
                    name,
                    len(fitted_on.rows),
                    detector.fit_seconds_,
                    detector.threshold_,
                )
            splits, new_frames = score_splits(
                name, detector, tests, training_labels, log, seen, f"{dataset}/{model}/seed{seed}: "
            )
            if deterministic:
                shared[inputs] = (seed, detector, splits, new_frames)
        fitted[name] = detector
        histories[name] = detector.history_
        frames += new_frames
        document["detectors"][name] = {
            "fit_seconds": detector.fit_seconds_,
            "n_params": detector.n_params_,
            "threshold": float(detector.threshold_),
            "epochs": len(detector.history_.get("loss", [])),
            "splits": splits,
        }
        if deterministic and shared[inputs][0] != seed:  # cross-dataset jobs reuse its scores too
            document["detectors"][name]["fit_of_seed"] = shared[inputs][0]
        if getattr(detector, "train_mse_", None) is not None:
            document["detectors"][name]["train_mse"] = detector.train_mse_
        majority = (
            val.rows["family"].astype(str).value_counts(normalize=True).iloc[0]
            if target == "family" and len(val.rows)
            else None
        )
        reasons = degenerate_reasons(splits, new_frames, detector.history_, majority)
        document["detectors"][name]["degenerate"] = reasons
        if reasons and log:
            log.warning(
                "%s/%s/seed%s: %s is degenerate (%s): reported apart, out of means and ranks",
                dataset,
                model,
                seed,
                name,
                "; ".join(reasons),
            )
    return JobResult(document, pd.concat(frames, ignore_index=True), histories, fitted)


def cross_job(
    detectors: dict,
    trained: dict,
    tests: dict[str, Matrix],
    training_labels,
    log=None,
    train: Matrix | None = None,
    context: str = "",
    shared: dict | None = None,
) -> JobResult:
    """Score another dataset's splits (in the training dataset's feature space) with fitted detectors;
    ``trained`` is the training job's metrics document (fit figures are copied from it); ``train``, the
    training rows, gives each split's overlap with them (NSL-KDD is derived from KDD'99). ``shared``
    (one dict for a job's seeds) holds each seed's results: a detector the training job fitted once for
    several seeds (``fit_of_seed``: no random step, same rows) takes that seed's scores on the same
    matrices instead of scoring them again."""
    shared = {} if shared is None else shared
    document = {
        key: trained[key] for key in ("model", "base_model", "seed", "params", "feature_columns") if key in trained
    }
    document["detectors"], frames, seen = {}, [], seen_in_training(tests, train)
    for name, detector in detectors.items():
        source_seed = trained["detectors"][name].get("fit_of_seed", trained.get("seed"))
        inputs = (name, source_seed, id(train), *map(id, tests.values()))
        if inputs in shared:
            splits, new_frames = copy.deepcopy(shared[inputs])
            if log:
                log.info("%s%s: the fit of seed %s, scored already (same rows)", context, name, source_seed)
        else:
            splits, new_frames = score_splits(name, detector, tests, training_labels, log, seen, context)
            shared[inputs] = (splits, new_frames)
        frames += new_frames
        fit = {k: v for k, v in trained["detectors"][name].items() if k != "splits"}
        # degenerate where it was trained, or on this dataset's splits (constant scores, every normal flagged)
        reasons = list(fit.get("degenerate", [])) + degenerate_reasons(splits, new_frames, {}, None)
        document["detectors"][name] = {**fit, "degenerate": reasons, "splits": splits}
        if reasons and log and reasons != fit.get("degenerate"):
            log.warning("%s%s is degenerate here (%s): reported apart", context, name, "; ".join(reasons))
    return JobResult(document, pd.concat(frames, ignore_index=True), {})


def precomputed_lof_job(
    lof_scores: pd.DataFrame, summary: dict, train: Matrix, tests: dict[str, Matrix], log=None, context: str = ""
) -> JobResult:
    """The canonicalization stage's novelty LOF as a baseline: its scores, outline-score threshold."""
    document = {
        "model": "lof",
        "base_model": "lof",
        "seed": None,
        "params": {"n_neighbors": summary["n_neighbors"], "contamination": summary["contamination"]},
        "detectors": {
            "lof": {
                "fit_seconds": None,
                "n_params": None,
                "threshold": summary["outline_score"],
                "epochs": 0,
                "splits": {},
            }
        },
    }
    frames, training_labels = [], set(train.rows["label"].astype(str))
    for split, data in tests.items():
        rows = lof_scores[lof_scores["split"] == split].reset_index(drop=True)
        if not rows["record_id"].equals(data.rows["record_id"].reset_index(drop=True)):
            raise ValueError(
                f"{context}LOF scores of split {split!r} do not follow its feature matrix's rows; rerun the lof rule"
            )
        predictions = rows["lof_label"].to_numpy() == -1
        result = evaluate(rows, rows["lof_score"], predictions, training_labels, data.seen_in(train))
        if log:
            warn_undefined(log, f"{context}lof on {split}", result)
        document["detectors"]["lof"]["splits"][split] = result
        frames.append(_score_frame(rows, split, "lof", rows["lof_score"], predictions))
    return JobResult(document, pd.concat(frames, ignore_index=True), {"lof": {}})
