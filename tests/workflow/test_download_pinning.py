"""The download step alone: a file the registry does not pin is pinned in the lock file on its first
download (data.lock, relative to the workdir), and a later download of changed content fails."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tiny_mirror import REPO, write_config

from iotad.registry import DEFAULT_REGISTRY

pytestmark = pytest.mark.workflow
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
KEY = "kddcup99/kddcup.names.gz"  # small; unpinned in the test's registry


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "IOTAD_DATA_MIRROR"}  # only the test's mirror
    return subprocess.run(
        [
            SNAKEMAKE,
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            "--cores",
            "1",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def unpinned(tmp_path, mirror):
    """A mirror holding KEY and a registry that leaves KEY's sha256 null."""
    (tmp_path / "mirror" / KEY).parent.mkdir(parents=True)
    (tmp_path / "mirror" / KEY).write_bytes((mirror / KEY).read_bytes())
    registry = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    registry["files"][KEY]["sha256"] = None
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    return tmp_path


def test_first_download_pins_and_a_changed_file_then_fails(unpinned):
    workdir = unpinned / "run"
    write_config(workdir, unpinned)
    target = workdir / "results/raw" / KEY
    result = snakemake(workdir, f"results/raw/{KEY}")
    assert result.returncode == 0, result.stdout[-3000:]
    lock = workdir / "datasets.lock.yaml"  # data.lock's default, resolved against the workdir
    content = gzip.decompress(target.read_bytes())
    pinned = hashlib.sha256(content).hexdigest()
    assert yaml.safe_load(lock.read_text())[KEY]["sha256"] == pinned

    changed = content + b"extra: continuous.\r\n"
    (unpinned / "mirror" / KEY).write_bytes(gzip.compress(changed, mtime=0))
    target.unlink()
    result = snakemake(workdir, f"results/raw/{KEY}")
    assert result.returncode != 0
    log = (workdir / "results/logs/download" / f"{KEY}.log").read_text()
    for text in (result.stdout, log):
        assert KEY in text and str(lock) in text and pinned in text
        assert hashlib.sha256(changed).hexdigest() in text
    assert not target.exists()
    assert yaml.safe_load(lock.read_text())[KEY]["sha256"] == pinned
