"""Snakemake end to end on tiny slices of the real mirror files (with a registry whose checksums
match the slices), plus the workflow's failure modes: bad config, corrupt file, malformed row."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from tiny_mirror import CROSS_PAIRS, DATASETS, MODELS, REPO, SEEDS, SWEEP, build_tiny_mirror, write_config

from iotad.features import FeatureTransform

pytestmark = pytest.mark.workflow
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, mirror):
    return build_tiny_mirror(tmp_path_factory.mktemp("tiny"), mirror)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir``; ``.stdout`` holds stdout and stderr together."""
    env = {k: v for k, v in os.environ.items() if k != "IOTAD_DATA_MIRROR"}  # only the tiny mirror
    return subprocess.run(
        [
            SNAKEMAKE,
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=1500,
    )


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    write_config(workdir, tiny)
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stdout[-3000:]
    return workdir


def test_whole_stage_runs_and_writes_every_report_and_figure(finished, tiny):
    results = finished / "results"
    for dataset in DATASETS:
        report = json.loads((results / f"reports/cleaning/{dataset}.json").read_text())
        for part, rep in report["parts"].items():
            cleaned = pd.read_parquet(results / f"clean/{dataset}/{part}.parquet")
            assert len(cleaned) == rep["rows_out"] > 0
            assert cleaned.columns[-3:].tolist() == ["label", "family", "is_attack"]
            assert set(cleaned["family"]) <= set(report["parts"][part]["family_counts"])
        for name in ("class_distribution", "family_distribution"):
            table = pd.read_csv(results / f"eda/{dataset}/{name}.csv")
            assert (results / f"eda/{dataset}/{name}.md").read_text().startswith("| family")
            first_part = next(iter(report["parts"]))
            assert table[f"{first_part}_records"].sum() == report["parts"][first_part]["rows_out"]
        # Figures 3-5 only where the dataset has DoS records (outside train20); none drawn blank.
        families = pd.read_csv(results / f"eda/{dataset}/family_distribution.csv")
        counted = [
            c
            for c in families.columns
            if c.endswith("_records") and c.removesuffix("_records") not in ("train20", "test21")
        ]
        has_dos = families.loc[families["family"].isin(["dos", "ddos"]), counted].to_numpy().sum() > 0
        assert has_dos if dataset in ("kddcup99", "nsl-kdd") else True
        assert not has_dos if dataset == "iot-23" else True
        for fig in ("fig3_dos_attack_types", "fig4_normal_vs_dos", "fig5_dos_vs_all"):
            if not has_dos:
                assert not (results / f"eda/{dataset}/{fig}.png").exists()
                continue
            assert (results / f"eda/{dataset}/{fig}.png").read_bytes()[:4] == b"\x89PNG"
            assert b"<svg" in (results / f"eda/{dataset}/{fig}.svg").read_bytes()[:500]


def test_preparation_stage_outputs(finished):
    results = finished / "results"
    lof_table = pd.read_csv(results / "reports/lof_summary.csv")
    dbscan_table = pd.read_csv(results / "reports/dbscan_noise.csv")
    assert lof_table["dataset"].tolist() == dbscan_table["dataset"].tolist() == DATASETS
    for dataset in DATASETS:
        names = ["train", "val", "test"] + (["test21"] if dataset == "nsl-kdd" else [])
        splits = {n: pd.read_parquet(results / f"split/{dataset}/{n}.parquet") for n in names}
        keys = [set(zip(s["part"], s["record_id"])) for s in splits.values()]
        assert sum(map(len, keys)) == len(set().union(*keys))  # disjoint, traceable to their rows
        # The transform on disk is the one fitted on the training split alone.
        transform = FeatureTransform.from_json(results / f"features/{dataset}/transform.json")
        assert transform == FeatureTransform.fit(splits["train"])
        lof = pd.read_parquet(results / f"lof/{dataset}/scores.parquet")
        assert len(lof) == sum(len(s) for s in splits.values()) and set(lof["lof_label"]) <= {-1, 1}
        summary = json.loads((results / f"lof/{dataset}/summary.json").read_text())
        train_lof = lof[lof["split"] == "train"]
        flagged = (train_lof["lof_score"] >= summary["outline_score"]) & (train_lof["lof_score"] > 1)
        assert summary["splits"]["train"]["overall"]["outliers"] == int(flagged.sum())
        labels = pd.read_parquet(results / f"dbscan/{dataset}/labels.parquet")
        assert len(labels) == len(splits["train"])
        row = dbscan_table.set_index("dataset").loc[dataset]
        assert row["train_noise"] == int((labels["cluster"] == -1).sum())


CLASSIFIERS = ["linear_svc", "perceptron", "nearest_centroid", "logistic_regression"]
DETECTORS = {
    "deep_ae": ["deep_ae"],
    "mae": [f"mae:{c}" for c in CLASSIFIERS],
    "raw": [f"raw:{c}" for c in CLASSIFIERS],
    "pca": ["pca"],
    "lof": ["lof"],
}


def test_training_jobs_write_scores_metrics_and_reloadable_models(finished):
    from iotad.features import read_matrix
    from iotad.models import load_detectors

    assert set(DETECTORS) == set(MODELS)
    for dataset in DATASETS:
        tests = ["test"] + (["test21"] if dataset == "nsl-kdd" else [])
        for model, names in DETECTORS.items():
            for seed in SEEDS:
                run = finished / f"results/runs/{dataset}/{model}/seed{seed}"
                metrics = json.loads((run / "metrics.json").read_text())
                view = metrics["split_view"]  # the seed's own split draw where the dataset is resampled
                test_rows = {
                    t: len(pd.read_parquet(finished / f"results/features/{view}/{t}.parquet", columns=["record_id"]))
                    for t in tests
                }
                assert (metrics["dataset"], metrics["model"], metrics["seed"]) == (dataset, model, seed)
                assert list(metrics["detectors"]) == names
                scores = pd.read_parquet(run / "scores.parquet")
                assert len(scores) == len(names) * sum(test_rows.values())
                for name in names:
                    for split in tests:
                        mine = scores[(scores["detector"] == name) & (scores["split"] == split)]
                        m = metrics["detectors"][name]["splits"][split]
                        assert m["records"] == len(mine) == test_rows[split]
                        assert m["tp"] + m["fp"] == int(mine["prediction"].sum())
            assert (finished / f"results/benchmarks/train/{dataset}/{model}.tsv").exists()  # one job, every seed
        # The saved model (Keras parts in safe mode) gives the scores the job wrote.
        back = load_detectors(finished / f"results/runs/{dataset}/mae/seed0/model")
        X, _ = read_matrix(finished / f"results/features/{dataset}/test.parquet")
        scores = pd.read_parquet(finished / f"results/runs/{dataset}/mae/seed0/scores.parquet")
        written = scores[(scores["split"] == "test") & (scores["detector"] == "mae:linear_svc")]["score"].to_numpy()
        assert np.allclose(back["mae:linear_svc"].decision_function(X), written, rtol=1e-5, atol=1e-6)


def test_every_job_has_one_mlflow_run_and_a_rerun_adds_none(finished):
    from iotad import tracking

    uri = f"sqlite:///{finished / 'results/mlflow/mlflow.db'}"
    experiment = json.loads((finished / "results/mlflow/experiment.json").read_text())
    assert experiment["experiment"] == "iotad-quick"
    client = tracking.client_for(uri)

    def parents():  # one parent run per job; its children (one per detector) carry iotad.parent_job
        return [
            r for r in client.search_runs([experiment["experiment_id"]]) if tracking.PARENT_JOB_TAG not in r.data.tags
        ]

    runs = parents()
    jobs = sorted(
        [f"{d}/{m}/seed{s}" for d in DATASETS for m in MODELS for s in SEEDS]
        + [f"nsl-kdd/{m}/seed{s}" for m in SWEEP for s in SEEDS]
        + [f"nsl-kdd/mae/dos/seed{s}" for s in SEEDS]  # leave-one-family-out
        + [f"cross/{a}/{b}/{m}/seed{s}" for a, b in CROSS_PAIRS for m in MODELS if m != "lof" for s in SEEDS]
    )
    assert sorted(r.data.tags[tracking.JOB_TAG] for r in runs) == jobs
    run = next(r for r in runs if r.data.tags[tracking.JOB_TAG] == "nsl-kdd/mae/seed0")
    assert (
        run.data.tags["model"] == "mae"
        and run.data.tags["git_commit"]
        and run.data.params["hyperparameters.epochs"] == "10"
    )
    metrics = json.loads((finished / "results/runs/nsl-kdd/mae/seed0/metrics.json").read_text())
    (child,) = client.search_runs(
        [experiment["experiment_id"]], filter_string=f"tags.`{tracking.JOB_TAG}` = 'nsl-kdd/mae/seed0/mae:linear_svc'"
    )
    assert child.data.tags[tracking.PARENT_RUN_TAG] == run.info.run_id
    assert child.data.metrics["test.auroc"] == metrics["detectors"]["mae:linear_svc"]["splits"]["test"]["auroc"]
    epochs = metrics["detectors"]["mae:linear_svc"]["epochs"]
    assert len(client.get_metric_history(run.info.run_id, "loss")) == epochs  # one step per epoch, on the parent
    result = snakemake(finished, "--cores", "2", "--forcerun", "track", "--allowed-rules", "track")
    assert result.returncode == 0, result.stdout[-2000:]
    assert len(parents()) == len(jobs)


def test_report_tables_and_figures_come_from_the_tidy_table(finished):
    from iotad.results import COLUMNS

    report = finished / "results/report"
    tidy = pd.read_parquet(report / "results.parquet")
    assert tidy.columns.tolist() == COLUMNS
    assert len(pd.read_csv(report / "results.csv")) == len(tidy)
    assert set(tidy["seed"]) == set(SEEDS) and set(tidy["train_dataset"]) == set(DATASETS)
    assert set(tidy["experiment"]) == {"grid", "cross", "sweep", "lofo"}
    cross = tidy[tidy["experiment"] == "cross"]
    assert set(zip(cross["train_dataset"], cross["test_dataset"])) == set(CROSS_PAIRS)
    # Rows: every scalar of every job's metrics document (grid and cross-dataset), nothing else.
    documents = [
        finished / f"results/runs/{d}/{m}/seed{s}/metrics.json" for d in DATASETS for m in MODELS for s in SEEDS
    ]
    documents += [
        finished / f"results/cross/{a}/{b}/runs/{m}/seed{s}/metrics.json"
        for a, b in CROSS_PAIRS
        for m in MODELS
        if m != "lof"
        for s in SEEDS
    ]
    documents += [finished / f"results/runs/nsl-kdd/{m}/seed{s}/metrics.json" for m in SWEEP for s in SEEDS]
    documents += [finished / f"results/lofo/nsl-kdd/mae/dos/seed{s}/metrics.json" for s in SEEDS]

    def scalars(values):  # numbers, and null for an undefined metric (a NaN row)
        return sum(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values.values())

    def rates(detection):
        return len(detection) + sum(r["level"] == "label" and r["unseen_in_training"] for r in detection)

    expected = 0
    for path in documents:
        doc = json.loads(path.read_text())
        for entry in doc["detectors"].values():
            expected += sum(
                isinstance(entry.get(k), (int, float))
                for k in ("fit_seconds", "n_params", "threshold", "epochs", "train_mse")
            )
            expected += "degenerate" in entry  # 1.0 or 0.0: set apart from the report's means and ranks
            for values in entry["splits"].values():
                expected += scalars(values) + rates(values["detection"])
                expected += scalars(values["novel"])
                if "last_loss" in values:  # the seed paper's autoencoders at the notebook's threshold too
                    expected += scalars(values["last_loss"]) + rates(values["last_loss"]["detection"])
    assert len(tidy) == expected
    summary = pd.read_csv(report / "tables/summary.csv")
    # Degenerate runs (their metrics documents say so) are out of the means: each summary row averages
    # the other seeds, and a detector degenerate on every seed of a dataset has no row there.
    degenerate = {}
    for path in documents:
        doc = json.loads(path.read_text())
        for name, entry in doc["detectors"].items():
            if (
                entry.get("degenerate")
                and "test_dataset" not in doc
                and "sweep" not in doc
                and "excluded_family" not in doc
            ):
                degenerate.setdefault((doc["dataset"], name), set()).add(doc["seed"])
    apart = pd.read_csv(report / "tables/degenerate_runs.csv", dtype={"degenerate_seeds": str})
    grid_apart = apart[apart["experiment"] == "grid"]
    assert {
        (d, n): {int(x) for x in seeds.split(", ")}
        for d, n, seeds in zip(grid_apart["dataset"], grid_apart["detector"], grid_apart["degenerate_seeds"])
    } == degenerate
    for row in summary.itertuples():
        assert row.seeds == len(SEEDS) - len(degenerate.get((row.dataset, row.detector), ()))
    splits = {d: 2 if d == "nsl-kdd" else 1 for d in DATASETS}
    expected_rows = sum(
        splits[d]
        for d in DATASETS
        for names in DETECTORS.values()
        for n in names
        if len(degenerate.get((d, n), ())) < len(SEEDS)
    )
    # numbers in the CSV (mean, std and seeds per metric); "mean ± std" only in the Markdown and LaTeX
    assert len(summary) == expected_rows and summary["auroc_std"].notna().any() and "auroc" not in summary
    answer = pd.read_csv(report / "tables/answer.csv")  # one row per dataset and test split
    assert len(answer) == sum(splits.values()) and set(answer["verdict"]) <= {
        "significant",
        "not significant",
        "not testable",
    }
    vu = pd.read_csv(report / "tables/vu_latent_auroc.csv")
    assert {"raw", "mae"} <= set(vu.columns) and set(vu["classifier"]) == set(CLASSIFIERS)
    for ext in ("csv", "md", "tex"):
        assert (report / f"tables/seed_paper.{ext}").stat().st_size > 0
    for dataset in DATASETS:  # one dataset's table: no column every row leaves empty
        own = pd.read_csv(report / f"tables/seed_paper_{dataset}.csv")
        assert set(own["dataset"]) == {dataset} and own.notna().any().all()
    statistics = pd.read_csv(report / "tables/dataset_statistics.csv")
    assert set(statistics["dataset"]) == set(DATASETS) and (statistics["features"] > 0).all()
    assert (statistics.groupby("dataset")["split"].first() == "all").all()
    unknown = pd.read_csv(report / "tables/unknown_attacks.csv")
    assert "nsl-kdd" in set(unknown["dataset"]) and (unknown["unseen_attack_records"] > 0).all()
    robustness = pd.read_csv(report / "tables/robustness.csv")
    assert robustness[["dataset", "model", "parameter"]].drop_duplicates().values.tolist() == [
        ["nsl-kdd", "deep_ae", "percentile"]
    ]
    # the grid's run is the default point (99); a threshold sweep shows what the threshold trades
    assert sorted(set(robustness["value"])) == [95.0, 99.0, 99.9] and (robustness["seeds"] == len(SEEDS)).all()
    assert set(robustness["metric"]) == {"recall", "false_alarm_rate", "f1"} and len(robustness) == 9
    assert set(robustness.loc[robustness["default"], "value"]) == {99.0}
    lofo = pd.read_csv(report / "tables/leave_one_family_out.csv")
    assert set(lofo["detector"]) == set(DETECTORS["mae"]) and set(lofo["family"]) == {"dos"}
    lofo_doc = json.loads((finished / "results/lofo/nsl-kdd/mae/dos/seed0/metrics.json").read_text())
    dos = [r for r in lofo_doc["detectors"]["mae:perceptron"]["splits"]["test"]["detection"] if r["name"] == "dos"]
    assert dos[0]["unseen_in_training"]  # held out of training: an unknown attack
    preparation = pd.read_csv(report / "tables/preparation_sweeps.csv")
    assert sorted(preparation[["stage", "parameter", "value"]].values.tolist()) == sorted(
        [
            ["lof", "n_neighbors", 10],
            ["lof", "n_neighbors", 30],
            ["lof", "contamination", 0.05],
            ["lof", "contamination", 0.2],
            ["dbscan", "eps", 0.25],
            ["dbscan", "eps", 1.0],
            ["dbscan", "min_samples", 3],
            ["dbscan", "min_samples", 10],
            # each sweep's default point: the stage's own run at config.yaml's values
            ["lof", "n_neighbors", 20],
            ["lof", "contamination", 0.1],
            ["dbscan", "eps", 0.5],
            ["dbscan", "min_samples", 5],
        ]
    )
    assert preparation["default"].sum() == 4
    assert preparation["train_outlier_percent"].between(0, 100).all()
    matrix = pd.read_csv(report / "tables/cross_dataset_auroc.csv").set_index("detector")
    assert {
        "kddcup99 -> nsl-kdd test21 (near in-domain)",
        "nsl-kdd -> kddcup99 test (near in-domain)",
        "nsl-kdd -> nsl-kdd test",
    } <= set(matrix.columns)  # NSL-KDD was built from KDD'99 (registry)
    assert (report / "tables/cross_dataset_false_alarms.csv").exists() and (
        report / "tables/degenerate_runs.md"
    ).exists()
    assert b"<svg" in (report / "figures/cross_dataset_auroc.svg").read_bytes()[:500]
    friedman = json.loads((report / "tables/friedman.json").read_text())
    assert friedman["blocks"] >= 2 and friedman["detectors"] >= 3
    for dataset in DATASETS:
        assert (report / f"figures/{dataset}/fig2_deep_ae.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (report / f"figures/{dataset}/curves_test.svg").read_bytes()[:500]


def test_overlap_and_novel_rows_end_to_end(finished):
    """Every run's overlap count against a set of the training rows' feature tuples (its own view's
    matrices), and its novel-row AUROC from scikit-learn on the scores of the rows outside that set.
    Splits iotad draws itself are grouped: no test row repeats a training vector there."""
    from sklearn.metrics import roc_auc_score

    from iotad.features import read_matrix

    checked = 0
    for dataset in DATASETS:
        for seed in SEEDS:
            run = finished / f"results/runs/{dataset}/pca/seed{seed}"
            metrics = json.loads((run / "metrics.json").read_text())
            view = metrics["split_view"]
            assert view == (dataset if dataset in ("kddcup99", "nsl-kdd") or seed == 0 else f"{dataset}.s{seed}")
            X_train, _ = read_matrix(finished / f"results/model_input/{view}/train.parquet")
            seen_vectors = set(map(tuple, X_train.tolist()))
            X_test, rows = read_matrix(finished / f"results/features/{view}/test.parquet")
            novel = np.array([tuple(x) not in seen_vectors for x in X_test.tolist()])
            m = metrics["detectors"]["pca"]["splits"]["test"]
            assert m["overlap_records"] == int((~novel).sum()) and m["novel"]["records"] == int(novel.sum())
            if dataset not in ("kddcup99", "nsl-kdd"):
                assert m["overlap_records"] == 0
            scores = pd.read_parquet(run / "scores.parquet")
            scores = scores[scores["split"] == "test"].reset_index(drop=True)
            assert scores["record_id"].tolist() == rows["record_id"].tolist()
            y = scores["is_attack"].to_numpy(bool)[novel]
            if y.any() and not y.all():
                assert m["novel"]["auroc"] == pytest.approx(roc_auc_score(y, scores["score"].to_numpy()[novel]))
                checked += 1
            else:
                assert m["novel"]["auroc"] is None and "auroc" in m["novel"]["undefined"]
    kdd = json.loads((finished / "results/runs/kddcup99/pca/seed0/metrics.json").read_text())
    assert kdd["detectors"]["pca"]["splits"]["test"]["overlap_share"] > 0.2  # corrected repeats training rows
    assert checked >= len(SEEDS) * 2


def test_resampled_seeds_draw_their_own_split_and_leave_one_family_out_fits_without_the_family(finished):
    from iotad.features import FeatureTransform

    results = finished / "results"
    tests = [set(pd.read_parquet(results / f"split/{v}/test.parquet")["record_id"]) for v in ("iot-23", "iot-23.s1")]
    assert tests[0] != tests[1]  # seed 1 trains and is tested on its own draw
    assert not (results / "split/nsl-kdd.s1").exists()  # an official test file: one split for every seed
    train = pd.read_parquet(results / "split/nsl-kdd.no-dos/train.parquet")
    val = pd.read_parquet(results / "split/nsl-kdd.no-dos/val.parquet")
    assert "dos" not in set(train["family"]) | set(val["family"])
    assert "dos" in set(pd.read_parquet(results / "split/nsl-kdd.no-dos/test.parquet")["family"])
    transform = FeatureTransform.from_json(results / "features/nsl-kdd.no-dos/transform.json")
    assert (
        transform
        == FeatureTransform.fit(train)
        != FeatureTransform.from_json(results / "features/nsl-kdd/transform.json")
    )
    lofo = json.loads((results / "lofo/nsl-kdd/mae/dos/seed0/metrics.json").read_text())
    assert lofo["split_view"] == "nsl-kdd.no-dos" and lofo["train_rows_available"] == len(train)


def test_undefined_metrics_are_null_in_documents_and_empty_in_tables(finished):
    """Wherever a job wrote null (with its reason), the tidy table holds NaN and the summary an empty cell."""
    report = finished / "results/report"
    tidy = pd.read_parquet(report / "results.parquet")
    summary = pd.read_csv(report / "tables/summary.csv", keep_default_na=False, dtype=str)
    nulls = 0
    for dataset in DATASETS:
        for model, names in DETECTORS.items():
            for seed in SEEDS:
                doc = json.loads((finished / f"results/runs/{dataset}/{model}/seed{seed}/metrics.json").read_text())
                for name in names:
                    for split, values in doc["detectors"][name]["splits"].items():
                        for metric, reason in values.get("undefined", {}).items():
                            assert values[metric] is None and reason
                            nulls += 1
                            row = tidy[
                                (tidy["experiment"] == "grid")
                                & (tidy["train_dataset"] == dataset)
                                & (tidy["detector"] == name)
                                & (tidy["seed"] == seed)
                                & (tidy["split"] == split)
                                & (tidy["metric"] == metric)
                            ]
                            assert len(row) == 1 and np.isnan(row["value"].iloc[0])
                            log = (finished / f"results/logs/train/{dataset}/{model}.log").read_text()
                            assert f"{dataset}/{model}/seed{seed}: {name} on {split}: {metric} undefined" in log
                            cell = summary[
                                (summary["dataset"] == dataset)
                                & (summary["split"] == split)
                                & (summary["detector"] == name)
                            ]
                            if f"{metric}_mean" in cell.columns and all(
                                d["detectors"][name]["splits"][split][metric] is None
                                for d in [
                                    json.loads(
                                        (finished / f"results/runs/{dataset}/{model}/seed{s}/metrics.json").read_text()
                                    )
                                    for s in SEEDS
                                ]
                            ):
                                assert cell[f"{metric}_mean"].iloc[0] == ""  # undefined on every seed: empty
    assert nulls > 0  # the tiny data has splits where some metric is undefined


def test_counts_follow_the_slices(finished, tiny):
    kdd = json.loads((finished / "results/reports/cleaning/kddcup99.json").read_text())["parts"]
    assert kdd["train"]["rows_in"] == len(range(0, 494_021, 400))
    assert kdd["test"]["rows_in"] == len(range(0, 311_029, 400))
    iot = json.loads((finished / "results/reports/cleaning/iot-23.json").read_text())["parts"]["all"]
    assert iot["rows_in"] == 4_878 and iot["nan_policy"] == "zero" and iot["rows_with_nan_or_inf"] > 0


def test_rerun_has_nothing_to_do(finished):
    result = snakemake(finished, "-n", "--cores", "2")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout


def test_invalid_config_value_is_named_and_nothing_is_written(tiny, tmp_path):
    write_config(tmp_path, tiny, preprocessing__nan_policy="sometimes")
    result = snakemake(tmp_path, "--cores", "1")
    assert result.returncode != 0
    assert "'sometimes' is not one of ['drop', 'zero', 'median']" in result.stdout
    assert not (tmp_path / "results").exists()


def test_unknown_dataset_in_config_is_named(tiny, tmp_path):
    write_config(tmp_path, tiny)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["datasets"] = ["kddcup99", "kdd-cup-2000"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0 and "'kdd-cup-2000' matches no dataset" in result.stdout


def corrupt_copy(tiny: Path, dest: Path, key: str, mutate) -> Path:
    """A copy of the tiny mirror with one file changed; returns the mirror root."""
    mirror = dest / "mirror"
    for path in (tiny / "mirror").rglob("*.gz"):
        target = mirror / path.relative_to(tiny / "mirror")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    target = mirror / key
    target.write_bytes(mutate(target.read_bytes()))
    return mirror


def run_with_mirror(tmp_path: Path, tiny: Path, mirror: Path, datasets: list[str]):
    write_config(tmp_path, tiny)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["datasets"] = datasets
    config["data"]["mirror"] = [str(mirror)]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return snakemake(tmp_path, "--cores", "1")


def test_checksum_mismatch_stops_with_file_and_hash_and_no_output(tiny, tmp_path):
    key = "iot-23/CTU-Honeypot-Capture-4-1.conn.log.labeled.gz"
    mirror = corrupt_copy(tiny, tmp_path, key, lambda b: gzip.compress(gzip.decompress(b) + b"extra\n"))
    result = run_with_mirror(tmp_path, tiny, mirror, ["iot-23"])
    expected = yaml.safe_load((tiny / "registry.yaml").read_text())["files"][key]["sha256"]
    assert result.returncode != 0
    assert f"checksum mismatch for {key}" in result.stdout and expected in result.stdout
    assert not (tmp_path / "results/raw" / key).exists()


def test_truncated_gzip_stops_with_file_and_no_output(tiny, tmp_path):
    key = "iot-23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled.gz"
    mirror = corrupt_copy(tiny, tmp_path, key, lambda b: b[: len(b) // 2])
    result = run_with_mirror(tmp_path, tiny, mirror, ["iot-23"])
    assert result.returncode != 0 and "truncated or corrupt gzip archive" in result.stdout
    assert key.split("/")[1] in result.stdout
    assert not (tmp_path / "results/raw" / key).exists()


def test_malformed_row_stops_parse_with_line_and_no_parquet(tiny, tmp_path):
    key = "kddcup99/corrected.gz"

    def add_field_on_line_5(data: bytes) -> bytes:
        lines = gzip.decompress(data).splitlines(keepends=True)
        lines[4] = lines[4].replace(b",", b",9,", 1)
        return gzip.compress(b"".join(lines))

    mirror = corrupt_copy(tiny, tmp_path, key, add_field_on_line_5)
    # The registry pins the intact slice: point it at the edited file's hash so parsing is reached.
    registry = yaml.safe_load((tiny / "registry.yaml").read_text())
    registry["files"][key]["sha256"] = hashlib.sha256(gzip.decompress((mirror / key).read_bytes())).hexdigest()
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    write_config(tmp_path, tiny)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config.update(datasets=["kddcup99"])
    config["data"].update(mirror=[str(mirror)], registry=str(tmp_path / "registry.yaml"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--cores", "1", "--keep-going")
    assert result.returncode != 0
    assert "malformed row in results/raw/kddcup99/corrected.gz, line 5: 43 fields, expected 42" in result.stdout
    assert not (tmp_path / "results/parsed/kddcup99/test.parquet").exists()
    # The other part is unaffected and finished (--keep-going): nothing already computed is lost.
    assert (tmp_path / "results/clean/kddcup99/train.parquet").exists()


def test_default_config_dry_run_shows_the_whole_stage(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    result = snakemake(tmp_path, "-n", "--cores", "8")
    assert result.returncode == 0, result.stdout[-2000:]
    out = result.stdout
    # 5 datasets; one training job per (dataset, model): 20 models, 3 Zeek variants on ton-iot-network,
    # 14 sweep variants on nsl-kdd; the 5 seeds are trained inside each job. Views of the preparation
    # chain: the 5 datasets, nsl-kdd without each of its 4 attack families, and seeds 1-4's own split
    # draws of the 3 datasets without an official test file (split.resample_per_seed): 21, with
    # 4 + 3 + 3 + 3 + 3 splits for the datasets, 4 x 4 for the nsl-kdd views, 12 x 3 for the draws.
    views = 5 + 4 + 3 * 4
    expected = {
        "download": 11,
        "parse": 9,
        "clean": 9,
        "cleaning_report": 5,
        "eda": 5,
        "split": 16 + 16 + 36,
        "split_report": 5,
        "fit_transform": views,
        "features": 16 + 16 + 36,
        "lof": 5 + 3 * 4,  # the LOF baseline scores each draw with its own LOF; no LOF for the family views
        "dbscan": 5,
        "preparation_tables": 1,
        "model_input": views,
        "train": 5 * 20 + 14 + 3,
        "mlflow_experiment": 1,
        "track": (5 * 20 + 14 + 3) + 4 * 2 + (2 * 19 + 3),  # a logging job per training, lofo and cross job
        "results_table": 1,
        "report_tables": 1,
        "loss_distribution_figure": 5 * 4,
        "curves_figure": 6,
        # kddcup99 <-> nsl-kdd (2 + 1 test splits), ton-iot-network -> iot-23 through each of its 5 draws
        "cross_features": 3 + 5,
        "cross_evaluate": 2 * 19 + 3,
        "lof_sweep": 4,
        "dbscan_sweep": 4,
        "preparation_sweeps": 1,
        "train_lofo": 4 * 2,
        "latent_figure": 5,
    }
    for rule, count in expected.items():
        assert any(line.split() == [rule, str(count)] for line in out.splitlines()), (rule, out[-1500:])
    # Leave-one-family-out trains the first 3 of the 5 seeds (leave_one_family_out.seeds).
    assert "results/lofo/nsl-kdd/mae/dos/seed2/metrics.json" in out and "results/lofo/nsl-kdd/mae/dos/seed3" not in out


@pytest.mark.parametrize("variant", ["quick", "paper_exact"])
def test_variant_alone_merges_over_the_default_config_from_any_directory(tmp_path, variant):
    """`--configfile config/<variant>.yaml` with `-d` elsewhere: config.yaml still comes first."""
    result = subprocess.run(
        [
            SNAKEMAKE,
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "--configfile",
            str(REPO / f"config/{variant}.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert any(line.split()[:1] == ["train"] for line in result.stdout.splitlines())
    if variant == "paper_exact":  # every seed for leave-one-family-out too (seeds: null over config.yaml's 3)
        assert "results/lofo/nsl-kdd/cnn_lstm/u2r/seed4/metrics.json" in result.stdout


def test_slurm_profile_dry_run_needs_no_cluster(tmp_path):
    """A dry run through profiles/slurm submits nothing: it works where SLURM is absent or stopped."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    result = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles/slurm"))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "slurm_partition=main" in result.stdout and "cpus_per_task=1" in result.stdout


def test_snakemake_lint_is_clean(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0 and "Congratulations, your workflow is in a good condition" in result.stdout, (
        result.stdout[-2000:]
    )
