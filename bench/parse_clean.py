"""Benchmark: wall time and peak memory of parsing + cleaning each mirror dataset.

Each dataset runs in a fresh process (so peak RSS is its own), --repeat times; medians are printed.
Target (issue 2): kddcup99, both files, under 30 s and under 2 GiB on a 2-core machine.

    .venv/bin/python bench/parse_clean.py [--mirror ../shared/data] [--repeat 3] [dataset ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from common import run_child

DEFAULT_DATASETS = [
    "kddcup99",
    "nsl-kdd",
    "unsw-nb15",
    "ton-iot-network",
    "ton-iot-fridge",
    "ton-iot-gps-tracker",
    "ton-iot-garage-door",
    "ton-iot-modbus",
    "ton-iot-motion-light",
    "ton-iot-thermostat",
    "ton-iot-weather",
    "iot-23",
]

CHILD = """
import json, sys, time
from pathlib import Path
start = time.perf_counter()
from iotad.clean import CleaningOptions, clean_part
from iotad.io import write_parquet
from iotad.parse import parse_part
from iotad.registry import load_registry
imported = time.perf_counter()
mirror, dataset, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
spec = load_registry().dataset(dataset)
aux = {k: mirror / k for k in spec.aux_files}
rows = 0
for part, files in spec.parts.items():
    frame = parse_part(spec, [mirror / f for f in files], aux)
    cleaned, report = clean_part(frame, spec, CleaningOptions(nan_policy="zero"), dataset)
    write_parquet(cleaned, out / f"{dataset}-{part}.parquet")
    rows += len(frame)
print(json.dumps({"rows": rows, "work_s": time.perf_counter() - imported, "import_s": imported - start}))
"""


def run_once(mirror: Path, dataset: str, out: Path) -> dict:
    result, peak_mib = run_child(CHILD, str(mirror), dataset, str(out))
    return {**result, "peak_rss_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", default=DEFAULT_DATASETS)
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("IOTAD_DATA_MIRROR", "../shared/data")))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"{'dataset':<22}{'rows':>10}{'work s':>9}{'+import s':>11}{'peak MiB':>10}   (median of {args.repeat})")
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            runs = [run_once(args.mirror, dataset, Path(tmp)) for _ in range(args.repeat)]
            work = statistics.median(r["work_s"] for r in runs)
            imp = statistics.median(r["import_s"] for r in runs)
            peak = statistics.median(r["peak_rss_mib"] for r in runs)
            print(f"{dataset:<22}{runs[0]['rows']:>10,}{work:>9.2f}{imp:>11.2f}{peak:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
