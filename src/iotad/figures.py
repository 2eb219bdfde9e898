"""Report figures (PNG + SVG, seaborn): the seed paper's Figure 2, ROC and PR curves, average ranks."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from .io import atomic_path  # noqa: E402


def save_figure(fig, png: str | Path, svg: str | Path) -> None:
    for path, fmt in ((png, "png"), (svg, "svg")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    plt.close(fig)


def no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def loss_distribution_figure(scores: pd.DataFrame, threshold: float, title: str, png, svg) -> None:
    """The seed paper's Figure 2: reconstruction loss of normal vs attack records (log scale) with
    the threshold line, beside the confusion matrix."""
    # Constrained layout leaves room for the matrix's "True label" and tick labels beside the histogram.
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.8, 1]}, layout="constrained"
    )
    if scores.empty:
        no_data(left, "no scores")
        no_data(right, "no scores")
    else:
        data = scores.assign(
            traffic=np.where(scores["is_attack"], "attack", "normal"),
            loss=np.maximum(scores["score"].to_numpy(), 1e-12),
        )
        sns.histplot(
            data,
            x="loss",
            hue="traffic",
            hue_order=["normal", "attack"],
            log_scale=True,
            bins=80,
            element="step",
            stat="density",
            common_norm=False,
            ax=left,
        )
        left.axvline(max(threshold, 1e-12), color="black", linestyle="--", label=f"threshold {threshold:.3g}")
        left.set(xlabel="reconstruction loss (MSE)", ylabel="density")
        left.legend(
            handles=left.get_legend().legend_handles + [left.lines[-1]],
            labels=["normal", "attack", f"threshold {threshold:.3g}"],
        )
        ConfusionMatrixDisplay.from_predictions(
            data["is_attack"],
            data["prediction"].astype(bool),
            display_labels=["normal", "attack"],
            ax=right,
            colorbar=False,
            values_format=",d",
        )
    fig.suptitle(title)
    save_figure(fig, png, svg)


def readable_detectors(scores: pd.DataFrame, limit: int = 8) -> list[str]:
    """The detectors a curves figure shows: the best (AUROC) of each model, a latent model's four
    classifiers being one model, then the best ``limit`` of those, best first."""
    from sklearn.metrics import roc_auc_score

    auroc = {}
    for detector, rows in scores.groupby("detector"):
        if rows["is_attack"].nunique() == 2:
            auroc[detector] = roc_auc_score(rows["is_attack"], rows["score"])
    best = {}
    for detector, _ in sorted(auroc.items(), key=lambda item: -item[1]):
        best.setdefault(detector.partition(":")[0], detector)
    return sorted(best.values(), key=lambda d: -auroc[d])[:limit]


def curves_figure(scores: pd.DataFrame, title: str, png, svg, limit: int = 8) -> list[str]:
    """ROC and precision-recall curves on one test split for a readable set of detectors (see
    ``readable_detectors``), with chance lines (the diagonal; the attack share for precision) and the
    legend below the axes. Returns the detectors drawn."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    fig, (roc, pr) = plt.subplots(1, 2, figsize=(12, 6.5))
    detectors = readable_detectors(scores, limit) if not scores.empty else []
    palette = sns.color_palette("tab10", max(len(detectors), 1))
    for color, detector in zip(palette, detectors):
        rows = scores[scores["detector"] == detector]
        fpr, tpr, _ = roc_curve(rows["is_attack"], rows["score"])
        precision, recall, _ = precision_recall_curve(rows["is_attack"], rows["score"])
        roc.plot(fpr, tpr, color=color, label=f"{detector} (AUROC {auc(fpr, tpr):.3f})")
        pr.plot(recall, precision, color=color, drawstyle="steps-post", label=detector)
    if not detectors:
        no_data(roc, "needs normal and attack records")
        no_data(pr, "needs normal and attack records")
    else:
        share = float(scores.loc[scores["detector"] == detectors[0], "is_attack"].mean())
        roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
        pr.axhline(share, color="grey", linestyle="--", linewidth=1, label=f"chance (attack share {share:.2f})")
    roc.set(xlabel="False-alarm rate", ylabel="Detection rate", title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    pr.set(xlabel="Recall (detection rate)", ylabel="Precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    for ax in (roc, pr):
        if detectors:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    fig.suptitle(f"{title}: best of each model (at most {limit})")
    fig.tight_layout()
    save_figure(fig, png, svg)
    return detectors


def rank_figure(average: pd.DataFrame, tests: dict, nemenyi: pd.DataFrame, metric: str, png, svg):
    """Demšar's critical-difference diagram (scikit-posthocs): average ranks on one axis, detectors
    whose Nemenyi test does not separate them joined by a bar, the critical difference drawn above,
    and the verdict of ``report.rank_tests`` (including "too few blocks") as the title."""
    import textwrap

    import scikit_posthocs

    fig, ax = plt.subplots(figsize=(10, 0.28 * max(len(average), 4) + 2.5))
    if average.empty or nemenyi.isna().all().all():
        no_data(ax, f"needs {metric} of at least 3 detectors on at least 2 datasets")
    else:
        ranks = average.set_index("detector")["average_rank"]
        cd = tests["critical_difference"] if np.isfinite(tests["critical_difference"]) else None
        scikit_posthocs.critical_difference_diagram(
            ranks, nemenyi, cd=cd, alpha=tests["alpha"], ax=ax, label_props={"fontsize": 7}
        )
        ax.set_xlabel(f"average rank by {metric} (1 = best)")
    fig.suptitle("\n".join(textwrap.wrap(tests["verdict"], 110)), fontsize=8)
    save_figure(fig, png, svg)
    return fig


def heatmap_figure(table: pd.DataFrame, index: str, label: str, png, svg) -> None:
    """A detectors x columns heatmap of one metric (e.g. AUROC per train -> test pair)."""
    values = table.set_index(index) if not table.empty and index in table.columns else pd.DataFrame()
    fig, ax = plt.subplots(figsize=(1.2 * max(values.shape[1], 3) + 3, 0.35 * max(len(values), 4) + 2))
    if values.empty or values.shape[1] == 0:
        no_data(ax, "no runs")
    else:
        sns.heatmap(
            values.astype(float),
            annot=True,
            fmt=".3f",
            cmap="viridis",
            vmin=0.0,
            vmax=1.0,
            cbar_kws={"label": label},
            ax=ax,
            annot_kws={"fontsize": 7},
        )
        ax.set(xlabel="", ylabel="")
        ax.tick_params(axis="x", labelrotation=30)
    save_figure(fig, png, svg)


METRIC_NAMES = {"recall": "detection rate", "false_alarm_rate": "false-alarm rate", "f1": "F1", "auroc": "AUROC"}


def robustness_figure(tidy: pd.DataFrame, metric: str, split: str, png, svg, defaults: list[dict] = ()):
    """One panel per (dataset, model, hyperparameter): ``metric`` (a threshold's detection rate,
    false-alarm rate and F1) against the swept value, the default included ("(default)" on its tick),
    one line per detector and metric, mean over seeds with a ± std band. A value where the metric is
    undefined in every seed is a gap in the line (seaborn would join its neighbours across it)."""
    from .report import sweep_rows

    rows = sweep_rows(tidy, metric, split, defaults)
    if rows.empty:
        fig, ax = plt.subplots(figsize=(6, 3))
        no_data(ax, "no robustness sweeps in this config")
        save_figure(fig, png, svg)
        return fig
    rows = rows.assign(
        panel=rows["train_dataset"] + ": " + rows["base_model"] + " " + rows["setting"],
        line=rows["detector"]
        + np.where(rows["metric"] == metric, "", " " + rows["metric"].map(METRIC_NAMES).fillna(rows["metric"])),
    )
    panels = list(dict.fromkeys(rows["panel"]))
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.9 * ncols, 3 * nrows), squeeze=False)
    lines = sorted(rows["line"].unique())
    colors = dict(zip(lines, sns.color_palette("husl", len(lines))))
    for ax, panel in zip(axes.flat, panels):
        data = rows[rows["panel"] == panel]
        values = list(dict.fromkeys(data["setting_value"]))
        defaults_here = set(data.loc[data["default"].astype(bool), "setting_value"])
        for name, line in data.groupby("line", sort=True):
            stats_ = line.groupby("setting_value", sort=False)["value"].agg(["mean", "std"]).reindex(values)
            x = np.arange(len(values))
            mean, std = stats_["mean"].to_numpy(float), stats_["std"].to_numpy(float)
            ax.plot(x, mean, marker="o", color=colors[name], label=name)  # NaN breaks the line
            ax.fill_between(x, mean - std, mean + std, color=colors[name], alpha=0.2, linewidth=0)
            # a point between gaps has no band: its ± as an error bar
            ax.errorbar(x, mean, yerr=std, fmt="none", ecolor=colors[name], alpha=0.5, capsize=2)
        ax.set_xticks(
            np.arange(len(values)), [v + ("\n(default)" if v in defaults_here else "") for v in values], fontsize=7
        )
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_title(panel, fontsize=8)
        shown = list(dict.fromkeys(data["metric"]))
        ax.set(xlabel="value", ylabel=METRIC_NAMES.get(shown[0], shown[0]) if len(shown) == 1 else "rate")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    legend = {label: handle for ax in axes.flat for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(legend.values(), legend.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    fig.tight_layout()
    save_figure(fig, png, svg)
    return fig


def preparation_sweep_figure(table: pd.DataFrame, png, svg):
    """One panel per swept LOF / DBSCAN parameter, the default value included (a star, "(default)"
    on its tick): LOF, its score's test AUROC (the outlier share is the contamination by
    construction); DBSCAN, the training rows left as noise."""
    if table.empty:
        fig, ax = plt.subplots(figsize=(6, 3))
        no_data(ax, "no LOF/DBSCAN sweeps in this config")
        save_figure(fig, png, svg)
        return fig
    panels = list(table.groupby(["stage", "dataset", "parameter"], sort=False))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3), squeeze=False)
    for ax, ((stage, dataset, parameter), data) in zip(axes[0], panels):
        data = data.sort_values("value")
        column, label = (
            ("auroc_test", "LOF score AUROC (test)")
            if stage == "lof"
            else ("train_outlier_percent", "training noise (%)")
        )
        x = np.arange(len(data))
        ax.plot(x, data[column].to_numpy(float), marker="o", color="tab:blue")
        default = data["default"].to_numpy(bool)
        ax.plot(
            x[default],
            data[column].to_numpy(float)[default],
            marker="*",
            markersize=12,
            linestyle="none",
            color="tab:red",
        )
        ax.set_xticks(x, [f"{v:g}" + ("\n(default)" if d else "") for v, d in zip(data["value"], default)], fontsize=7)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.set(xlabel=parameter, ylabel=label)
        ax.set_title(f"{stage.upper()} on {dataset}", fontsize=8)
    fig.tight_layout()
    save_figure(fig, png, svg)
    return fig


def latent_figure(
    codes: dict[str, np.ndarray], is_attack: np.ndarray, title: str, png, svg, max_points: int = 5000, seed: int = 0
) -> None:
    """Vu et al.'s latent plots: each representation's codes of one test split projected to 2-D
    (PCA of the codes), normal vs attack, on a seeded sample of at most ``max_points`` records."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(is_attack), size=min(max_points, len(is_attack)), replace=False))
    fig, axes = plt.subplots(1, max(len(codes), 1), figsize=(5 * max(len(codes), 1), 4.5), squeeze=False)
    for ax, (name, values) in zip(axes[0], codes.items()):
        points = (
            PCA(n_components=2, random_state=seed).fit_transform(values[keep]) if values.shape[1] > 2 else values[keep]
        )
        traffic = np.where(is_attack[keep], "attack", "normal")
        sns.scatterplot(
            x=points[:, 0],
            y=points[:, 1],
            hue=traffic,
            hue_order=["normal", "attack"],
            s=6,
            alpha=0.5,
            linewidth=0,
            ax=ax,
        )
        ax.set(title=name, xlabel="component 1", ylabel="component 2")
    if not codes:
        no_data(axes[0][0], "no latent models in this config")
    fig.suptitle(title)
    save_figure(fig, png, svg)
