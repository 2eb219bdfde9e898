"""Evaluation of one detector on one test split: threshold metrics, score-based AUROC/AUPRC,
Vu et al.'s hard-prediction "AUC" beside them, and detection rates per family and attack label."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve


# Detection rate where the score's cut lets through at most 1 % / 5 % of the normal records: how a
# detector compares at the false-alarm rates an operator can afford, whatever its threshold rule.
FIXED_ALARM_METRICS = {"detection_at_1pct_false_alarms": 0.01, "detection_at_5pct_false_alarms": 0.05}


def detection_at_false_alarm_rate(is_attack, scores, rate: float) -> float:
    """The highest detection rate (true-positive rate) of any score cut whose false-alarm rate is at
    most ``rate`` (the ROC curve read at that false-alarm rate, no interpolation)."""
    fpr, tpr, _ = roc_curve(is_attack, scores, drop_intermediate=False)  # keep every cut: ties make collinear points
    return float(tpr[fpr <= rate].max())


def binary_metrics(is_attack, scores, predictions) -> dict:
    """Metrics for attack (positive) vs normal. AUROC/AUPRC use the continuous scores; ``hard_auc``
    is the AUROC of the 0/1 predictions, which is what Vu et al. report as AUC; ``auprc_baseline``
    is AUPRC's no-skill value (the split's attack share).

    A metric the split cannot define is None, and ``undefined`` maps it to the reason: precision
    without a predicted attack, recall without attacks, AUROC/AUPRC without both classes, the
    false-alarm rate without normals; F1 without attacks (it scores the attack class). Never 0.0: a 0.0 would rank as a real (bad) result."""
    y = np.asarray(is_attack, dtype=bool)
    pred = np.asarray(predictions, dtype=bool)
    scores = np.asarray(scores, dtype="float64")
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[False, True]).ravel())
    records, attacks = len(y), int(y.sum())
    reasons = {}
    if not records:
        reasons.update(dict.fromkeys(("accuracy", "auprc_baseline"), "no records"))
    if not attacks:
        reasons.update(dict.fromkeys(("recall", "f1", "auroc", "auprc", "hard_auc"), "no attack records"))
    if attacks == records:
        reasons.update(dict.fromkeys(("false_alarm_rate", "auroc", "auprc", "hard_auc"), "no normal records"))
    if not attacks or attacks == records:
        reasons.update(dict.fromkeys(FIXED_ALARM_METRICS, "needs normal and attack records"))
    if not tp + fp:
        reasons["precision"] = "no record predicted an attack"
    values = {
        "accuracy": lambda: (tp + tn) / records,
        "precision": lambda: tp / (tp + fp),
        "recall": lambda: tp / (tp + fn),
        "f1": lambda: 2 * tp / (2 * tp + fp + fn),  # 0 when attacks exist and none is found: defined
        "auroc": lambda: roc_auc_score(y, scores),
        "auprc": lambda: average_precision_score(y, scores),
        "auprc_baseline": lambda: attacks / records,
        "hard_auc": lambda: roc_auc_score(y, pred),
        "false_alarm_rate": lambda: fp / (fp + tn),
    } | {name: (lambda rate=rate: detection_at_false_alarm_rate(y, scores, rate)) for name, rate in FIXED_ALARM_METRICS.items()}
    metrics = {"records": records, "attacks": attacks}
    metrics.update({name: None if name in reasons else float(compute()) for name, compute in values.items()})
    metrics.update(tn=tn, fp=fp, fn=fn, tp=tp)
    if reasons:
        metrics["undefined"] = dict(sorted(reasons.items()))
    return metrics


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
        table = pd.DataFrame({
            "records": flagged.groupby(keys, observed=True).size(),
            "detected": flagged.groupby(keys, observed=True).sum().astype("int64"),
            "unseen_share": unseen.groupby(keys, observed=True).mean(),
        })
        table["rate"] = table["detected"] / table["records"]
        table["unseen_in_training"] = table["unseen_share"] == 1.0
        tables.append(table.reset_index(names="name").assign(level=level))
    columns = ["level", "name", "records", "detected", "rate", "unseen_share", "unseen_in_training"]
    return pd.concat(tables, ignore_index=True)[columns]
