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


def _value_slug(value) -> str:
    text = "_".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text.lower().replace(".", "p").replace("-", "m").replace("+", "")


def sweep_variants(sweeps: dict, hyperparameters: dict) -> dict[str, dict]:
    """Named model variants of the robustness sweeps, one per (model, hyperparameter, value):
    ``{"mae__code_5": {"model": "mae", <mae's hyperparameters>, "code": 5, "sweep": {...}}}``.
    A dotted hyperparameter reaches into a dict-valued one (``layer_options.dropout``)."""
    variants = {}
    for entry in sweeps.get("runs") or []:
        name, key = entry["model"], entry["parameter"]
        base = dict(hyperparameters.get(name) or {})
        for value in entry["values"]:
            params = {**base, "model": base.get("model", name)}
            head, _, leaf = key.partition(".")
            if leaf:
                params[head] = {**(params.get(head) or {}), leaf: value}
            else:
                params[key] = value
            slug = f"{name}__{key.replace('.', '_')}_{_value_slug(value)}"
            variants[slug] = {**params, "sweep": {"model": name, "parameter": key, "value": value}}
    return variants


def sweep_defaults(sweeps: dict, hyperparameters: dict) -> list[dict]:
    """Each robustness sweep's default point, ``{"model", "parameter", "value"}``: the value the grid's
    run of that model trains with, so that its runs join the sweep's line without training it again."""
    from .models import resolved_hyperparameter

    return [
        {
            "model": entry["model"],
            "parameter": entry["parameter"],
            "value": resolved_hyperparameter(entry["model"], hyperparameters, entry["parameter"]),
        }
        for entry in sweeps.get("runs") or []
    ]


def check_config_file(path) -> None:
    """Snakemake reports a YAML syntax error in a --configfile without file or line: say both."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        hint = "; indent with spaces, not tabs" if "\\t" in problem or "\t" in problem else ""
        raise ConfigError(f"{where}: not valid YAML ({problem}){hint}") from None
