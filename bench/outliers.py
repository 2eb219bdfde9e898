"""Benchmark: LOF canonicalization and DBSCAN normalization on the full kddcup99 training file.

Prints wall time and peak memory of iotad's computations (distinct rows; DBSCAN in chunks) and of
the same scikit-learn calls on the raw, non-deduplicated rows. The raw side cannot run on all
494,021 rows here (LOF: about half an hour; DBSCAN: memory), so it runs on a random subsample,
our side runs on the same subsample for a direct ratio, and the full-size raw time is extrapolated
quadratically (both are all-pairs computations) and labelled as such.
Targets (issue 3): LOF < 2 min, DBSCAN < 5 min, each < 4 GiB, each >= 5x faster than raw.

    .venv/bin/python bench/outliers.py [--mirror ../shared/data] [--subsample 60000] [--dbscan-subsample 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from common import run_child

CHILD = """
import json, sys, time
import numpy as np
from pathlib import Path
from iotad.clean import CleaningOptions, clean_part
from iotad.features import FeatureTransform
from iotad.parse import parse_part
from iotad.registry import load_registry
from sklearn.preprocessing import StandardScaler

mirror, task, subsample = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
spec = load_registry().dataset("kddcup99")
frame = parse_part(spec, [mirror / spec.parts["train"][0]], {spec.names_file: mirror / spec.names_file})
frame, _ = clean_part(frame, spec, CleaningOptions(), "kddcup99 train")
X, _ = FeatureTransform.fit(frame).transform(frame)  # MinMax, 118 features
if subsample:
    X = X[np.random.default_rng(0).choice(len(X), subsample, replace=False)]
start = time.perf_counter()
if task == "lof":
    from iotad.outliers import LofCanonicalizer
    lof = LofCanonicalizer(n_neighbors=20, contamination=0.1)
    lof.train(X)
    extra = {"distinct": lof.n_distinct_}
elif task == "lof_raw":
    from sklearn.neighbors import LocalOutlierFactor
    LocalOutlierFactor(n_neighbors=20, novelty=True).fit(X)
    extra = {}
else:
    Z = StandardScaler().fit_transform(X).astype("float32")
    start = time.perf_counter()
    if task == "dbscan":
        from iotad.outliers import dbscan_distinct
        labels, _, distinct = dbscan_distinct(Z, 0.5, 5, chunk_rows=1000)
        extra = {"distinct": distinct, "noise": int((labels == -1).sum())}
    else:
        from sklearn.cluster import DBSCAN
        labels = DBSCAN(eps=0.5, min_samples=5).fit(Z).labels_
        extra = {"noise": int((labels == -1).sum())}
print(json.dumps({"rows": len(X), "seconds": time.perf_counter() - start, **extra}))
"""


def run(mirror: Path, task: str, subsample: int) -> dict:
    result, peak_mib = run_child(CHILD, str(mirror), task, str(subsample))
    return {**result, "peak_gib": peak_mib / 1024}


def median_run(mirror, task, subsample, repeat):
    runs = [run(mirror, task, subsample) for _ in range(repeat)]
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["peak_gib"] = statistics.median(r["peak_gib"] for r in runs)
    return best


def line(name, r):
    extra = ", ".join(f"{k} {v:,}" for k, v in r.items() if k in ("distinct", "noise"))
    print(f"{name:<44}{r['rows']:>9,} rows {r['seconds']:>8.1f} s {r['peak_gib']:>6.2f} GiB peak  {extra}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("IOTAD_DATA_MIRROR", "../shared/data")))
    parser.add_argument("--subsample", type=int, default=60_000, help="raw rows for the LOF comparison")
    parser.add_argument("--dbscan-subsample", type=int, default=20_000,
                        help="raw rows for the DBSCAN comparison (raw kddcup99 neighbourhoods hold ~n^2/3 entries)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=["lof", "dbscan"])
    args = parser.parse_args()

    for algo in [args.only] if args.only else ["lof", "dbscan"]:
        full = median_run(args.mirror, algo, 0, args.repeat)
        line(f"{algo}: iotad, full training file", full)
        subsample = args.subsample if algo == "lof" else args.dbscan_subsample
        ours = median_run(args.mirror, algo, subsample, args.repeat)
        line(f"{algo}: iotad, subsample", ours)
        raw = median_run(args.mirror, f"{algo}_raw", subsample, args.repeat)
        line(f"{algo}: scikit-learn on raw rows, subsample", raw)
        extrapolated = raw["seconds"] * (full["rows"] / raw["rows"]) ** 2
        print(f"{algo}: speed-up on the same subsample {raw['seconds'] / ours['seconds']:.1f}x; "
              f"raw full-size time extrapolated (quadratic) {extrapolated:,.0f} s -> "
              f"{extrapolated / full['seconds']:.1f}x at full size (extrapolated, not run)\n", flush=True)


if __name__ == "__main__":
    main()
