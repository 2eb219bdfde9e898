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

COLUMNS = [
    "experiment",
    "train_dataset",
    "test_dataset",
    "model",
    "base_model",
    "detector",
    "representation",
    "classifier",
    "setting",
    "setting_value",
    "seed",
    "split",
    "metric",
    "group",
    "value",
]
FIT_METRICS = ("fit_seconds", "n_params", "threshold", "epochs", "train_mse")
# Nested per-split sections flattened into "<section>.<metric>": the metrics on novel test rows
# (feature vector absent from training) and at other threshold rules (the seed paper's last loss).
SECTIONS = ("novel", "last_loss")


def _number(value) -> float | None:
    """A metric's value: numbers as floats, null (an undefined metric) as NaN; anything else None."""
    if value is None:
        return float("nan")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _rates(prefix: str, detection: list[dict]):
    for rate in detection:
        metric = "detection_rate" if rate["level"] == "family" else "label_detection_rate"
        yield f"{prefix}{metric}", str(rate["name"]), float(rate["rate"])
        if rate["level"] == "label" and rate.get("unseen_in_training"):
            yield f"{prefix}unseen_label_detection_rate", str(rate["name"]), float(rate["rate"])


def detector_values(entry: dict):
    """(split, metric, group, value) of one detector's entry in a metrics document: fit figures under
    split "train", every numeric scalar per split (an undefined one, null in the document, as NaN),
    detection rates per family and attack label (and again as ``unseen_label_detection_rate`` for
    labels absent from training), and the SECTIONS' metrics as "<section>.<metric>"."""
    for key in FIT_METRICS:  # None here means "does not apply" (LOF has no fit time of its own)
        if isinstance(entry.get(key), (int, float)):
            yield "train", key, "", float(entry[key])
    if "degenerate" in entry:  # 1.0: the run is reported apart (see iotad.runs.degenerate_reasons)
        yield "train", "degenerate", "", float(bool(entry["degenerate"]))
    for split, values in entry["splits"].items():
        for prefix, section in [("", values)] + [(f"{s}.", values[s]) for s in SECTIONS if s in values]:
            for key, value in section.items():
                if (number := _number(value)) is not None:
                    yield split, f"{prefix}{key}", "", number
            for metric, group, value in _rates(prefix, section.get("detection", [])):
                yield split, metric, group, value


def tidy_job(document: dict, experiment: str = "grid", test_dataset: str | None = None) -> pd.DataFrame:
    """Rows of one job's metrics document."""
    rows = []
    dataset = document["dataset"]
    sweep = document.get("sweep") or {}
    if document.get("excluded_family"):  # leave-one-family-out: the family held out of training
        sweep = {"parameter": "held_out_family", "value": document["excluded_family"]}
    for detector, entry in document["detectors"].items():
        representation, _, classifier = detector.partition(":")
        base = {
            "experiment": experiment,
            "train_dataset": dataset,
            "test_dataset": test_dataset or dataset,
            "model": document["model"],
            "base_model": document.get("base_model", document["model"]),
            "detector": detector,
            "representation": representation,
            "classifier": classifier,
            "setting": sweep.get("parameter", ""),
            "setting_value": json.dumps(sweep["value"]) if sweep else "",
            "seed": document["seed"],
        }
        rows += [
            {**base, "split": split, "metric": metric, "group": group, "value": value}
            for split, metric, group, value in detector_values(entry)
        ]
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
