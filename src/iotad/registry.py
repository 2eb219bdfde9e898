"""The dataset registry: typed access to ``datasets.yaml``.

A *file* is identified by ``"<source>/<name>"`` (its place in the mirror and under ``results/raw``);
a *dataset* names its parts (train/test/...) as lists of files, plus how to parse and label them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

DEFAULT_REGISTRY = Path(__file__).with_name("datasets.yaml")
# Parts (and the test splits made from them) drawn from another part of the same dataset: NSL-KDD's
# KDDTrain+_20Percent is a subset of KDDTrain+, KDDTest-21 of KDDTest+. Totals and Figures 3-5 leave
# them out so that no record is counted twice.
SUBSET_PARTS = frozenset({"train20", "test21"})


class RegistryError(ValueError):
    """The registry file is inconsistent (a programming or editing error, not bad data)."""


@dataclass(frozen=True)
class Source:
    """One place to fetch a file from: a URL, optionally a member inside a .zip served there."""

    url: str
    member: str | None = None
    insecure: str | None = None  # why a plain-http URL is listed (its host serves no https)


@dataclass(frozen=True)
class FileSpec:
    key: str  # "<source>/<name>"
    sha256: str | None  # of the content (after gzip decompression for .gz names); None = unpinned
    sources: tuple[Source, ...]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    format: str
    parts: dict[str, tuple[str, ...]]
    label_column: str
    family_map: dict[str, str]
    split: dict
    binary_label_column: str | None = None
    drop_columns: tuple[str, ...] = ()
    meta_columns: tuple[str, ...] = ()
    names_file: str | None = None
    header_file: str | None = None
    partitions_by_rows: dict[int, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()  # expected header, in order (headed CSV formats)
    text_columns: tuple[str, ...] = ()  # of those, the non-numeric ones
    derived_from: str | None = None  # a dataset this one was built from: tests across the two are near in-domain

    @property
    def train_part(self) -> str:
        return next(iter(self.parts))

    @property
    def aux_files(self) -> list[str]:
        """Files every part needs besides its own (KDD's names file, N-BaIoT's header)."""
        return [k for k in (self.names_file, self.header_file) if k]

    def files(self) -> list[str]:
        """Every raw file the dataset needs, parts and auxiliary files together."""
        keys = [k for files in self.parts.values() for k in files] + self.aux_files
        return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class Registry:
    files: dict[str, FileSpec]
    datasets: dict[str, DatasetSpec]

    def dataset(self, name: str) -> DatasetSpec:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(self.datasets))}") from None

    def file(self, key: str) -> FileSpec:
        try:
            return self.files[key]
        except KeyError:
            raise KeyError(f"no file {key!r} in the dataset registry") from None


def _source(entry) -> Source:
    if isinstance(entry, str):
        return Source(entry)
    if isinstance(entry, list):  # [base_url, path]
        return Source("/".join(s.rstrip("/") for s in entry))
    return Source(entry["url"], entry.get("member"), entry.get("insecure"))


def _check_source(key: str, source: Source, path) -> None:
    """https, or plain http marked ``insecure: <why>``: on the wire anyone can alter plain http, so
    only a sha256 (the registry's, or the lock file's pinned on first use) protects such a file."""
    scheme = source.url.split("://", 1)[0].lower()
    if scheme == "http" and not source.insecure:
        raise RegistryError(
            f"{path}: file {key!r}: {source.url} is plain http: use https where the host serves it, "
            "else mark the source `insecure: <why>`"
        )
    if scheme == "https" and source.insecure:
        raise RegistryError(f"{path}: file {key!r}: {source.url} is https: drop its `insecure` mark")
    if scheme not in ("http", "https"):
        raise RegistryError(f"{path}: file {key!r}: {source.url} must be an https URL")


DATASET_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def _check_file_key(key: str, path) -> None:
    """A file key is where the download lands under results/raw/ and where a mirror is read:
    ``<source>/<file>`` (N-BaIoT: ``<source>/<device>/<file>``), relative, without '..' or '.'
    segments or backslashes, so that no key reaches outside those directories."""
    segments = key.split("/")
    if (
        len(segments) < 2
        or "\\" in key
        or key.startswith("/")
        or any(seg in ("", ".", "..") or ":" in seg for seg in segments)
    ):
        raise RegistryError(
            f"{path}: file key {key!r} must be <source>/<file>: relative, no '..', '.' or empty "
            "segments, no backslashes or drive letters"
        )


def _slug(name: str) -> str:
    return name.lower().replace("_", "-")


def _dataset(name: str, raw: dict) -> DatasetSpec:
    known = set(DatasetSpec.__dataclass_fields__) - {"name"}
    unknown = set(raw) - known
    if unknown:
        raise RegistryError(f"dataset {name!r}: unknown keys {sorted(unknown)}")
    raw = dict(raw)
    raw["parts"] = {part: tuple(files) for part, files in raw["parts"].items()}
    for key in ("drop_columns", "meta_columns", "columns", "text_columns"):
        raw[key] = tuple(raw.get(key, ()))
    raw["partitions_by_rows"] = {int(k): v for k, v in raw.get("partitions_by_rows", {}).items()}
    return DatasetSpec(name=name, **raw)


@cache
def load_registry(path: str | Path = DEFAULT_REGISTRY) -> Registry:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)

    files = {
        key: FileSpec(key, spec.get("sha256"), tuple(_source(u) for u in spec["urls"]))
        for key, spec in raw["files"].items()
    }
    datasets = {name: _dataset(name, spec) for name, spec in raw["datasets"].items()}

    # N-BaIoT: nine devices with the same layout; each device is its own dataset.
    base = raw.get("nbaiot_base_url")
    for device, device_files in raw.get("nbaiot_devices", {}).items():
        keys = []
        for fname in device_files:
            key = f"n-baiot/{device}/{fname}"
            files[key] = FileSpec(key, None, (Source(f"{base}/{device}/{fname}"),))
            keys.append(key)
        spec = dict(raw["nbaiot_dataset"], parts={"all": keys})
        datasets[f"n-baiot-{_slug(device)}"] = _dataset(f"n-baiot-{_slug(device)}", spec)

    for key, spec in files.items():
        _check_file_key(key, path)
        for source in spec.sources:
            _check_source(key, source, path)
    for name in datasets:
        if not DATASET_NAME.fullmatch(name):
            raise RegistryError(
                f"{path}: dataset name {name!r} must be lower-case letters, digits and '-' "
                "(it names directories under results/, and '.' separates a dataset from its view)"
            )
    for ds in datasets.values():
        missing = [k for k in ds.files() if k not in files]
        if missing:
            raise RegistryError(f"dataset {ds.name!r} names files absent from `files`: {missing}")
    return Registry(files, datasets)
