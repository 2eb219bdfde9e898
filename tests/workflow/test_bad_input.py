"""Bad input through the whole workflow: each case of the "Bad input" table (docs/bad-input.md) stops with one
line naming the key, file or job, and leaves no output for it (others finish; nothing computed is lost)."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
from pathlib import Path

import pytest
import yaml
from test_workflow import snakemake, tiny  # noqa: F401  (tiny: the module's tiny mirror fixture)
from tiny_mirror import REPO, write_config

pytestmark = pytest.mark.workflow


def configured(workdir: Path, tiny: Path, edit) -> Path:  # noqa: F811
    """The tiny config with ``edit(config)`` applied."""
    write_config(workdir, tiny)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    edit(config)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


BAD_CONFIG = {
    "epochs": (
        lambda c: c["hyperparameters"].update(deep_ae={"epochs": -3}),
        "config hyperparameters.deep_ae: The 'epochs' parameter of AutoencoderDetector must be an int in "
        "the range [1, inf). Got -3 instead.",
    ),
    "batch_size": (
        lambda c: c["hyperparameters"].update(mae={"batch_size": "big"}),
        "config hyperparameters.mae: The 'batch_size' parameter of LatentEncoder must be an int in the "
        "range [1, inf). Got 'big' instead.",
    ),
    "layer_option": (
        lambda c: c["hyperparameters"].update(deep_ae={"layer_options": {"l1": 0.1}}),
        "config hyperparameters.deep_ae: The 'AutoencoderDetector.layer_options' keys ['l1'] are unknown",
    ),
    "sweep_value": (
        lambda c: c["sweeps"].update(runs=[{"model": "ocsvm", "parameter": "nu", "values": [0.5, 2]}]),
        "config sweeps.runs, variant ocsvm__nu_2: The 'nu' parameter of OneClassSvmDetector must be a "
        "float in the range (0.0, 1.0]. Got 2 instead.",
    ),
    "no_models": (lambda c: c.update(models=[]), "[] should be non-empty"),
    "repeated_seed": (lambda c: c.update(seeds=[0, 0]), "[0, 0] has non-unique elements"),
    "min_samples": (lambda c: c["dbscan"].update(min_samples=2.5), "2.5 is not of type 'integer'"),
    "registry_key": (
        {"../outside/x.csv": {"sha256": None, "urls": ["https://example.org/x.csv"]}},
        "registry.yaml: file key '../outside/x.csv' must be <source>/<file>: relative, no '..'",
    ),
    "plain_http": (
        {"kddcup99/corrected.gz": {"sha256": None, "urls": ["http://example.org/corrected.gz"]}},
        "registry.yaml: file 'kddcup99/corrected.gz': http://example.org/corrected.gz is plain http: use "
        "https where the host serves it, else mark the source `insecure: <why>`",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIG))
def test_a_bad_config_value_stops_before_any_job_naming_the_key(tiny, tmp_path, case):  # noqa: F811
    edit, message = BAD_CONFIG[case]
    if isinstance(edit, dict):  # registry entries: a key that climbs out of results/raw, a plain-http URL
        registry = yaml.safe_load((tiny / "registry.yaml").read_text())
        registry["files"].update(edit)
        (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
        edit = lambda c: c["data"].update(registry=str(tmp_path / "registry.yaml"))  # noqa: E731
    configured(tmp_path, tiny, edit)
    result = snakemake(tmp_path, "--cores", "1")
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-2000:]
    assert not (tmp_path / "results").exists()


def changed_mirror(workdir: Path, tiny: Path, key: str, content: bytes, **config) -> Path:  # noqa: F811
    """The tiny mirror with ``key``'s content replaced (and re-pinned), and a config on it."""
    mirror = workdir / "mirror"
    for path in (tiny / "mirror").rglob("*.gz"):
        target = mirror / path.relative_to(tiny / "mirror")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    (mirror / key).write_bytes(gzip.compress(content, mtime=0))
    registry = yaml.safe_load((tiny / "registry.yaml").read_text())
    registry["files"][key]["sha256"] = hashlib.sha256(content).hexdigest()
    (workdir / "registry.yaml").write_text(yaml.safe_dump(registry))

    def edit(c):
        c["data"].update(mirror=[str(mirror)], registry=str(workdir / "registry.yaml"))
        c.update(config)

    return configured(workdir, tiny, edit)


def original(tiny: Path, key: str) -> list[bytes]:  # noqa: F811
    return gzip.decompress((tiny / "mirror" / key).read_bytes()).splitlines(keepends=True)


def test_a_header_only_file_stops_parse_naming_it_and_writes_no_parquet(tiny, tmp_path):  # noqa: F811
    key = "ton-iot/Train_Test_IoT_Fridge.csv.gz"
    changed_mirror(tmp_path, tiny, key, original(tiny, key)[0], datasets=["ton-iot-fridge"])
    result = snakemake(tmp_path, "--cores", "1")
    assert result.returncode != 0
    assert (
        "results/raw/ton-iot/Train_Test_IoT_Fridge.csv.gz: no records (the file is empty or holds only a header)"
        in result.stdout
    )
    assert not list((tmp_path / "results").glob("parsed/ton-iot-fridge/*.parquet"))
    assert not (tmp_path / "results/eda").exists()


def test_an_empty_file_stops_its_part_and_the_other_part_finishes(tiny, tmp_path):  # noqa: F811
    changed_mirror(tmp_path, tiny, "kddcup99/corrected.gz", b"", datasets=["kddcup99"])
    result = snakemake(tmp_path, "--cores", "1", "--keep-going")
    assert result.returncode != 0
    assert "results/raw/kddcup99/corrected.gz: no records" in result.stdout
    assert not (tmp_path / "results/parsed/kddcup99/test.parquet").exists()
    assert (tmp_path / "results/clean/kddcup99/train.parquet").exists()  # nothing already computed is lost


def test_a_one_class_training_split_names_dataset_model_seed_and_detector(tiny, tmp_path):  # noqa: F811
    key = "ton-iot/Train_Test_IoT_Fridge.csv.gz"
    lines = original(tiny, key)
    normal_only = [lines[0]] + [line for line in lines[1:] if line.rstrip().split(b",")[-2] == b"0"]
    changed_mirror(tmp_path, tiny, key, b"".join(normal_only), datasets=["ton-iot-fridge"], models=["raw"])
    result = snakemake(tmp_path, "--cores", "2", "results/runs/ton-iot-fridge/raw/seed0/metrics.json")
    assert result.returncode != 0
    assert (
        "ValueError: ton-iot-fridge/raw/seed0: raw:linear_svc: the training rows are all normal: the "
        "linear_svc classifier needs normal and attack rows"
    ) in result.stdout
    assert not (tmp_path / "results/runs/ton-iot-fridge/raw/seed0/metrics.json").exists()


def test_outputs_are_readable_as_the_users_umask_allows(tiny, tmp_path):  # noqa: F811
    configured(tmp_path, tiny, lambda c: c.update(datasets=["kddcup99"]))
    old = os.umask(0o027)  # the job inherits it from this process
    try:
        result = snakemake(tmp_path, "--cores", "1", "results/clean/kddcup99/test.parquet")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stdout[-2000:]
    for path in (
        "raw/kddcup99/corrected.gz",
        "parsed/kddcup99/test.parquet",
        "clean/kddcup99/test.parquet",
        "clean/kddcup99/test.cleaning.json",
    ):
        assert stat.S_IMODE((tmp_path / "results" / path).stat().st_mode) == 0o640, path


def test_an_unreachable_source_lists_every_place_tried_and_writes_nothing(tiny, tmp_path):  # noqa: F811
    key = "kddcup99/corrected.gz"
    registry = yaml.safe_load((tiny / "registry.yaml").read_text())
    registry["files"][key]["urls"] = ["https://127.0.0.1:9/corrected.gz"]  # the discard port: refused at once
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    configured(
        tmp_path,
        tiny,
        lambda c: c["data"].update(mirror=[str(tmp_path / "empty-mirror")], registry=str(tmp_path / "registry.yaml")),
    )
    result = snakemake(tmp_path, "--cores", "1", f"results/raw/{key}")
    assert result.returncode != 0
    assert f"could not obtain {key} (expected sha256 {registry['files'][key]['sha256']})" in result.stdout
    assert "https://127.0.0.1:9/corrected.gz:" in result.stdout and "empty-mirror" in result.stdout
    assert not (tmp_path / "results/raw" / key).exists()


def test_an_unknown_label_stops_clean_with_the_label_and_its_count(tiny, tmp_path):  # noqa: F811
    key = "kddcup99/corrected.gz"
    lines = original(tiny, key)
    lines[3] = lines[3].rsplit(b",", 1)[0] + b",teardrop2.\n"
    changed_mirror(tmp_path, tiny, key, b"".join(lines), datasets=["kddcup99"])
    result = snakemake(tmp_path, "--cores", "1", "results/clean/kddcup99/test.parquet")
    assert result.returncode != 0
    assert "labels not in the family map of dataset 'kddcup99': 'teardrop2' (1 rows)" in result.stdout, result.stdout[
        -2000:
    ]
    assert not (tmp_path / "results/clean/kddcup99/test.parquet").exists()


def test_nan_and_inf_values_are_counted_in_the_cleaning_report_and_dropped(tiny, tmp_path):  # noqa: F811
    key = "kddcup99/corrected.gz"
    lines = original(tiny, key)
    for i, value in ((2, b"inf"), (6, b"nan")):  # src_bytes (the 5th field) of two records
        fields = lines[i].split(b",")
        fields[4] = value
        lines[i] = b",".join(fields)
    changed_mirror(tmp_path, tiny, key, b"".join(lines), datasets=["kddcup99"])
    result = snakemake(tmp_path, "--cores", "1", "results/clean/kddcup99/test.cleaning.json")
    assert result.returncode == 0, result.stdout[-2000:]
    report = yaml.safe_load((tmp_path / "results/clean/kddcup99/test.cleaning.json").read_text())
    assert report["rows_with_nan_or_inf"] == 2 and report["rows_dropped_nan_or_inf"] == 2
    assert report["rows_out"] == len(lines) - 2


def test_a_yaml_syntax_error_names_the_file_and_line(tiny, tmp_path):  # noqa: F811
    """Through the README's command (the launcher); Snakemake alone names neither file nor line."""
    import subprocess
    import sys

    configured(tmp_path, tiny, lambda c: None)
    text = (tmp_path / "config.yaml").read_text().splitlines()
    text.insert(3, "  oops: [unclosed")  # line 4, indented inside a block that ends there
    (tmp_path / "config.yaml").write_text("\n".join(text) + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "iotad.launch",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "--configfile",
            str(tmp_path / "config.yaml"),
            "--cores",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert f"{tmp_path / 'config.yaml'}, line 4, column 3: not valid YAML" in result.stdout, result.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / ".snakemake").exists()
