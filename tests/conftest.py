"""Shared fixtures. Real-data tests need the dataset mirror: they fail (never skip) without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mirror_dir() -> Path:
    """$IOTAD_DATA_MIRROR (first entry) or ../shared/data beside the repository."""
    env = os.environ.get("IOTAD_DATA_MIRROR", "").split(os.pathsep)[0]
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_dir()
    if not (path / "MANIFEST.md").is_file():
        pytest.fail(
            f"dataset mirror not found at {path} (no MANIFEST.md). Set IOTAD_DATA_MIRROR to the mirror "
            "directory (laid out as <source>/<file>, e.g. ../shared/data).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


# The longest test files first: with `make test`'s two xdist workers (one file per worker at a time)
# they start at once on separate workers and the short files fill in beside them, instead of one long
# file running alone at the end.
LONGEST_FIRST = ("tests/workflow/test_workflow.py", "tests/cluster/test_slurm.py", "tests/workflow/test_crash.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.path.relative_to(REPO).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)
