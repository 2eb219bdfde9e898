"""Benchmark: deep_ae training and scoring throughput on NSL-KDD's KDDTrain+ (issue 4).

In one process, on the normal rows of KDDTrain+ (MinMax-scaled, 122 features), alternating runs of
- a bare Keras ``model.fit`` of the same network (``build_autoencoder``), same epochs and batch size;
- ``AutoencoderDetector.fit`` (seeding, op determinism, threads, history, threshold), without and
  with the validation split that drives early stopping;
then ``score_samples`` on all 125,973 KDDTrain+ rows. Prints medians of the repeats and ratios.
Targets: detector training within 10 % of bare ``model.fit``; scoring >= 500,000 records/s.

    .venv/bin/python bench/models.py [--mirror ../shared/data] [--epochs 5] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from iotad.clean import CleaningOptions, clean_part
from iotad.features import FeatureTransform
from iotad.models import keras_setup
from iotad.models.autoencoders import AutoencoderDetector, build_autoencoder
from iotad.parse import parse_part
from iotad.registry import load_registry
from iotad.split import stratified_split


def kdd_train_plus(mirror: Path):
    spec = load_registry().dataset("nsl-kdd")
    frame = parse_part(spec, [mirror / f for f in spec.parts["train"]], {spec.names_file: mirror / spec.names_file})
    frame, _ = clean_part(frame, spec, CleaningOptions(), "KDDTrain+")
    train, val = stratified_split(frame, 0.1, seed=1)
    transform = FeatureTransform.fit(train)
    return [(transform.transform(f)[0], f["is_attack"].to_numpy(bool)) for f in (frame, train, val)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("IOTAD_DATA_MIRROR", "../shared/data")))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    (X_all, _), (X, y), (Xv, yv) = kdd_train_plus(args.mirror)
    normal = X[~y]
    records = len(normal) * args.epochs
    print(f"KDDTrain+: {len(X_all):,} rows; training on {len(normal):,} normal rows x {X.shape[1]} features, "
          f"{args.epochs} epochs, batch {args.batch_size}, {args.threads} threads")

    def bare():
        keras_setup.configure(0, args.threads)
        model = build_autoencoder(X.shape[1], "deep_ae")
        start = time.perf_counter()
        model.fit(normal, normal, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0)
        return time.perf_counter() - start

    def detector(validation: bool):
        d = AutoencoderDetector("deep_ae", epochs=args.epochs, batch_size=args.batch_size, patience=args.epochs,
                                seed=0, threads=args.threads)
        d.fit(X, y, *((Xv, yv) if validation else ()))
        return d.fit_seconds_

    times = {"bare model.fit": [], "AutoencoderDetector.fit": [], "AutoencoderDetector.fit + validation": []}
    bare()  # warm-up: TensorFlow's first graph build is paid once per process
    for _ in range(args.repeats):
        times["bare model.fit"].append(bare())
        times["AutoencoderDetector.fit"].append(detector(False))
        times["AutoencoderDetector.fit + validation"].append(detector(True))
    base = statistics.median(times["bare model.fit"])
    for name, seconds in times.items():
        med = statistics.median(seconds)
        print(f"{name:38s} median {med:6.2f} s  {records / med:10,.0f} records/s  ratio to bare {med / base:.3f}"
              f"  (runs: {', '.join(f'{s:.2f}' for s in seconds)})")

    d = AutoencoderDetector("deep_ae", epochs=1, seed=0, threads=args.threads).fit(X, y, Xv, yv)
    d.score_samples(X_all)  # warm-up: one graph trace per chunk shape
    score_times = []
    for _ in range(max(args.repeats, 5)):
        start = time.perf_counter()
        d.score_samples(X_all)
        score_times.append(time.perf_counter() - start)
    med = statistics.median(score_times)
    print(f"{'score_samples (all KDDTrain+ rows)':38s} median {med:6.3f} s  {len(X_all) / med:10,.0f} records/s"
          f"  (target >= 500,000)")


if __name__ == "__main__":
    main()
