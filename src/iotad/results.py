"""The one tidy results table every report table and figure is made from.

One row per (experiment, train dataset, test dataset, model, detector, seed, split, metric, group):
``group`` is empty for overall metrics and names the family (``detection_rate``) or the attack
label (``label_detection_rate``) otherwise. ``setting`` / ``setting_value`` (JSON) name what an
experiment changed: the swept hyperparameter and its value (experiment ``sweep``; ``model`` is then
the variant, ``base_model`` the model), or ``held_out_family`` (experiment ``lofo``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = ["experiment", "train_dataset", "test_dataset", "model", "base_model", "detector", "representation",
           "classifier", "setting", "setting_value", "seed", "split", "metric", "group", "value"]
FIT_METRICS = ("fit_seconds", "n_params", "threshold", "epochs")


def detector_values(entry: dict):
    """(split, metric, group, value) of one detector's entry in a metrics document: fit figures under
    split "train", every numeric scalar per split, detection rates per family and attack label (and
    again as ``unseen_label_detection_rate`` for labels absent from training)."""
    for key in FIT_METRICS:
        if isinstance(entry.get(key), (int, float)):
            yield "train", key, "", float(entry[key])
    for split, values in entry["splits"].items():
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield split, key, "", float(value)
        for rate in values.get("detection", []):
            metric = "detection_rate" if rate["level"] == "family" else "label_detection_rate"
            yield split, metric, str(rate["name"]), float(rate["rate"])
            if rate["level"] == "label" and rate.get("unseen_in_training"):
                yield split, "unseen_label_detection_rate", str(rate["name"]), float(rate["rate"])


def tidy_job(document: dict, experiment: str = "grid", test_dataset: str | None = None) -> pd.DataFrame:
    """Rows of one job's metrics document."""
    rows = []
    dataset = document["dataset"]
    sweep = document.get("sweep") or {}
    if document.get("excluded_family"):  # leave-one-family-out: the family held out of training
        sweep = {"parameter": "held_out_family", "value": document["excluded_family"]}
    for detector, entry in document["detectors"].items():
        representation, _, classifier = detector.partition(":")
        base = {"experiment": experiment, "train_dataset": dataset, "test_dataset": test_dataset or dataset,
                "model": document["model"], "base_model": document.get("base_model", document["model"]),
                "detector": detector, "representation": representation, "classifier": classifier,
                "setting": sweep.get("parameter", ""),
                "setting_value": json.dumps(sweep["value"]) if sweep else "", "seed": document["seed"]}
        rows += [{**base, "split": split, "metric": metric, "group": group, "value": value}
                 for split, metric, group, value in detector_values(entry)]
    return pd.DataFrame(rows, columns=COLUMNS)


def collect(paths: list[str | Path], experiments: list[str] | None = None) -> pd.DataFrame:
    """The tidy table of many jobs' metrics documents (a cross-dataset document names its test dataset)."""
    frames = []
    for i, path in enumerate(paths):
        document = json.loads(Path(path).read_text())
        frames.append(tidy_job(document, experiments[i] if experiments else "grid", document.get("test_dataset")))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    table["seed"] = table["seed"].astype("int64")
    return table
