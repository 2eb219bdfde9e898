# Shared helpers: the dataset registry, the enabled datasets and path functions.
import functools
import os
import sys
from pathlib import Path

# The library lives in src/: importable here, and (through PYTHONPATH, which jobs inherit) in every
# script job, also under --sdm conda where the package is not installed. We set the variable, not require it.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p))

from iotad.config import check_overrides, resolve_datasets, sweep_defaults, sweep_variants
from iotad.models import check_model_params
from iotad.registry import DEFAULT_REGISTRY, load_registry
from iotad.split import split_names
from iotad.tracking import config_hash, git_commit, tracking_uri

REGISTRY = load_registry(config["data"]["registry"] or DEFAULT_REGISTRY)
DATASETS = resolve_datasets(config["datasets"], REGISTRY)
check_overrides(config["preprocessing"], REGISTRY)
MODELS = config["models"]
check_model_params(MODELS, config["hyperparameters"])
SEEDS = config["seeds"]
# Robustness sweeps: named variants (model__parameter_value) trained on the sweep datasets.
SWEEP_VARIANTS = sweep_variants(config["sweeps"], config["hyperparameters"])
check_model_params(list(SWEEP_VARIANTS), SWEEP_VARIANTS, where="sweeps.runs, variant {name}")
SWEEP_DATASETS = [d for d in config["sweeps"]["datasets"] if d in DATASETS]
MLFLOW_URI = tracking_uri(config["mlflow"]["tracking_uri"], ".")
CONFIG_HASH = config_hash(config)
GIT_COMMIT = git_commit(workflow.basedir)


wildcard_constraints:
    dataset=r"[a-z0-9-]+(\.s\d+)?(\.no-[A-Za-z0-9_-]+)?",  # a dataset or a view of it (see `view`)
    part=r"[a-z0-9]+",
    split=r"[a-z0-9]+",
    model=r"[a-z0-9_]+",
    family=r"[A-Za-z0-9_.-]+",
    seed=r"\d+",
    file=r"[^/]+/.+",


# Views: the preparation chain (split, transform, LOF, DBSCAN, model input) of one dataset for one
# split draw and/or without one attack family, named <dataset>[.s<draw seed>][.no-<family>], so every
# stage fitted on a view's training rows sees only them. `<dataset>` alone is the draw of split.seed.
SPLIT = config["split"]
RESAMPLED_DATASETS = [
    d for d in DATASETS if SPLIT["resample_per_seed"] and REGISTRY.dataset(d).split["kind"] != "official"
]


def view(dataset, seed=None, family=None):
    """The view a model seed trains on: its own split draw where the dataset is resampled per seed."""
    name = dataset
    if dataset in RESAMPLED_DATASETS and seed is not None and seed != SPLIT["seed"]:
        name += f".s{seed}"
    return f"{name}.no-{family}" if family else name


def parse_view(name):
    """(dataset, split seed, held-out family or None) of a view name."""
    dataset, family = name.split(".no-", 1) if ".no-" in name else (name, None)
    dataset, _, draw = dataset.partition(".s")
    return dataset, int(draw) if draw else SPLIT["seed"], family


def spec_of(name):
    return REGISTRY.dataset(parse_view(name)[0])


def dataset_parts(dataset):
    return list(spec_of(dataset).parts)


def raw_path(key):
    return f"results/raw/{key}"


def parse_inputs(wildcards):
    spec = REGISTRY.dataset(wildcards.dataset)
    return {
        "files": [raw_path(k) for k in spec.parts[wildcards.part]],
        "aux": [raw_path(k) for k in spec.aux_files],
    }


def clean_parts(wildcards):
    return expand(
        "results/clean/{dataset}/{part}.parquet",
        dataset=parse_view(wildcards.dataset)[0],  # every view splits the dataset's cleaned parts
        part=dataset_parts(wildcards.dataset),
    )


def cleaning_part_reports(wildcards):
    return expand(
        "results/clean/{dataset}/{part}.cleaning.json",
        dataset=wildcards.dataset,
        part=dataset_parts(wildcards.dataset),
    )


EDA_TABLES = ["class_distribution", "family_distribution"]
EDA_FIGURES = ["fig3_dos_attack_types", "fig4_normal_vs_dos", "fig5_dos_vs_all"]


def eda_outputs(dataset):
    """The tables, and Figures 3-5 where the eda checkpoint's family table has DoS records."""

    def figures(wildcards):
        import pandas as pd

        from iotad.eda import has_dos_records

        families = pd.read_csv(checkpoints.eda.get(dataset=dataset).output.family_csv)
        if not has_dos_records(families, config["eda"]["dos_families"]):
            return []  # nothing to draw; the eda log says so
        return expand("results/eda/{dataset}/{name}.{ext}", dataset=dataset, name=EDA_FIGURES, ext=["png", "svg"])

    return expand("results/eda/{dataset}/{name}.{ext}", dataset=dataset, name=EDA_TABLES, ext=["csv", "md"]) + [figures]


def feature_splits(wildcards):
    return expand(
        "results/features/{dataset}/{split}.parquet",
        dataset=wildcards.dataset,
        split=split_names(spec_of(wildcards.dataset)),
    )


PREPARATION_TABLES = expand("results/reports/{name}.{ext}", name=["lof_summary", "dbscan_noise"], ext=["csv", "md"])


# Split reports (rule split_report), one per dataset; the split kinds chosen in config are checked
# here, at start-up (a misspelt pattern or a device without Mirai traffic for vu_nbaiot).
from iotad.split import check_kind_overrides

check_kind_overrides(config["split"]["kind_overrides"], REGISTRY)
PREPARATION_TABLES += expand("results/split/{dataset}/report.json", dataset=DATASETS)


def split_files(wildcards):
    return expand(
        "results/split/{dataset}/{split}.parquet",
        dataset=wildcards.dataset,
        split=split_names(spec_of(wildcards.dataset)),
    )


def model_input_sources(wildcards):
    """The training matrix, plus the LOF/DBSCAN outputs when config drops their outliers/noise."""
    sources = {"train": f"results/features/{wildcards.dataset}/train.parquet"}
    if config["lof"]["drop_training_outliers"]:
        sources["lof"] = f"results/lof/{wildcards.dataset}/scores.parquet"
    if config["dbscan"]["drop_training_noise"]:
        sources["dbscan"] = f"results/dbscan/{wildcards.dataset}/labels.parquet"
    return sources


def test_splits(dataset):
    return split_names(spec_of(dataset))[2:]


def per_seed(pattern, seeds=SEEDS):
    """One path per seed (default: every configured seed); the pattern's other wildcards stay wildcards."""
    return expand(pattern, seed=seeds, allow_missing=True)


def run_outputs(prefix, seeds=SEEDS):
    """What one training job writes for each seed under ``prefix``/seed<seed>/."""
    outputs = {
        key: per_seed(f"{prefix}/seed{{seed}}/{name}", seeds)
        for key, name in (("scores", "scores.parquet"), ("metrics", "metrics.json"), ("history", "history.json"))
    }
    return outputs | {"model": [directory(path) for path in per_seed(f"{prefix}/seed{{seed}}/model", seeds)]}


def model_params(name):
    return SWEEP_VARIANTS.get(name) or config["hyperparameters"].get(name) or {}


def base_model(name):
    """The registry model behind a config entry (an entry may be a named variant: `model: deep_ae`)."""
    return model_params(name).get("model", name)


def train_inputs(wildcards, seeds=SEEDS):
    """Per seed: training rows, validation and test matrices of the seed's view; the LOF baseline
    also reads the canonicalization scores."""
    views = [view(wildcards.dataset, seed, wildcards.get("family")) for seed in seeds]
    inputs = {
        "train": [f"results/model_input/{v}/train.parquet" for v in views],
        "val": [f"results/features/{v}/val.parquet" for v in views],
        "tests": [f"results/features/{v}/{split}.parquet" for v in views for split in test_splits(wildcards.dataset)],
    }
    if base_model(wildcards.model) == "lof":
        inputs |= {
            "lof": [f"results/lof/{v}/scores.parquet" for v in views],
            "lof_summary": [f"results/lof/{v}/summary.json" for v in views],
        }
    return inputs


def lofo_train_inputs(wildcards):
    return train_inputs(wildcards, LOFO_SEEDS)


# Cross-dataset pairs whose datasets are both enabled: [train, test], or a mapping that renames the
# test side's columns and names its own models (variants trained on the shared columns only).
CROSS = {}
for entry in config["cross_dataset"]:
    pair = entry if isinstance(entry, dict) else {"train": entry[0], "test": entry[1]}
    if pair["train"] in DATASETS and pair["test"] in DATASETS:
        CROSS[pair["train"], pair["test"]] = pair
CROSS_PAIRS = list(CROSS)
check_model_params([m for pair in CROSS.values() for m in pair.get("models", [])], config["hyperparameters"])


def cross_models(train, test):
    """The pair's own models, else every model (LOF excepted: its fitted model is not saved)."""
    return CROSS[train, test].get("models") or [m for m in MODELS if base_model(m) != "lof"]


def trained_models(dataset):
    """The grid's models plus the models cross-dataset pairs train on ``dataset``."""
    extra = [m for (train, _), pair in CROSS.items() if train == dataset for m in pair.get("models", [])]
    return list(dict.fromkeys(MODELS + extra))


RUNS = [f"results/runs/{d}/{m}/seed{s}/metrics.json" for d in DATASETS for m in trained_models(d) for s in SEEDS]
CROSS_RUNS = [
    f"results/cross/{a}/{b}/runs/{model}/seed{seed}/metrics.json"
    for a, b in CROSS_PAIRS
    for model in cross_models(a, b)
    for seed in SEEDS
]
SWEEP_RUNS = expand(
    "results/runs/{dataset}/{model}/seed{seed}/metrics.json",
    dataset=SWEEP_DATASETS,
    model=list(SWEEP_VARIANTS),
    seed=SEEDS,
)


def lofo_families(dataset):
    lofo = config["leave_one_family_out"]
    families = sorted(set(REGISTRY.dataset(dataset).family_map.values()) - {"normal"})
    return [f for f in families if not lofo["families"] or f in lofo["families"]]


# Leave-one-family-out trains on the first `seeds` of the grid's seeds (a budget: 4 families x 2 models).
LOFO_SEEDS = SEEDS[: config["leave_one_family_out"]["seeds"] or len(SEEDS)]
LOFO_RUNS = [
    f"results/lofo/{dataset}/{model}/{family}/seed{seed}/metrics.json"
    for dataset in config["leave_one_family_out"]["datasets"]
    if dataset in DATASETS
    for model in config["leave_one_family_out"]["models"]
    for family in lofo_families(dataset)
    for seed in LOFO_SEEDS
]
check_model_params(config["leave_one_family_out"]["models"], config["hyperparameters"])


def tracked_jobs(dataset):
    """Every training job on ``dataset`` (grid, sweep variants, leave-one-family-out) with the run
    directory, params and tags its MLflow run gets."""
    runs = [(m, s, None) for m in trained_models(dataset) for s in SEEDS]
    if dataset in SWEEP_DATASETS:
        runs += [(m, s, None) for m in SWEEP_VARIANTS for s in SEEDS]
    if dataset in config["leave_one_family_out"]["datasets"]:
        runs += [
            (m, s, f)
            for m in config["leave_one_family_out"]["models"]
            for f in lofo_families(dataset)
            for s in LOFO_SEEDS
        ]
    jobs = []
    for model, seed, family in runs:
        kind = "lofo" if family else "sweep" if model in SWEEP_VARIANTS else "grid"
        key = f"{dataset}/{model}/{family}/seed{seed}" if family else f"{dataset}/{model}/seed{seed}"
        jobs.append(
            {
                "job": key,
                "run": f"results/lofo/{key}" if family else f"results/runs/{key}",
                "params": {
                    "dataset": dataset,
                    "model": model,
                    "seed": seed,
                    "held_out_family": family,
                    "hyperparameters": model_params(model),
                    "preprocessing": config["preprocessing"],
                    # the seed of the split this run trained on (its own draw where resampled)
                    "split": {
                        **config["split"],
                        "seed": parse_view(view(dataset, seed))[1],
                        "view": view(dataset, seed, family),
                    },
                    "features": config["features"],
                    "lof": config["lof"],
                    "dbscan": config["dbscan"],
                },
                "tags": {
                    "dataset": dataset,
                    "model": model,
                    "seed": str(seed),
                    "base_model": base_model(model),
                    "experiment_kind": kind,
                    "config_hash": CONFIG_HASH,
                    "git_commit": GIT_COMMIT,
                },
            }
        )
    return jobs


def swept(section, wildcards):
    """A config section with the one swept parameter of a preparation sweep job changed."""
    kind = int if wildcards.parameter in ("n_neighbors",) else float
    return {**section, wildcards.parameter: kind(wildcards.value)}


def preparation_sweep_outputs(stage):
    sweep = config["sweeps"][stage]
    return [
        f"results/sweeps/{stage}/{dataset}/{parameter}_{value}/summary.json"
        for dataset in sweep["datasets"]
        if dataset in DATASETS
        for parameter, values in sweep["parameters"].items()
        for value in values
    ]


def report_outputs():
    """Tables, the rank figure, Figure 2 per seed-paper autoencoder and curves per test split."""
    autoencoders = [
        m for m in MODELS if base_model(m) in ("denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae")
    ]
    outputs = [
        "results/report/tables/friedman.json",
        "results/report/results.csv",
        "results/report/tables/preparation_sweeps.csv",
    ]
    for dataset in DATASETS:
        outputs += expand("results/report/figures/{dataset}/fig2_{model}.png", dataset=dataset, model=autoencoders)
        outputs += expand(
            "results/report/figures/{dataset}/curves_{split}.png", dataset=dataset, split=test_splits(dataset)
        )
        if {"ae", "mae"} <= set(MODELS):  # Vu et al.'s latent plots: plain AE vs MAE codes
            outputs.append(f"results/report/figures/{dataset}/latent_codes.png")
    return outputs


# MLflow tracking (track.smk)
def tracked_cross_jobs(dataset, training_jobs):
    """The cross-dataset evaluations of the models trained on ``dataset``: runs like their training
    job's (its entry in ``training_jobs``: params and tags), with experiment_kind cross and the test dataset."""
    trained = {job["job"]: job for job in training_jobs}
    jobs = []
    for train, test in CROSS_PAIRS:
        if train != dataset:
            continue
        for model in cross_models(train, test):
            for seed in SEEDS:
                source = trained[f"{train}/{model}/seed{seed}"]
                jobs.append(
                    {
                        "job": f"cross/{train}/{test}/{model}/seed{seed}",
                        "run": f"results/cross/{train}/{test}/runs/{model}/seed{seed}",
                        "params": {**source["params"], "test_dataset": test},
                        "tags": {**source["tags"], "experiment_kind": "cross", "test_dataset": test},
                    }
                )
    return jobs


@functools.cache
def track_units():
    """{unit: its runs}: one MLflow logging job per training job (``train/<dataset>/<model>``, its
    seeds), leave-one-family-out job (``lofo/<dataset>/<model>/<family>``) and cross-dataset job
    (``cross/<train>/<test>/<model>``), so that runs appear as each job finishes."""
    units = {}
    for dataset in DATASETS:
        training_jobs = tracked_jobs(dataset)
        for job in training_jobs:
            params = job["params"]
            family = params["held_out_family"]
            unit = f"lofo/{dataset}/{params['model']}/{family}" if family else f"train/{dataset}/{params['model']}"
            units.setdefault(unit, []).append(job)
        for job in tracked_cross_jobs(dataset, training_jobs):
            unit = f"cross/{dataset}/{job['params']['test_dataset']}/{job['params']['model']}"
            units.setdefault(unit, []).append(job)
    return units


def track_inputs(wildcards):
    files = ("metrics.json",) if wildcards.unit.startswith("cross/") else ("metrics.json", "history.json", "model")
    return [f"{job['run']}/{file}" for job in track_units()[wildcards.unit] for file in files]


TRACKED = expand("results/mlflow/runs/{unit}.json", unit=track_units())


# The report (report.smk)
# The tables of report_tables, each also as HTML: what the Snakemake report shows (a CSV it offers only
# as a download). The answer opens the report (workflow/report/workflow.rst) and heads its own category.
REPORT_TABLES = [
    "summary",
    "headline",
    "dataset_statistics",
    "degenerate_runs",
    "runtime",
    "negative_controls",
    "novel_rows",
    "seed_paper",
    "vu_latent_auroc",
    "vu_latent_hard_auc",
    "unknown_attacks",
    "leave_one_family_out",
    "cross_dataset_auroc",
    "cross_dataset_false_alarms",
    "robustness",
    "average_ranks",
    "nemenyi",
]


def table_report(stem, dataset="all", category="Tables", caption="../report/table.rst"):
    """A table's HTML in the report, labelled by table and dataset rather than by its path."""
    return report(
        f"results/report/tables/{stem}.html",
        caption=caption,
        category=category,
        labels={"table": stem.removesuffix(f"_{dataset}"), "dataset": dataset},
    )


def report_table_outputs():
    """report_tables' HTML outputs by name: the answer, every table, one seed-paper table per dataset."""
    outputs = {"answer_html": table_report("answer", category="Answer", caption="../report/answer.rst")}
    outputs |= {f"{stem}_html": table_report(stem) for stem in REPORT_TABLES}
    outputs |= {f"seed_paper_{d}_html": table_report(f"seed_paper_{d}", d) for d in DATASETS}
    return outputs
