"""A tiny copy of the real mirror files (every n-th line, checksums re-pinned in a registry) and the
quick variant's config on it: the data of the workflow and cluster tests."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import yaml

from iotad.registry import DEFAULT_REGISTRY

REPO = Path(__file__).resolve().parents[1]

# every n-th line of each file (keeps label variety); None = whole file
SLICES = {
    "kddcup99/kddcup.data_10_percent.gz": 400,
    "kddcup99/corrected.gz": 400,
    "kddcup99/kddcup.names.gz": None,
    "nsl-kdd/KDDTrain+.txt.gz": 100,
    "nsl-kdd/KDDTest+.txt.gz": 20,
    "nsl-kdd/KDDTest-21.txt.gz": 20,
    "nsl-kdd/KDDTrain+_20Percent.txt.gz": 20,
    "ton-iot/Train_Test_IoT_Fridge.csv.gz": 40,
    "iot-23/CTU-Honeypot-Capture-4-1.conn.log.labeled.gz": None,
    "iot-23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled.gz": None,
}
DATASETS = ["kddcup99", "nsl-kdd", "ton-iot-fridge", "iot-23"]
QUICK = yaml.safe_load((REPO / "config/quick.yaml").read_text())
MODELS, SEEDS = QUICK["models"], QUICK["seeds"]
CROSS_PAIRS = [("kddcup99", "nsl-kdd"), ("nsl-kdd", "kddcup99")]  # from config.yaml; both datasets are tiny here
SWEEP = ["deep_ae__percentile_95p0", "deep_ae__percentile_99p9"]  # config/quick.yaml's sweep, on nsl-kdd


def slice_lines(lines: list[bytes], every: int | None, header: bool) -> list[bytes]:
    if every is None:
        return lines
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    return head + body[::every]


def build_tiny_mirror(root: Path, mirror: Path) -> Path:
    """A tiny mirror under ``root``, a registry whose hashes match it, and ``root`` back."""
    registry = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    for key, every in SLICES.items():
        lines = gzip.decompress((mirror / key).read_bytes()).splitlines(keepends=True)
        content = b"".join(slice_lines(lines, every, header=key.endswith(".csv.gz")))
        out = root / "mirror" / key
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(gzip.compress(content, mtime=0))
        registry["files"][key]["sha256"] = hashlib.sha256(content).hexdigest()
    (root / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    return root


def merged(base: dict, variant: dict) -> dict:
    """``variant`` over ``base`` as Snakemake merges a --configfile: mappings key by key, at every
    depth; anything else replaced."""
    out = dict(base)
    for key, value in variant.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_config(workdir: Path, tiny: Path, **changes) -> Path:
    """The quick variant (merged over config.yaml, as --configfile does) on the tiny mirror."""
    config = merged(yaml.safe_load((REPO / "config.yaml").read_text()), QUICK)
    config["datasets"] = DATASETS
    config["data"].update(mirror=[str(tiny / "mirror")], registry=str(tiny / "registry.yaml"))
    config["data"]["download"]["retries"] = 0
    for key, value in changes.items():
        section, name = key.split("__")
        config[section][name] = value
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
