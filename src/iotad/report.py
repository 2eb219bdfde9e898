"""Report tables and figures, made only from the tidy results table (and, for curves and score
distributions, the per-record scores the jobs wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .io import atomic_path

HEADLINE = ["accuracy", "precision", "recall", "f1", "auroc", "auprc", "hard_auc", "false_alarm_rate"]
SEED_PAPER_MODELS = ["denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae", "cnn_lstm"]


def write_table(table: pd.DataFrame, stem: str | Path, index: bool = False) -> list[Path]:
    """CSV, Markdown and LaTeX versions of one table."""
    stem = Path(stem)
    written = []
    for ext, render in (("csv", lambda: table.to_csv(index=index)),
                        ("md", lambda: table.to_markdown(index=index, floatfmt=".4f") + "\n"),
                        ("tex", lambda: table.to_latex(index=index, float_format="%.4f", escape=True))):
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            tmp.write_text(render())
        written.append(path)
    return written


def mean_std(tidy: pd.DataFrame, keys: list[str], sort: bool = True) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1; NaN for one seed) and seed count of ``value`` per ``keys``."""
    grouped = tidy.groupby(keys, observed=True, dropna=False, sort=sort)["value"]
    return grouped.agg(mean="mean", std="std", seeds="count").reset_index()


def _fmt(mean: float, std: float) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.4f}" if np.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def summary_table(tidy: pd.DataFrame, split_kind: str = "test") -> pd.DataFrame:
    """Per (dataset, test split, detector): every headline metric as mean ± std over seeds."""
    rows = tidy[(tidy["experiment"] == "grid") & (tidy["group"] == "") & tidy["metric"].isin(HEADLINE)
                & tidy["split"].str.startswith(split_kind)]
    stats_ = mean_std(rows, ["train_dataset", "split", "detector", "metric"])
    stats_["cell"] = [_fmt(m, s) for m, s in zip(stats_["mean"], stats_["std"])]
    wide = stats_.pivot(index=["train_dataset", "split", "detector"], columns="metric", values="cell")
    seeds = stats_.groupby(["train_dataset", "split", "detector"])["seeds"].max()
    wide = wide.reindex(columns=[m for m in HEADLINE if m in wide.columns]).assign(seeds=seeds)
    return wide.reset_index().rename(columns={"train_dataset": "dataset"})


def seed_paper_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """The seed paper's table: accuracy, precision, recall, F1 and detection rate per family
    (mean over seeds) of its autoencoders and CNN-LSTM, per dataset and test split."""
    rows = tidy[(tidy["experiment"] == "grid") & tidy["base_model"].isin(SEED_PAPER_MODELS) & tidy["split"].str.startswith("test")]
    overall = rows[(rows["group"] == "") & rows["metric"].isin(["accuracy", "precision", "recall", "f1"])]
    families = rows[rows["metric"] == "detection_rate"].assign(metric=lambda f: "DR " + f["group"])
    both = pd.concat([overall, families])
    table = both.groupby(["train_dataset", "split", "detector", "metric"], observed=True)["value"].mean().unstack("metric")
    order = ["accuracy", "precision", "recall", "f1"] + sorted(c for c in table.columns if c.startswith("DR "))
    return table.reindex(columns=order).reset_index().rename(columns={"train_dataset": "dataset"})


def vu_table(tidy: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """Vu et al.'s table: representation x classifier, ``metric`` mean ± std per dataset and test split."""
    rows = tidy[(tidy["experiment"] == "grid") & (tidy["classifier"] != "") & (tidy["metric"] == metric)
                & (tidy["group"] == "") & tidy["split"].str.startswith("test")]
    stats_ = mean_std(rows, ["train_dataset", "split", "classifier", "representation"])
    stats_["cell"] = [_fmt(m, s) for m, s in zip(stats_["mean"], stats_["std"])]
    table = stats_.pivot(index=["train_dataset", "split", "classifier"], columns="representation", values="cell")
    order = [r for r in ("raw", "ae", "dae", "vae", "mae", "mdae", "mvae") if r in table.columns]
    return table.reindex(columns=order + [c for c in table.columns if c not in order]).reset_index().rename(
        columns={"train_dataset": "dataset"})


def unknown_attack_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Detection rate on attacks of types absent from training vs seen types (mean ± std over
    seeds), per dataset, test split and detector; only splits that hold unseen attack types."""
    metrics = ["unseen_attack_records", "unseen_attack_detection_rate", "seen_attack_detection_rate", "false_alarm_rate"]
    rows = tidy[(tidy["experiment"] == "grid") & tidy["metric"].isin(metrics) & (tidy["group"] == "")]
    stats_ = mean_std(rows, ["train_dataset", "split", "detector", "metric"])
    stats_["cell"] = [f"{m:.0f}" if metric == "unseen_attack_records" else _fmt(m, s)
                      for m, s, metric in zip(stats_["mean"], stats_["std"], stats_["metric"])]
    wide = stats_.pivot(index=["train_dataset", "split", "detector"], columns="metric", values="cell")
    wide = wide.reindex(columns=metrics)
    wide = wide[pd.to_numeric(wide["unseen_attack_records"], errors="coerce") > 0]
    return wide.reset_index().rename(columns={"train_dataset": "dataset"})


def cross_dataset_table(tidy: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """``metric`` (mean over seeds) per detector for every train -> test pair of the cross-dataset
    runs, beside the same detector tested on its own dataset's test splits."""
    cross = tidy[(tidy["experiment"] == "cross") & (tidy["metric"] == metric) & (tidy["group"] == "")]
    if cross.empty:
        return pd.DataFrame(columns=["detector"])
    own = tidy[(tidy["experiment"] == "grid") & (tidy["metric"] == metric) & (tidy["group"] == "")
               & tidy["train_dataset"].isin(cross["train_dataset"]) & tidy["detector"].isin(cross["detector"])
               & tidy["split"].str.startswith("test")]
    rows = pd.concat([own, cross])
    rows = rows.assign(column=rows["train_dataset"] + " -> " + rows["test_dataset"] + " " + rows["split"])
    table = rows.groupby(["detector", "column"])["value"].mean().unstack("column")
    return table.reindex(columns=sorted(table.columns)).reset_index()


def sweep_rows(tidy: pd.DataFrame, metric: str, split: str) -> pd.DataFrame:
    """Sweep rows of one metric; ``detector`` names the model (and classifier), not the variant,
    so one line joins the values of a sweep."""
    rows = tidy[(tidy["experiment"] == "sweep") & (tidy["metric"] == metric) & (tidy["group"] == "") & (tidy["split"] == split)]
    return rows.assign(detector=np.where(rows["classifier"] != "", rows["base_model"] + ":" + rows["classifier"], rows["base_model"]))


def robustness_table(tidy: pd.DataFrame, metric: str = "auroc", split: str = "test") -> pd.DataFrame:
    """Sweep results: ``metric`` mean ± std over seeds per dataset, swept model, hyperparameter,
    value and detector, values in the order the config lists them."""
    rows = sweep_rows(tidy, metric, split)
    table = mean_std(rows, ["train_dataset", "base_model", "setting", "setting_value", "detector"], sort=False)
    return table.rename(columns={"train_dataset": "dataset", "base_model": "model", "setting": "parameter",
                                 "setting_value": "value", "mean": metric, "std": f"{metric}_std"})


def preparation_sweep_table(summaries: list[dict]) -> pd.DataFrame:
    """One row per LOF / DBSCAN sweep job: the changed parameter, the training outlier (noise)
    share, clusters (DBSCAN) and the LOF score's AUROC on each test split."""
    rows = []
    for summary in summaries:
        stage = "lof" if "outline_score" in summary else "dbscan"
        overall = summary["splits"]["train"]["overall"]
        row = {"stage": stage, "dataset": summary["dataset"], "parameter": summary["swept"],
               "value": summary[summary["swept"]], "train_outlier_percent": overall["percent"],
               "clusters": summary.get("clusters")}
        row.update({f"auroc_{split}": v for split, v in summary.get("score_auroc", {}).items() if split != "train"})
        rows.append(row)
    return pd.DataFrame(rows)


def lofo_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-family-out: detection rate on the held-out family in the test split (mean ± std
    over seeds) beside the same detector's rate on that family when trained on every family, over
    the same seeds (leave-one-family-out may train fewer than the grid)."""
    held = tidy[(tidy["experiment"] == "lofo") & (tidy["metric"] == "detection_rate") & (tidy["split"] == "test")]
    held = held[held["group"] == held["setting_value"].map(lambda v: json.loads(v) if v else "")]
    if held.empty:
        return pd.DataFrame(columns=["dataset", "detector", "family", "held_out", "trained_on_all"])
    rates = mean_std(held, ["train_dataset", "detector", "group"])
    rates["held_out"] = [_fmt(m, s) for m, s in zip(rates["mean"], rates["std"])]
    grid = tidy[(tidy["experiment"] == "grid") & (tidy["metric"] == "detection_rate") & (tidy["split"] == "test")]
    grid = grid[grid["seed"].isin(held["seed"].unique())]  # the seeds held out runs trained: a paired comparison
    seen = mean_std(grid, ["train_dataset", "detector", "group"])
    seen["trained_on_all"] = [_fmt(m, s) for m, s in zip(seen["mean"], seen["std"])]
    table = rates.merge(seen[["train_dataset", "detector", "group", "trained_on_all"]], how="left",
                        on=["train_dataset", "detector", "group"])
    return table[["train_dataset", "detector", "group", "held_out", "trained_on_all"]].rename(
        columns={"train_dataset": "dataset", "group": "family"})


def rank_tests(tidy: pd.DataFrame, metric: str = "auroc") -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Average ranks of the detectors over (dataset, test split) blocks (rank 1 = best ``metric``,
    mean over seeds), Friedman's test over the blocks, and pairwise Wilcoxon signed-rank tests with
    Benjamini-Hochberg adjusted p-values. Only detectors with a value in every block take part."""
    rows = tidy[(tidy["experiment"] == "grid") & (tidy["metric"] == metric) & (tidy["group"] == "")
                & tidy["split"].str.startswith("test")]
    scores = rows.groupby(["train_dataset", "split", "detector"])["value"].mean().unstack("detector")
    scores = scores.dropna(axis=0, how="all").dropna(axis=1)  # splits with one class only have no AUROC
    ranks = scores.rank(axis=1, ascending=False)
    average = ranks.mean().sort_values().rename("average_rank").reset_index()
    average["mean_" + metric] = average["detector"].map(scores.mean())
    friedman = {"blocks": int(len(scores)), "detectors": int(scores.shape[1]), "statistic": float("nan"), "p_value": float("nan")}
    pairs = []
    if len(scores) >= 2 and scores.shape[1] >= 3:
        result = stats.friedmanchisquare(*[scores[c].to_numpy() for c in scores.columns])
        friedman.update(statistic=float(result.statistic), p_value=float(result.pvalue))
        columns = list(average["detector"])
        for i, a in enumerate(columns):
            for b in columns[i + 1:]:
                diff = scores[a] - scores[b]
                p = float(stats.wilcoxon(scores[a], scores[b]).pvalue) if (diff != 0).any() else 1.0
                pairs.append({"detector_a": a, "detector_b": b, "mean_difference": float(diff.mean()), "p_value": p})
    pairwise = pd.DataFrame(pairs, columns=["detector_a", "detector_b", "mean_difference", "p_value"])
    if len(pairwise):
        pairwise["p_adjusted_bh"] = stats.false_discovery_control(pairwise["p_value"].to_numpy())
    return average, friedman, pairwise
