"""Benchmark: LOF canonicalization and DBSCAN normalization on the full kddcup99 training file.

Prints wall time and peak memory (each run in a fresh process) of iotad's computations (distinct
rows; exact neighbour searches of iotad.neighbours) and, with ``--previous``, of the previous
implementation (scikit-learn's brute-force LocalOutlierFactor on the distinct rows; DBSCAN in
chunks of scikit-learn radius queries) on the same file, runs alternating, with the ratio of
medians. Then the same scikit-learn calls on the raw, non-deduplicated rows: these cannot run on
all 494,021 rows here (LOF: about half an hour; DBSCAN: memory), so they run on a random
subsample, our side runs on the same subsample for a direct ratio, and the full-size raw time is
extrapolated quadratically (both are all-pairs computations) and labelled as such.
Targets (issue 16): LOF < 60 s, DBSCAN < 60 s, each < 4 GiB. The load average (other processes
on the machine) is printed before and after.

    .venv/bin/python bench/outliers.py [--mirror ../shared/data] [--repeat 3] [--previous] [--no-raw]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from common import run_child

CHILD = """
import json, os, sys, time
import numpy as np
from pathlib import Path
from iotad.clean import CleaningOptions, clean_part
from iotad.features import FeatureTransform
from iotad.parse import parse_part
from iotad.registry import load_registry
from sklearn.preprocessing import StandardScaler

mirror, task, subsample = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

if task.startswith("matrix_"):
    # the LOF job of workflow/scripts/lof.py on a features parquet (``mirror`` is the training
    # file): fit on it, score its val and test siblings
    from iotad.features import read_matrix
    from iotad.outliers import LofCanonicalizer, distinct_rows
    X = read_matrix(mirror)[0]
    others = [read_matrix(p)[0] for p in (mirror.with_name(mirror.name.replace("train", s, 1)) for s in ("val", "test")) if p.exists()]
    start = time.perf_counter()
    if task == "matrix_lof":
        lof = LofCanonicalizer(n_neighbors=20, contamination=0.1)
        scores = lof.train(X)
        tests = [lof.score(Y) for Y in others]
        extra = {"distinct": lof.n_distinct_, "outliers": int((lof.label(scores) == -1).sum())}
    else:  # scikit-learn's exact brute-force search on the same distinct rows (its own tie rule)
        from sklearn.neighbors import LocalOutlierFactor
        unique, row_to_unique, _ = distinct_rows(X)
        lof = LocalOutlierFactor(n_neighbors=20, novelty=True, algorithm="brute").fit(unique)
        scores = -lof.negative_outlier_factor_[row_to_unique]
        tests = [lof.score_samples(distinct_rows(Y)[0]) for Y in others]
        outline = np.quantile(scores, 0.9, method="higher")
        extra = {"distinct": len(unique), "outliers": int(((scores >= outline) & (scores > 1)).sum())}
    print(json.dumps({"rows": len(X) + sum(len(Y) for Y in others), "seconds": time.perf_counter() - start, **extra}))
    sys.exit(0)


def previous_chunked_dbscan(X, eps, min_samples, weight, chunk_rows=1000):
    # iotad.outliers.chunked_dbscan before issue 16 (scikit-learn radius queries in chunks)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors
    n = len(X)
    index = NearestNeighbors(radius=eps, algorithm="brute").fit(X)
    core = np.zeros(n, dtype=bool)
    component = np.arange(n)
    attached_to = np.full(n, -1)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        graph = index.radius_neighbors_graph(X[start:stop], mode="connectivity")
        cols = graph.indices
        core[start:stop] = np.add.reduceat(weight[cols], graph.indptr[:-1]) >= min_samples
        rows = np.repeat(np.arange(start, stop), np.diff(graph.indptr))
        seen = cols < stop
        rows, cols = rows[seen], cols[seen]
        row_core, col_core = core[rows], core[cols]
        both = row_core & col_core
        a, b = component[rows[both]], component[cols[both]]
        differ = a != b
        if differ.any():
            link = coo_matrix((np.ones(int(differ.sum()), dtype=np.float32), (a[differ], b[differ])), shape=(n, n))
            _, merged = connected_components(link, directed=False)
            component = merged[component]
        for border, anchor, take in ((cols, rows, row_core & ~col_core), (rows, cols, col_core & ~row_core)):
            take &= attached_to[border] < 0
            attached_to[border[take]] = anchor[take]
    labels = np.full(n, -1)
    labels[core] = component[core]
    border = ~core & (attached_to >= 0)
    labels[border] = component[attached_to[border]]
    return labels, core


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
    scores = lof.train(X)
    extra = {"distinct": lof.n_distinct_, "outliers": int((lof.label(scores) == -1).sum())}
elif task == "lof_previous":
    from iotad.outliers import distinct_rows
    from sklearn.neighbors import LocalOutlierFactor
    unique, row_to_unique, _ = distinct_rows(X)
    lof = LocalOutlierFactor(n_neighbors=20, novelty=True, algorithm="brute").fit(unique)
    scores = -lof.negative_outlier_factor_[row_to_unique]
    outline = np.quantile(scores, 0.9, method="higher")
    extra = {"distinct": len(unique), "outliers": int(((scores >= outline) & (scores > 1)).sum())}
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
    elif task == "dbscan_previous":
        from iotad.outliers import distinct_rows
        unique, row_to_unique, counts = distinct_rows(Z)
        labels = previous_chunked_dbscan(unique, 0.5, 5, counts)[0][row_to_unique]
        extra = {"distinct": len(unique), "noise": int((labels == -1).sum())}
    else:
        from sklearn.cluster import DBSCAN
        labels = DBSCAN(eps=0.5, min_samples=5).fit(Z).labels_
        extra = {"noise": int((labels == -1).sum())}
print(json.dumps({"rows": len(X), "seconds": time.perf_counter() - start, **extra}))
"""


def run(mirror: Path, task: str, subsample: int) -> dict:
    result, peak_mib = run_child(CHILD, str(mirror), task, str(subsample))
    return {**result, "peak_gib": peak_mib / 1024}


def median_of(runs):
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["peak_gib"] = statistics.median(r["peak_gib"] for r in runs)
    best["all"] = [round(r["seconds"], 1) for r in runs]
    return best


def median_run(mirror, task, subsample, repeat):
    return median_of([run(mirror, task, subsample) for _ in range(repeat)])


def alternating(mirror, tasks, subsample, repeat):
    """Runs of several tasks taken in turn (a, b, a, b, ...): medians of each."""
    runs = {t: [] for t in tasks}
    for _ in range(repeat):
        for t in tasks:
            runs[t].append(run(mirror, t, subsample))
    return [median_of(runs[t]) for t in tasks]


def line(name, r):
    extra = ", ".join(f"{k} {v:,}" for k, v in r.items() if k in ("distinct", "noise", "outliers"))
    runs = f"  runs {r['all']}" if len(r.get("all", [])) > 1 else ""
    print(
        f"{name:<46}{r['rows']:>9,} rows {r['seconds']:>8.1f} s {r['peak_gib']:>6.2f} GiB peak  {extra}{runs}",
        flush=True,
    )


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("IOTAD_DATA_MIRROR", "../shared/data")))
    parser.add_argument("--subsample", type=int, default=60_000, help="raw rows for the LOF comparison")
    parser.add_argument(
        "--dbscan-subsample",
        type=int,
        default=20_000,
        help="raw rows for the DBSCAN comparison (raw kddcup99 neighbourhoods hold ~n^2/3 entries)",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=["lof", "dbscan"])
    parser.add_argument(
        "--previous",
        action="store_true",
        help="also run the previous implementation on the full file (minutes per run)",
    )
    parser.add_argument("--no-raw", action="store_true", help="skip the subsample comparison with raw rows")
    parser.add_argument(
        "--matrix",
        type=Path,
        help="instead: the LOF job on this features parquet (a train file; its val and test "
        "siblings scored too), e.g. results/features/ton-iot-network/train.parquet; with "
        "--previous, scikit-learn's brute-force LOF on the same distinct rows alongside",
    )
    args = parser.parse_args()

    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, {load()}", flush=True)
    if args.matrix:
        tasks = ["matrix_lof", "matrix_lof_previous"] if args.previous else ["matrix_lof"]
        results = alternating(args.matrix, tasks, 0, args.repeat)
        line(f"lof job: iotad, {args.matrix.parent.name}", results[0])
        if args.previous:
            line(f"lof job: scikit-learn brute, {args.matrix.parent.name}", results[1])
        print(load(), flush=True)
        return
    targets = {"lof": 60, "dbscan": 60}
    for algo in [args.only] if args.only else ["lof", "dbscan"]:
        if args.previous:
            full, previous = alternating(args.mirror, [algo, f"{algo}_previous"], 0, args.repeat)
            line(f"{algo}: iotad, full training file", full)
            line(f"{algo}: previous implementation, full file", previous)
            print(
                f"{algo}: {previous['seconds'] / full['seconds']:.1f}x faster than the previous implementation "
                f"(medians of {args.repeat} alternating runs)",
                flush=True,
            )
        else:
            full = median_run(args.mirror, algo, 0, args.repeat)
            line(f"{algo}: iotad, full training file", full)
        met = full["seconds"] < targets[algo] and full["peak_gib"] < 4
        print(f"{algo}: target < {targets[algo]} s and < 4 GiB: {'met' if met else 'MISSED'}; {load()}\n", flush=True)
        if args.no_raw:
            continue
        subsample = args.subsample if algo == "lof" else args.dbscan_subsample
        ours = median_run(args.mirror, algo, subsample, args.repeat)
        line(f"{algo}: iotad, subsample", ours)
        raw = median_run(args.mirror, f"{algo}_raw", subsample, args.repeat)
        line(f"{algo}: scikit-learn on raw rows, subsample", raw)
        extrapolated = raw["seconds"] * (full["rows"] / raw["rows"]) ** 2
        print(
            f"{algo}: speed-up on the same subsample {raw['seconds'] / ours['seconds']:.1f}x; "
            f"raw full-size time extrapolated (quadratic) {extrapolated:,.0f} s -> "
            f"{extrapolated / full['seconds']:.1f}x at full size (extrapolated, not run)\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
