"""Turn the validated workflow config into library objects; config errors name the key at fault."""

from __future__ import annotations

import fnmatch

from .clean import CleaningOptions
from .registry import Registry


class ConfigError(ValueError):
    """config.yaml asks for something that does not exist or cannot work."""


def resolve_datasets(patterns: list[str], registry: Registry) -> list[str]:
    """Dataset names matching the config's names/patterns, in registry order; unmatched is an error."""
    chosen: list[str] = []
    for pattern in patterns:
        matches = [name for name in registry.datasets if fnmatch.fnmatchcase(name, pattern)]
        if not matches:
            raise ConfigError(
                f"config.yaml: datasets: {pattern!r} matches no dataset in the registry. "
                f"Known datasets: {', '.join(registry.datasets)}"
            )
        chosen += matches
    return list(dict.fromkeys(chosen))


def check_overrides(preprocessing: dict, registry: Registry) -> None:
    """A misspelt dataset under preprocessing.overrides would silently do nothing: refuse it."""
    unknown = [name for name in preprocessing.get("overrides", {}) if name not in registry.datasets]
    if unknown:
        raise ConfigError(
            f"config.yaml: preprocessing.overrides names unknown datasets {unknown}. "
            f"Known datasets: {', '.join(registry.datasets)}"
        )


def cleaning_options(preprocessing: dict, dataset: str) -> CleaningOptions:
    """Global preprocessing settings with the dataset's overrides applied."""
    merged = {k: preprocessing[k] for k in ("nan_policy", "drop_duplicates", "drop_columns") if k in preprocessing}
    merged.update(preprocessing.get("overrides", {}).get(dataset, {}))
    merged["drop_columns"] = tuple(merged.get("drop_columns", ()))
    return CleaningOptions(**merged)
