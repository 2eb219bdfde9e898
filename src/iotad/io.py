"""Atomic file outputs: a stage's output appears complete or not at all."""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"iotad"


def _umask() -> int:
    """The process's umask (reading it means setting it: restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_user_would(path: str | Path, directory: bool = False) -> None:
    """Give a temporary output the mode a plain write would (mkstemp/mkdtemp create 0600/0700, which
    colleagues sharing the results could not read): 0666 or 0777 less the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def _remove_leftovers(dest: Path) -> None:
    """Temporaries of an earlier writer of ``dest`` that was killed (one job writes an output at a time).
    tempfile's names end in 8 random characters: exactly that, so no other output's temporaries match."""
    for leftover in dest.parent.glob(f".{glob.escape(dest.name)}.????????.tmp"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)


@contextmanager
def atomic_path(dest: str | Path):
    """Yield a temporary path beside ``dest``; move it onto ``dest`` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _as_user_would(tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(dest: str | Path):
    """Like ``atomic_path`` for a directory output (replaced as a whole)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        _as_user_would(tmp, directory=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_json(obj, dest: str | Path) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_parquet(frame: pd.DataFrame, dest: str | Path, meta: dict | None = None) -> None:
    """Write ``frame`` (without its index) with optional iotad metadata in the parquet footer."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), META_KEY: json.dumps(meta, default=_json_default)}
        )
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp)


def read_parquet_meta(path: str | Path) -> dict:
    raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else {}
