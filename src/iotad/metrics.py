"""Evaluation of one detector on one test split: threshold metrics, score-based AUROC/AUPRC,
Vu et al.'s hard-prediction "AUC" beside them, and detection rates per family and attack label."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve

# Detection rate where the score's cut lets through at most 1 % / 5 % of the normal records: how a
# detector compares at the false-alarm rates an operator can afford, whatever its threshold rule.
FIXED_ALARM_METRICS = {"detection_at_1pct_false_alarms": 0.01, "detection_at_5pct_false_alarms": 0.05}


def threshold_metrics(is_attack, predictions) -> dict:
    """The metrics of 0/1 predictions alone: counts, accuracy, precision, recall, F1 and false-alarm
    rate, an undefined one None with its reason under ``undefined`` (precision without a predicted
    attack, recall and F1 without attacks, the false-alarm rate without normals). Never 0.0: a 0.0
    would rank as a real (bad) result."""
    y = np.asarray(is_attack, dtype=bool)
    pred = np.asarray(predictions, dtype=bool)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[False, True]).ravel())
    records, attacks = len(y), int(y.sum())
    reasons = {}
    if not records:
        reasons["accuracy"] = "no records"
    if not attacks:
        reasons.update(dict.fromkeys(("recall", "f1"), "no attack records"))
    if attacks == records:
        reasons["false_alarm_rate"] = "no normal records"
    if not tp + fp:
        reasons["precision"] = "no record predicted an attack"
    values = {
        "accuracy": lambda: (tp + tn) / records,
        "precision": lambda: tp / (tp + fp),
        "recall": lambda: tp / (tp + fn),
        "f1": lambda: 2 * tp / (2 * tp + fp + fn),  # 0 when attacks exist and none is found: defined
        "false_alarm_rate": lambda: fp / (fp + tn),
    }
    metrics = {"records": records, "attacks": attacks}
    metrics.update({name: None if name in reasons else float(compute()) for name, compute in values.items()})
    metrics.update(tn=tn, fp=fp, fn=fn, tp=tp)
    if reasons:
        metrics["undefined"] = dict(sorted(reasons.items()))
    return metrics


def binary_metrics(is_attack, scores, predictions) -> dict:
    """Metrics for attack (positive) vs normal: ``threshold_metrics`` of the predictions, and from the
    continuous scores AUROC, AUPRC, its no-skill value ``auprc_baseline`` (the split's attack share)
    and the detection rate at 1 % / 5 % false alarms (the ROC curve read there, every cut kept: ties
    make collinear points). ``hard_auc`` is the AUROC of the 0/1 predictions, which is what Vu et al.
    report as AUC. Those need both classes; undefined, they are None with a reason."""
    y = np.asarray(is_attack, dtype=bool)
    pred = np.asarray(predictions, dtype=bool)
    scores = np.asarray(scores, dtype="float64")
    metrics = threshold_metrics(y, pred)
    records, attacks = metrics["records"], metrics["attacks"]
    scored = ("auroc", "auprc", "hard_auc", *FIXED_ALARM_METRICS)
    reasons = dict(metrics.pop("undefined", {}))
    values = dict.fromkeys(scored)
    if not attacks:
        reasons.update(dict.fromkeys(scored[:3], "no attack records"))
    if attacks == records:
        reasons.update(dict.fromkeys(scored[:3], "no normal records"))
    if not attacks or attacks == records:
        reasons.update(dict.fromkeys(FIXED_ALARM_METRICS, "needs normal and attack records"))
    else:
        y_points, score_points, weights = _weighted_points(y, scores)
        fpr, tpr, _ = roc_curve(y_points, score_points, sample_weight=weights, drop_intermediate=False)
        values.update(
            auroc=float(roc_auc_score(y_points, score_points, sample_weight=weights)),
            auprc=float(average_precision_score(y_points, score_points, sample_weight=weights)),
        )
        y_points, pred_points, weights = _weighted_points(y, pred.astype("float64"))
        values["hard_auc"] = float(roc_auc_score(y_points, pred_points, sample_weight=weights))
        values.update({name: float(tpr[fpr <= rate].max()) for name, rate in FIXED_ALARM_METRICS.items()})
    if not records:
        reasons["auprc_baseline"] = "no records"
    order = (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "auroc",
        "auprc",
        "auprc_baseline",
        "hard_auc",
        "false_alarm_rate",
        *FIXED_ALARM_METRICS,
    )
    merged = {**metrics, **values, "auprc_baseline": attacks / records if records else None}
    result = {
        "records": records,
        "attacks": attacks,
        **{key: merged[key] for key in order},
        **{key: metrics[key] for key in ("tn", "fp", "fn", "tp")},
    }
    if reasons:
        result["undefined"] = dict(sorted(reasons.items()))
    return result


def _weighted_points(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each distinct (class, score) pair once with its count as weight. scikit-learn's ranking metrics
    give the same values on them as on every row (they accumulate the weights at each distinct score,
    and whole-number weights add up exactly in float64) from far fewer points where scores repeat:
    rows with one feature vector share a score (kddcup99's test split: 311,029 rows, 77,216 vectors)."""
    order = np.lexsort((y, scores))
    y, scores = y[order], scores[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (scores[1:] != scores[:-1]) | (y[1:] != y[:-1])
    starts = np.flatnonzero(first)
    return y[starts], scores[starts], np.diff(np.append(starts, len(order))).astype("float64")


def detection_rates(rows: pd.DataFrame, predictions, training_labels) -> pd.DataFrame:
    """Share of records flagged as attacks, per family and per original label.

    ``unseen_share`` is the share of a group's records whose label is absent from the training split
    (the unknown-attack question); ``unseen_in_training`` marks groups made only of such records. For
    the normal family the rate is the false-alarm rate.
    """
    flagged = pd.Series(np.asarray(predictions, dtype=bool), index=rows.index)
    unseen = ~rows["label"].astype(str).isin(set(training_labels))
    tables = []
    for level in ("family", "label"):
        keys = rows[level]
        table = pd.DataFrame(
            {
                "records": flagged.groupby(keys, observed=True).size(),
                "detected": flagged.groupby(keys, observed=True).sum().astype("int64"),
                "unseen_share": unseen.groupby(keys, observed=True).mean(),
            }
        )
        table["rate"] = table["detected"] / table["records"]
        table["unseen_in_training"] = table["unseen_share"] == 1.0
        tables.append(table.reset_index(names="name").assign(level=level))
    columns = ["level", "name", "records", "detected", "rate", "unseen_share", "unseen_in_training"]
    return pd.concat(tables, ignore_index=True)[columns]
