"""docs/extending.md's worked examples, run as written: the detector class and its config entry, the
dataset's registry entry, the experiments' config."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from iotad.metrics import binary_metrics

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "extending.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def test_the_doc_has_its_examples():
    assert len(blocks("python")) == 1 and len(blocks("yaml")) == 3


@pytest.mark.realdata
def test_own_detector_example(nsl_slice, tmp_path, monkeypatch):
    """The class, importable from its own module, trained and thresholded through its config entry;
    its scores are the example's formula (an oracle computed here) on the normal training rows."""
    from iotad.models import build_detectors, check_model_params

    (tmp_path / "my_detectors.py").write_text(blocks("python")[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    config = yaml.safe_load(blocks("yaml")[0])
    check_model_params(config["models"], config["hyperparameters"])
    params = {k: v for k, v in config["hyperparameters"]["distance_to_mean"].items() if k != "distinct_rows"}
    detector = build_detectors("distance_to_mean", params, seed=0, threads=1)["distance_to_mean"]
    (X, y), (Xv, yv), (Xt, yt) = nsl_slice
    detector.fit(X, y, Xv, yv)
    expected = 2.0 * ((Xt.astype("float64") - X[~y].astype("float32").mean(axis=0)) ** 2).sum(axis=1)
    np.testing.assert_allclose(detector.decision_function(Xt), expected, rtol=1e-4)
    assert binary_metrics(yt, detector.decision_function(Xt), detector.predict(Xt))["auroc"] > 0.7


def test_dataset_example(tmp_path):
    """The registry entry, added to a copy of the shipped registry, loads; a file in its layout parses
    and cleans to the families it maps."""
    from iotad.clean import CleaningOptions, clean_part
    from iotad.parse import parse_part
    from iotad.registry import DEFAULT_REGISTRY, load_registry

    registry = yaml.safe_load(Path(DEFAULT_REGISTRY).read_text())
    entry = yaml.safe_load(blocks("yaml")[1])
    registry["files"].update(entry["files"])
    registry["datasets"].update(entry["datasets"])
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry))
    spec = load_registry(path).dataset("my-flows")
    rows = "proto,duration,bytes,label\ntcp,0.5,120,benign\nudp,1.5,80,ddos\ntcp,0.1,40,portscan\n"
    data = tmp_path / "flows.csv.gz"
    data.write_bytes(gzip.compress(rows.encode()))
    frame = parse_part(spec, [data], {})
    clean, _ = clean_part(frame, spec, CleaningOptions(), "flows.csv.gz")
    assert list(clean["family"].astype(str)) == ["normal", "dos", "probe"]
    assert list(clean["is_attack"]) == [False, True, True]


@pytest.mark.workflow
def test_experiments_example(tmp_path):
    """The experiments' config, over config.yaml on two datasets: Snakemake plans the sweep's variants,
    the cross-dataset pair and the leave-one-family-out runs."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(yaml.safe_load(blocks("yaml")[2]), datasets=["kddcup99", "nsl-kdd"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    result = subprocess.run(
        [
            snakemake,
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "--cores",
            "1",
            "--configfile",
            str(tmp_path / "config.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for planned in (
        "results/runs/nsl-kdd/ecod__percentile_95p0/seed0/metrics.json",
        "results/cross/kddcup99/nsl-kdd/runs/ecod/seed0/metrics.json",
        "results/lofo/nsl-kdd/mae/dos/seed0/metrics.json",
    ):
        assert planned in result.stdout, planned
