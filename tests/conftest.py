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
