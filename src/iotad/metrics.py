"""Evaluation of one detector on one test split: threshold metrics, score-based AUROC/AUPRC,
Vu et al.'s hard-prediction "AUC" beside them, and detection rates per family and attack label."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)


def binary_metrics(is_attack, scores, predictions) -> dict:
    """Metrics for attack (positive) vs normal. AUROC/AUPRC use the continuous scores; ``hard_auc``
    is the AUROC of the 0/1 predictions, which is what Vu et al. report as AUC. Undefined values
    (a split with one class only) are NaN."""
    y = np.asarray(is_attack, dtype=bool)
    pred = np.asarray(predictions, dtype=bool)
    scores = np.asarray(scores, dtype="float64")
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[False, True]).ravel()
    both = y.any() and (~y).any()
    return {
        "records": int(len(y)),
        "attacks": int(y.sum()),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "auroc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "auprc": float(average_precision_score(y, scores)) if both else float("nan"),
        "hard_auc": float(roc_auc_score(y, pred)) if both else float("nan"),
        "false_alarm_rate": float(fp / (fp + tn)) if fp + tn else float("nan"),
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
    }


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
