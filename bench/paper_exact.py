"""Benchmark: the paper-exact variant's run time, extrapolated from measured short fits.

A full paper-exact run takes many hours on 2 cores, so this script measures instead: each network
model of config/paper_exact.yaml is fitted on one dataset's whole training matrix at the paper's
batch size for 1 and for 3 epochs (no early stopping); the difference is the time per epoch, the
rest the set-up. Scaled by each enabled dataset's training rows (normal rows for the seed paper's
autoencoders, which train on those only), the variant's epochs (an upper bound where early stopping
is on) and seeds, it gives the networks' training time. Every other job (preparation, baselines,
cross-dataset scoring, report) is taken as measured in a finished default run (its `benchmark:`
files), which has the same datasets.

    .venv/bin/python bench/paper_exact.py --workdir /tmp/bench_default   # a finished default run
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from iotad.config import sweep_variants  # noqa: E402
from iotad.models import AUTOENCODERS, LATENT  # noqa: E402
from iotad.models.keras_setup import reset_state  # noqa: E402
from iotad.runs import Matrix, run_job  # noqa: E402

NETWORKS = (*AUTOENCODERS, *[m for m in LATENT if m != "raw"], "cnn_lstm")


def merged(base: dict, overrides: dict) -> dict:
    """What ``--configfile`` does: dictionaries merged key by key, everything else replaced."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def benchmark_seconds(workdir: Path) -> dict[str, float]:
    """Seconds per benchmark file (relative path without .tsv) of a finished run."""
    seconds = {}
    for path in (workdir / "results/benchmarks").rglob("*.tsv"):
        with open(path) as file:
            seconds[str(path.relative_to(workdir / "results/benchmarks"))[:-4]] = float(
                next(csv.DictReader(file, delimiter="\t"))["s"]
            )
    return seconds


def fit_seconds(model: str, params: dict, epochs: int, train: Matrix, val: Matrix) -> tuple[float, int]:
    params = {**params, "epochs": epochs, "patience": epochs + 1}
    params.pop("classifiers", None)
    result = run_job(
        model,
        {**params, "classifiers": ["nearest_centroid"]} if model in LATENT else params,
        seed=0,
        threads=1,
        train=train,
        val=val,
        tests={"val": val},
    )  # one scored split: the job needs one
    detector = next(iter(result.metrics["detectors"].values()))
    reset_state()
    return detector["fit_seconds"], result.metrics["train_rows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a finished run of the default config")
    parser.add_argument("--dataset", default="nsl-kdd", help="where the per-epoch times are measured")
    args = parser.parse_args()
    config = merged(
        yaml.safe_load((REPO / "config.yaml").read_text()),
        yaml.safe_load((REPO / "config/paper_exact.yaml").read_text()),
    )
    hyper, seeds = config["hyperparameters"], len(config["seeds"])
    features = args.workdir / "results/features" / args.dataset
    train = Matrix.read(args.workdir / "results/model_input" / args.dataset / "train.parquet")
    val = Matrix.read(features / "val.parquet")

    def rows(dataset: str, model: str) -> int:
        frame = pd.read_parquet(args.workdir / "results/model_input" / dataset / "train.parquet", columns=["is_attack"])
        return int((~frame["is_attack"]).sum()) if model in AUTOENCODERS else len(frame)

    print(f"per-epoch times on {args.dataset} ({len(train.rows):,} training rows), one thread, paper-exact settings")
    print(
        f"{'model':26s} {'batch':>5s} {'epochs':>6s} {'1 epoch s':>9s} {'3 epochs s':>10s} {'s/epoch':>8s} {'set-up s':>8s}"
    )
    cost = {}  # model -> (set-up s, s per epoch per row, epochs)
    for model in (m for m in config["models"] if m in NETWORKS):
        params = dict(hyper.get(model, {}))
        params.pop("max_train_rows", None)  # paper-exact: every row
        start = time.perf_counter()
        one, fitted = fit_seconds(model, params, 1, train, val)
        three, _ = fit_seconds(model, params, 3, train, val)
        per_epoch = max(three - one, 0.0) / 2
        epochs = params.get("epochs", 1)
        cost[model] = (max(one - per_epoch, 0.0), per_epoch / fitted, epochs)
        print(
            f"{model:26s} {params.get('batch_size', '-'):>5} {epochs:6d} {one:9.1f} {three:10.1f} {per_epoch:8.2f} "
            f"{one - per_epoch:8.1f}   ({fitted:,} rows; measured in {time.perf_counter() - start:.0f} s)",
            flush=True,
        )

    def job_seconds(model: str, dataset: str) -> float:
        setup, per_row, epochs = cost[model]
        return seeds * (setup + epochs * per_row * rows(dataset, model))

    measured = benchmark_seconds(args.workdir)
    datasets = sorted({key.split("/")[1] for key in measured if key.startswith("train/")})
    networks = defaultdict(float)
    replaced = 0.0  # the default run's seconds for the same network jobs
    for key, seconds in measured.items():
        parts = key.split("/")
        if parts[0] == "train" and parts[2] in cost:
            networks[parts[2]] += job_seconds(parts[2], parts[1])
            replaced += seconds
        elif parts[0] == "train":
            variant = sweep_variants(config["sweeps"], hyper).get(parts[2])
            if variant and variant.get("model", parts[2]) in cost:  # a sweep point costs what its model costs
                networks[variant["model"]] += job_seconds(variant["model"], parts[1])
                replaced += seconds
        elif parts[0] == "train_lofo" and parts[2] in cost:
            networks[parts[2]] += job_seconds(parts[2], parts[1])
            replaced += seconds
    rest = sum(measured.values()) - replaced
    total = rest + sum(networks.values())
    print(
        f"\nextrapolated network training over {len(datasets)} datasets x {seeds} seeds (grid, sweeps, leave-one-family-out):"
    )
    for model, seconds in sorted(networks.items(), key=lambda item: -item[1]):
        print(f"  {model:26s} {seconds / 3600:8.1f} core-hours")
    print(f"every other job, as measured in {args.workdir}: {rest / 3600:.2f} core-hours")
    print(
        f"paper-exact total: {total / 3600:.1f} core-hours of jobs; on 2 cores at best {total / 7200:.1f} hours "
        f"(default run's jobs: {sum(measured.values()) / 3600:.2f} core-hours)"
    )


if __name__ == "__main__":
    main()
