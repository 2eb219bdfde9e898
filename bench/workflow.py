"""Benchmark: one whole workflow run from the mirror in a fresh working directory.

Prints the wall time, the peak memory of the largest process (Snakemake or any job) and the CPU time
of the whole process tree, then per
rule the jobs' summed and maximum time and maximum memory from their `benchmark:` files.

    .venv/bin/python bench/workflow.py --configfile config/quick.yaml [--cores 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", default="config.yaml")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    parser.add_argument("--mirror", default=os.environ.get("IOTAD_DATA_MIRROR", str(REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="iotad-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [
        str(snakemake),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        args.cores,
        "--configfile",
        str((REPO / args.configfile).resolve()),
    ]
    print(f"{' '.join(command)}\n(IOTAD_DATA_MIRROR={args.mirror})", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env={**os.environ, "IOTAD_DATA_MIRROR": args.mirror},
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "snakemake.log", "a"),  # appended: a resumed run keeps every part's log
    )
    _, status, usage = os.wait4(proc.pid, 0)  # ru_maxrss: the largest process of the tree (KiB)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"workflow failed after {wall:.0f} s; see {workdir / 'snakemake.log'}")
    print(
        f"wall time {wall:,.0f} s ({wall / 60:.1f} min), peak memory of the largest process {usage.ru_maxrss / 1024:,.0f} MiB"
    )
    cpu = usage.ru_utime + usage.ru_stime  # the whole process tree: Snakemake and every job
    print(f"CPU time {cpu:,.0f} s = {cpu / wall:.2f} cores busy on average (of --cores {args.cores})")
    per_rule = defaultdict(list)
    for path in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        rule = path.relative_to(workdir / "results" / "benchmarks").parts[0]
        with open(path) as file:
            row = next(csv.DictReader(file, delimiter="\t"))
        per_rule[rule].append((float(row["s"]), float(row["max_rss"]) if row["max_rss"] != "-" else 0.0))
    print(f"{'rule':22s} {'jobs':>5s} {'sum s':>9s} {'max s':>8s} {'max MiB':>8s}")
    for rule, rows in sorted(per_rule.items(), key=lambda item: -sum(s for s, _ in item[1])):
        print(
            f"{rule:22s} {len(rows):5d} {sum(s for s, _ in rows):9.0f} {max(s for s, _ in rows):8.1f} "
            f"{max(m for _, m in rows):8.0f}"
        )
    print(f"outputs in {workdir}")


if __name__ == "__main__":
    main()
