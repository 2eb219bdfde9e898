"""Report tables and figures, made only from the tidy results table (and, for curves and score
distributions, the per-record scores the jobs wrote)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats

from .io import atomic_path
from .registry import SUBSET_PARTS

HEADLINE = ["accuracy", "precision", "recall", "f1", "auroc", "auprc", "hard_auc", "false_alarm_rate"]
# The same metrics on novel test rows (feature vector absent from training); no hard-prediction AUC.
NOVEL = ["accuracy", "precision", "recall", "f1", "auroc", "auprc", "auprc_baseline", "false_alarm_rate"]
# Summary columns: AUPRC beside its no-skill baseline (the split's attack share), the train/test
# overlap, then the headline metrics on novel rows.
SUMMARY = (
    HEADLINE[:6]
    + ["auprc_baseline"]
    + HEADLINE[6:]
    + ["detection_at_1pct_false_alarms", "detection_at_5pct_false_alarms", "overlap_share"]
    + [f"novel.{m}" for m in NOVEL]
)
SEED_PAPER_MODELS = ["denoising_ae", "deep_ae", "sparse_deep_ae", "sparse_deep_denoising_ae", "cnn_lstm"]
SEED_PAPER_METRICS = ["threshold", "accuracy", "precision", "recall", "f1", "false_alarm_rate"]


RUN_KEYS = ["experiment", "train_dataset", "test_dataset", "model", "detector", "setting", "setting_value", "seed"]


def set_apart_degenerate(tidy: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the tidy table without degenerate runs, one row per degenerate detector and experiment with
    how many seeds of it were set apart). A degenerate run (constant scores, every normal record
    flagged, a supervised model stuck at the majority family: its metrics document says why) is
    reported in that second table, never averaged into a mean, a rank or a test."""
    flags = tidy[(tidy["metric"] == "degenerate") & (tidy["value"] == 1.0)][RUN_KEYS].drop_duplicates()
    if flags.empty:
        return tidy[tidy["metric"] != "degenerate"], pd.DataFrame(
            columns=["experiment", "dataset", "test_dataset", "detector", "setting_value", "degenerate_seeds"]
        )
    marked = (
        tidy.merge(flags.assign(_degenerate=True), on=RUN_KEYS, how="left")["_degenerate"].fillna(False).to_numpy(bool)
    )
    kept = tidy[~marked & (tidy["metric"] != "degenerate").to_numpy()]
    counts = flags.groupby(["experiment", "train_dataset", "test_dataset", "detector", "setting_value"], dropna=False)
    apart = (
        counts["seed"].apply(lambda seeds: ", ".join(map(str, sorted(seeds)))).rename("degenerate_seeds").reset_index()
    )
    return kept, apart.rename(columns={"train_dataset": "dataset"})


def _latex_escape(text: str) -> str:
    return "".join(
        {
            "\\": r"\textbackslash{}",
            "&": r"\&",
            "%": r"\%",
            "$": r"\$",
            "#": r"\#",
            "_": r"\_",
            "{": r"\{",
            "}": r"\}",
            "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}",
        }.get(c, c)
        for c in text
    )


def _html_table(table: pd.DataFrame, index: bool, note: str | None, marked: pd.DataFrame | None) -> str:
    """A table as an HTML fragment (what the Snakemake report shows inline; it offers a CSV only as a
    download): the table first, ``note`` below it, numbers to 4 decimals, undefined cells empty,
    ``marked`` cells bold."""
    cells = table.astype(object).where(table.notna(), "")
    cells = cells.map(lambda v: html.escape(f"{v:.4f}" if isinstance(v, float) else str(v)))
    if marked is not None:
        cells = cells.mask(marked, cells.map(lambda v: f"<strong>{v}</strong>"))
    cells.columns = [html.escape(str(c)) for c in cells.columns]
    body = cells.to_html(index=index, escape=False, border=0, classes="iotad-table")
    notes = "".join(f'<p class="iotad-note">{html.escape(line)}</p>\n' for line in (note or "").splitlines() if line)
    return (
        '<meta charset="utf-8">\n<style>.iotad-table{border-collapse:collapse;font:13px sans-serif}'
        ".iotad-table th,.iotad-table td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}"
        ".iotad-table th{background:#f3f3f3}.iotad-note{font:12px sans-serif;color:#444;max-width:70em}</style>\n"
        + body
        + "\n"
        + notes
    )


def write_table(
    table: pd.DataFrame,
    stem: str | Path,
    index: bool = False,
    note: str | None = None,
    bold: pd.DataFrame | None = None,
    numbers: pd.DataFrame | None = None,
) -> list[Path]:
    """CSV, Markdown, LaTeX and HTML versions of one table; an undefined value (NaN or "") is an empty
    cell in all four. ``note`` (e.g. what a ± covers) heads the Markdown table, follows the HTML one and
    is a comment in LaTeX; the CSV stays plain so that it reads back as a table. ``bold`` (a boolean frame like
    ``table``) marks cells printed in bold in Markdown, LaTeX and HTML (e.g. the best per column).
    ``numbers``, where given, is what the CSV holds instead of ``table`` (e.g. mean and std as numeric
    columns where the others print "mean ± std")."""
    stem = Path(stem)
    written = []
    # tabulate prints a float NaN as "nan" whatever missingval says; None is what it leaves empty
    shown = table.astype(object).where(table.notna(), None)
    latex = lambda: table.to_latex(index=index, float_format="%.4f", escape=True, na_rep="")  # noqa: E731
    if bold is not None:
        marked = bold.reindex_like(table).fillna(False).astype(bool)
        shown = shown.mask(marked, shown.map(lambda v: f"**{v}**"))
        cells = table.astype(object).where(table.notna(), "").map(lambda v: _latex_escape(str(v)))
        cells = cells.mask(marked, cells.map(lambda v: rf"\textbf{{{v}}}"))
        cells.columns = [_latex_escape(str(c)) for c in cells.columns]
        latex = lambda: cells.to_latex(index=index, escape=False)  # noqa: E731
    head = f"{note}\n\n" if note else ""
    comment = "".join(f"% {line}\n" for line in note.splitlines()) if note else ""
    marks = None if bold is None else bold.reindex_like(table).fillna(False).astype(bool)
    for ext, render in (
        ("csv", lambda: (table if numbers is None else numbers).to_csv(index=index)),
        ("md", lambda: head + shown.to_markdown(index=index, floatfmt=".4f", missingval="") + "\n"),
        ("tex", lambda: comment + latex()),
        ("html", lambda: _html_table(table, index, note, marks)),
    ):
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            tmp.write_text(render())
        written.append(path)
    return written


def mean_std(tidy: pd.DataFrame, keys: list[str], sort: bool = True) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1; NaN for one seed) and count of the seeds where ``value`` is
    defined, and ``runs``, every seed's row, per ``keys``."""
    grouped = tidy.groupby(keys, observed=True, dropna=False, sort=sort)["value"]
    return grouped.agg(mean="mean", std="std", seeds="count", runs="size").reset_index()


def _fmt(mean: float, std: float, seeds: int | None = None, runs: int | None = None) -> str:
    """mean ± std; empty where the metric is undefined in every seed (never 0, never "n/a"), and
    naming the seeds it rests on where it is undefined in some."""
    if np.isnan(mean):
        return ""
    cell = f"{mean:.4f}" if np.isnan(std) else f"{mean:.4f} ± {std:.4f}"
    return cell + (f" ({seeds} of {runs} seeds)" if runs and seeds < runs else "")


def _count(mean: float, std: float) -> str:
    if np.isnan(mean):
        return ""
    return f"{mean:.0f}" if np.isnan(std) or std == 0 else f"{mean:.1f} ± {std:.1f}"


def _cells(stats_: pd.DataFrame) -> list[str]:
    return [_fmt(*row) for row in stats_[["mean", "std", "seeds", "runs"]].itertuples(index=False)]


def summary_table(tidy: pd.DataFrame, split_kind: str = "test", numbers: bool = False) -> pd.DataFrame:
    """Per (dataset, test split, detector): every headline metric as mean ± std over seeds, AUPRC
    beside its no-skill baseline, the share of test rows repeating a training feature vector and the
    headline metrics on the novel rows; ``seeds`` counts the seeds run. ``numbers``: the same as
    numeric columns (the CSV's form): per metric ``<metric>_mean``, ``<metric>_std`` (ddof 1; empty
    for one seed) and ``<metric>_seeds`` (the seeds where it is defined, which the mean rests on)."""
    rows = tidy[
        (tidy["experiment"] == "grid")
        & (tidy["group"] == "")
        & tidy["metric"].isin(SUMMARY)
        & tidy["split"].str.startswith(split_kind)
    ]
    keys = ["train_dataset", "split", "detector"]
    stats_ = mean_std(rows, keys + ["metric"])
    seeds = stats_.groupby(keys)["runs"].max()
    metrics = [m for m in SUMMARY if m in set(stats_["metric"])]
    if numbers:
        wide = stats_.pivot(index=keys, columns="metric", values=["mean", "std", "seeds"])
        columns = [(part, m) for m in metrics for part in ("mean", "std", "seeds")]
        wide = wide.reindex(columns=columns)
        wide.columns = [f"{m}_{part}" for part, m in columns]
        wide = wide.astype({f"{m}_seeds": "Int64" for m in metrics})
    else:
        stats_["cell"] = _cells(stats_)
        wide = stats_.pivot(index=keys, columns="metric", values="cell").reindex(columns=metrics)
    wide = wide.assign(seeds=seeds).rename_axis(columns=None)
    return wide.reset_index().rename(columns={"train_dataset": "dataset"})


# The canonicalization stage's LOF is fitted on every training row, attacks included (kddcup99's
# training split is 80 % attacks): a preparation statistic shown beside the detectors, never ranked.
PREPARATION_STATISTICS = ("lof",)
PREPARATION_LABEL = " (preparation statistic: fitted on all training rows)"


def headline_table(
    tidy: pd.DataFrame, primary_splits: dict[str, str] | None = None, metric: str = "auroc"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(detectors x datasets: ``metric`` on each dataset's primary test split, "mean ± std" over seeds
    to 3 decimals, the best mean per dataset in bold; detectors run on every dataset first, best on
    average first; preparation statistics last, never bold) -- the one table a paper prints. Returns
    the table and its bold mask."""
    rows, _ = on_primary_split(tidy, [metric], primary_splits)
    statistic = rows["base_model"].isin(PREPARATION_STATISTICS)
    rows = rows.assign(detector=rows["detector"].where(~statistic, rows["detector"] + PREPARATION_LABEL))
    stats_ = mean_std(rows, ["detector", "train_dataset"])
    if stats_.empty:
        return pd.DataFrame(columns=["detector"]), pd.DataFrame(columns=["detector"])
    stats_["cell"] = [
        "" if np.isnan(m) else f"{m:.3f}" if np.isnan(sd) else f"{m:.3f} ± {sd:.3f}"
        for m, sd in zip(stats_["mean"], stats_["std"])
    ]
    cells = stats_.pivot(index="detector", columns="train_dataset", values="cell")
    means = stats_.pivot(index="detector", columns="train_dataset", values="mean")
    # detectors run on every dataset first, then best on average (dataset-specific variants last)
    ranked = pd.Series(~means.index.str.endswith(PREPARATION_LABEL), index=means.index)
    order = (
        pd.DataFrame({"ranked": ranked, "n": means.notna().sum(axis=1), "mean": means.mean(axis=1)})
        .sort_values(["ranked", "n", "mean"], ascending=False)
        .index
    )
    cells, means, ranked = cells.loc[order], means.loc[order], ranked.loc[order]
    shown = means.round(3)  # bold what reads as the best: ties at the printed precision all bold
    bold = shown.eq(shown[ranked].max()) & shown.notna()
    bold.loc[~ranked] = False
    table = cells.reset_index().rename_axis(columns=None)
    return table, pd.concat([pd.Series(False, index=bold.index, name="detector"), bold], axis=1).reset_index(drop=True)


def runtime_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and detector, mean over seeds: fit seconds (one core; a latent model's encoder is
    fitted once for its four classifiers but each reports it) and scoring throughput (distinct records
    per second on the test splits) -- what a run costs, measured in the run itself."""
    rows = tidy[
        (tidy["experiment"] == "grid")
        & (tidy["group"] == "")
        & (
            ((tidy["split"] == "train") & (tidy["metric"] == "fit_seconds"))
            | (tidy["split"].str.startswith("test") & (tidy["metric"] == "records_per_second"))
        )
    ]
    if rows.empty:
        return pd.DataFrame(columns=["dataset", "detector", "fit_seconds", "records_per_second"])
    table = rows.groupby(["train_dataset", "detector", "metric"])["value"].mean().unstack("metric")
    table = table.reindex(columns=["fit_seconds", "records_per_second"]).round(
        {"fit_seconds": 2, "records_per_second": 0}
    )
    return table.reset_index().rename(columns={"train_dataset": "dataset"}).rename_axis(columns=None)


def dataset_statistics_table(
    split_reports: dict[str, dict], features: dict[str, int], cleaning: dict[str, list[dict]] | None = None
) -> pd.DataFrame:
    """Per dataset of its primary view: one ``all`` row, then one row per split (train, val, each test
    split), read from what the pipeline recorded: the split report (rows, attack rows, distinct feature
    vectors, rows repeating a training vector) and the model input's feature count (after encoding).
    ``duplicate_rows``: rows repeating a feature vector earlier in the same split (the split report
    does not count repeats across splits, so the ``all`` row leaves it empty); ``rows_in_train``: rows
    repeating a training vector. ``cleaning`` (each dataset's part cleaning reports) gives the ``all``
    row's records the cleaning removed as duplicates (0 where it keeps them). The ``all`` row leaves
    out subset splits and parts (KDDTest-21 is drawn from KDDTest+)."""
    columns = [
        "dataset",
        "split",
        "rows",
        "features",
        "attack_rows",
        "attack_share",
        "duplicate_rows",
        "duplicate_share",
        "rows_in_train",
        "duplicates_removed_in_cleaning",
    ]
    rows = []
    for dataset, doc in split_reports.items():
        parts = (cleaning or {}).get(dataset)
        splits = [entry for split, entry in doc["splits"].items() if split not in SUBSET_PARTS]
        total, attacks = sum(e["rows"] for e in splits), sum(e["attack_rows"] for e in splits)
        rows.append(
            {
                "dataset": dataset,
                "split": "all",
                "rows": total,
                "features": features.get(dataset),
                "attack_rows": attacks,
                "attack_share": attacks / total if total else None,
                "duplicates_removed_in_cleaning": None
                if parts is None
                else sum(
                    p["duplicate_rows"]
                    for p in parts
                    if p.get("duplicates_removed") and p.get("part") not in SUBSET_PARTS
                ),
            }
        )
        for split, entry in doc["splits"].items():
            n = entry["rows"]
            duplicates = n - entry["distinct_vectors"]
            rows.append(
                {
                    "dataset": dataset,
                    "split": split,
                    "rows": n,
                    "features": features.get(dataset),
                    "attack_rows": entry["attack_rows"],
                    "attack_share": entry["attack_rows"] / n if n else None,
                    "duplicate_rows": duplicates,
                    "duplicate_share": duplicates / n if n else None,
                    "rows_in_train": entry.get("rows_in_train"),
                }
            )
    table = pd.DataFrame(rows, columns=columns)
    # counts stay integers beside empty cells (rows_in_train of train)
    counts = ["rows", "features", "attack_rows", "duplicate_rows", "rows_in_train", "duplicates_removed_in_cleaning"]
    return table.astype({c: "Int64" for c in counts})


def novel_rows_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Does a detector find what it has not memorised? Per (dataset, test split, detector): test rows
    whose feature vector occurs in training (count, share), the novel rows' count, each headline
    metric on all rows beside the novel rows (mean ± std over seeds) and the AUROC change novel - all
    (mean over seeds of the paired difference)."""
    rows = tidy[(tidy["experiment"] == "grid") & (tidy["group"] == "") & tidy["split"].str.startswith("test")]
    keys = ["train_dataset", "split", "detector"]
    counts = ["overlap_records", "novel.records", "novel.attacks"]
    stats_ = mean_std(
        rows[rows["metric"].isin(counts + ["overlap_share"] + NOVEL + [f"novel.{m}" for m in NOVEL])], keys + ["metric"]
    )
    if stats_.empty:
        return pd.DataFrame(columns=["dataset", "split", "detector"])
    stats_["cell"] = [
        _count(m, s) if metric in counts else cell
        for m, s, metric, cell in zip(stats_["mean"], stats_["std"], stats_["metric"], _cells(stats_))
    ]
    wide = stats_.pivot(index=keys, columns="metric", values="cell")
    columns = {
        "overlap_records": "overlap_records",
        "overlap_share": "overlap_share",
        "novel.records": "novel_records",
        "novel.attacks": "novel_attacks",
    }
    for m in NOVEL:
        columns |= {m: f"{m} (all)", f"novel.{m}": f"{m} (novel)"}
    table = wide.reindex(columns=list(columns)).rename(columns=columns)
    paired = rows[rows["metric"].isin(["auroc", "novel.auroc"])].pivot_table(
        index=keys + ["seed"], columns="metric", values="value", aggfunc="first", dropna=False
    )
    if {"auroc", "novel.auroc"} <= set(paired.columns):
        table["auroc change"] = (paired["novel.auroc"] - paired["auroc"]).groupby(level=keys).mean()
    table = table[table.notna().any(axis=1) & (table != "").any(axis=1)]
    return table.reset_index().rename(columns={"train_dataset": "dataset"})


def _drop_empty_columns(table: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """``table`` without the columns (other than ``keep``) that are NaN or "" in every row: a column
    no row fills (a family a dataset lacks, a representation run on another dataset) prints nothing."""
    filled = table.replace("", np.nan).notna().any()
    return table[[c for c in table.columns if c in keep or filled[c]]]


def seed_paper_table(tidy: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """The seed paper's table: threshold, accuracy, precision, recall, F1, false-alarm rate and
    detection rate per attack family (mean ± std over seeds) of its autoencoders and CNN-LSTM, per
    dataset and test split, at the configured threshold rule and, from the same runs, at the public
    notebook's rule (``last_loss``: the last epoch's training loss); ``train_mse`` is the final
    autoencoder's plain reconstruction MSE on its training normals, beside the notebook's threshold.
    ``dataset`` keeps one dataset's rows; columns empty in every row (families the rows lack) are dropped."""
    rows = tidy[(tidy["experiment"] == "grid") & tidy["base_model"].isin(SEED_PAPER_MODELS)]
    if dataset is not None:
        rows = rows[rows["train_dataset"] == dataset]
    keys = ["train_dataset", "split", "detector", "threshold_rule"]
    front = ["dataset", "split", "detector", "threshold_rule"]
    tests = rows[rows["split"].str.startswith("test")]
    rule = np.where(tests["metric"].str.startswith("last_loss."), "last_loss", "configured")
    tests = tests.assign(threshold_rule=rule, metric=tests["metric"].str.removeprefix("last_loss."))
    overall = tests[(tests["group"] == "") & tests["metric"].isin(SEED_PAPER_METRICS)]
    # the configured threshold is a fit figure (split "train"), the same for every test split
    overall = overall[~((overall["threshold_rule"] == "configured") & (overall["metric"] == "threshold"))]
    # the "normal" group's detection rate is the false-alarm rate, already a column
    families = tests[(tests["metric"] == "detection_rate") & ~tests["group"].isin(["", "normal"])]
    families = families.assign(metric="DR " + families["group"])
    fitted = rows[(rows["split"] == "train") & (rows["group"] == "") & rows["metric"].isin(["threshold", "train_mse"])]
    fitted = fitted.drop(columns=["split"]).merge(tests[keys].drop_duplicates(), on=["train_dataset", "detector"])
    fitted = fitted[(fitted["metric"] == "train_mse") | (fitted["threshold_rule"] == "configured")]
    stats_ = mean_std(pd.concat([overall, families, fitted]), keys + ["metric"])
    if stats_.empty:
        return pd.DataFrame(columns=front)
    stats_["cell"] = _cells(stats_)
    table = stats_.pivot(index=keys, columns="metric", values="cell")
    dr = sorted(c for c in table.columns if c.startswith("DR "))
    table = table.reindex(columns=SEED_PAPER_METRICS + ["train_mse"] + dr).reset_index().rename_axis(columns=None)
    return _drop_empty_columns(table.rename(columns={"train_dataset": "dataset"}), front)


def variance_note(datasets, resampled) -> str:
    """What a ± over seeds covers in a table holding ``datasets``: model initialisation always, and
    the split draw for datasets that draw their split per seed (``split.resample_per_seed``)."""
    drawn = [d for d in sorted(set(datasets)) if d in set(resampled)]
    head = "± = standard deviation over seeds (ddof 1): each seed re-initialises and retrains the model"
    if not drawn:
        return f"{head}; the splits are fixed, so it covers model initialisation only."
    return (
        f"{head}; it covers model initialisation, and for {', '.join(drawn)} also the split draw "
        "(each seed draws its own train/validation/test split); elsewhere the official split is fixed."
    )


def vu_table(tidy: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """Vu et al.'s table: representation x classifier, ``metric`` mean ± std per dataset and test split."""
    rows = tidy[
        (tidy["experiment"] == "grid")
        & (tidy["classifier"] != "")
        & (tidy["metric"] == metric)
        & (tidy["group"] == "")
        & tidy["split"].str.startswith("test")
    ]
    stats_ = mean_std(rows, ["train_dataset", "split", "classifier", "representation"])
    stats_["cell"] = _cells(stats_)
    table = stats_.pivot(index=["train_dataset", "split", "classifier"], columns="representation", values="cell")
    order = [r for r in ("raw", "ae", "dae", "vae", "mae", "mdae", "mvae") if r in table.columns]
    table = (
        table.reindex(columns=order + [c for c in table.columns if c not in order])
        .reset_index()
        .rename(columns={"train_dataset": "dataset"})
        .rename_axis(columns=None)
    )
    # a representation with no value on any row here (e.g. zeek_mae, run on one dataset only) prints nothing
    return _drop_empty_columns(table, ["dataset", "split", "classifier"])


def unknown_attack_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Detection rate on attacks of types absent from training vs seen types (mean ± std over
    seeds), per dataset, test split and detector; only splits that hold unseen attack types."""
    metrics = [
        "unseen_attack_records",
        "unseen_attack_detection_rate",
        "seen_attack_detection_rate",
        "false_alarm_rate",
    ]
    rows = tidy[(tidy["experiment"] == "grid") & tidy["metric"].isin(metrics) & (tidy["group"] == "")]
    stats_ = mean_std(rows, ["train_dataset", "split", "detector", "metric"])
    stats_["cell"] = [
        _count(m, s) if metric == "unseen_attack_records" else cell
        for m, s, metric, cell in zip(stats_["mean"], stats_["std"], stats_["metric"], _cells(stats_))
    ]
    wide = stats_.pivot(index=["train_dataset", "split", "detector"], columns="metric", values="cell")
    wide = wide.reindex(columns=metrics)
    # on the numbers, not the cells: a count that varies with the split draw is shown as mean ± std
    unseen = stats_[stats_["metric"] == "unseen_attack_records"].set_index(["train_dataset", "split", "detector"])[
        "mean"
    ]
    wide = wide[unseen.reindex(wide.index).fillna(0).to_numpy() > 0]
    return wide.reset_index().rename(columns={"train_dataset": "dataset"})


def cross_dataset_table(tidy: pd.DataFrame, metric: str = "auroc", near_in_domain=()) -> pd.DataFrame:
    """``metric`` (mean over seeds) per detector for every train -> test pair of the cross-dataset
    runs, beside the same detector tested on its own dataset's test splits. Pairs in
    ``near_in_domain`` ([a, b]: one built from the other, e.g. NSL-KDD from KDD'99) are labelled."""
    cross = tidy[(tidy["experiment"] == "cross") & (tidy["metric"] == metric) & (tidy["group"] == "")]
    if cross.empty:
        return pd.DataFrame(columns=["detector"])
    own = tidy[
        (tidy["experiment"] == "grid")
        & (tidy["metric"] == metric)
        & (tidy["group"] == "")
        & tidy["train_dataset"].isin(cross["train_dataset"])
        & tidy["detector"].isin(cross["detector"])
        & tidy["split"].str.startswith("test")
    ]
    rows = pd.concat([own, cross])
    near = {frozenset(pair) for pair in near_in_domain}
    label = [
        " (near in-domain)" if frozenset((a, b)) in near else ""
        for a, b in zip(rows["train_dataset"], rows["test_dataset"])
    ]
    rows = rows.assign(column=rows["train_dataset"] + " -> " + rows["test_dataset"] + " " + rows["split"] + label)
    table = rows.groupby(["detector", "column"])["value"].mean().unstack("column")
    return table.reindex(columns=sorted(table.columns)).reset_index()


# A threshold cannot move a ranking metric (AUROC, AUPRC): their sweeps show what the threshold trades.
THRESHOLD_PARAMETERS = ("percentile", "threshold_value", "threshold_rule")
THRESHOLD_METRICS = ("recall", "false_alarm_rate", "f1")


def _number_key(value):
    """A swept value (JSON text) as a number or a tuple of numbers (centres), None otherwise."""
    parsed = json.loads(value)
    items = parsed if isinstance(parsed, list) else [parsed]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return tuple(float(v) for v in items)
    return None


def _value_order(values) -> list[str]:
    """Swept values (JSON text) in numeric order where all are numbers (or lists of them), else as listed."""
    values = list(dict.fromkeys(values))
    keys = [_number_key(v) for v in values]
    if None in keys:
        return values
    return [v for _, v in sorted(zip(keys, values))]


def sweep_rows(tidy: pd.DataFrame, metric: str, split: str, defaults: list[dict] = ()) -> pd.DataFrame:
    """Sweep rows, each sweep's default point added from the grid's runs of the swept model
    (``default`` true; ``defaults`` from ``config.sweep_defaults``), in value order. ``metric``, or for
    a threshold parameter detection rate, false-alarm rate and F1. ``detector`` names the model (and
    classifier), not the variant, so one line joins the values of a sweep."""
    base = tidy[(tidy["group"] == "") & (tidy["split"] == split)]
    rows = [base[base["experiment"] == "sweep"].assign(default=False)]
    for entry in {(d["model"], d["parameter"]): d for d in defaults}.values():
        swept = rows[0][
            rows[0]["model"].str.startswith(entry["model"] + "__") & (rows[0]["setting"] == entry["parameter"])
        ]
        if _number_key(json.dumps(entry["value"])) in {_number_key(v) for v in swept["setting_value"]}:
            continue  # the default is one of the listed values: trained as a variant already
        grid = base[
            (base["experiment"] == "grid")
            & (base["model"] == entry["model"])
            & base["train_dataset"].isin(set(swept["train_dataset"]))
        ]
        rows.append(
            grid.assign(
                experiment="sweep", setting=entry["parameter"], default=True, setting_value=json.dumps(entry["value"])
            )
        )
    rows = pd.concat(rows, ignore_index=True)
    wanted = np.where(
        rows["setting"].isin(THRESHOLD_PARAMETERS), rows["metric"].isin(THRESHOLD_METRICS), rows["metric"] == metric
    )
    rows = rows[wanted]
    rows = rows.assign(
        detector=np.where(rows["classifier"] != "", rows["base_model"] + ":" + rows["classifier"], rows["base_model"])
    )
    order = {
        (setting, v): (s, i)
        for s, (setting, data) in enumerate(rows.groupby("setting", sort=False))
        for i, v in enumerate(_value_order(data["setting_value"]))
    }
    position = [order[key] for key in zip(rows["setting"], rows["setting_value"])]
    return rows.iloc[sorted(range(len(rows)), key=position.__getitem__)]


def robustness_table(
    tidy: pd.DataFrame, metric: str = "auroc", split: str = "test", defaults: list[dict] = ()
) -> pd.DataFrame:
    """Sweep results, mean ± std over seeds per dataset, swept model, hyperparameter, value (the default
    marked) and detector: ``metric``, or a threshold's detection rate, false-alarm rate and F1."""
    rows = sweep_rows(tidy, metric, split, defaults)
    table = mean_std(
        rows, ["train_dataset", "base_model", "setting", "setting_value", "default", "detector", "metric"], sort=False
    )
    return table.drop(columns="runs").rename(
        columns={"train_dataset": "dataset", "base_model": "model", "setting": "parameter", "setting_value": "value"}
    )


def preparation_sweep_table(summaries: list[dict], defaults: list[dict] = ()) -> pd.DataFrame:
    """One row per LOF / DBSCAN sweep job: the changed parameter, the training outlier (noise)
    share, clusters (DBSCAN) and the LOF score's AUROC on each test split; ``defaults`` (the stages'
    own summaries, at the configured values) add each sweep's default point (``default`` true)."""

    def stage(summary):
        return "lof" if "outline_score" in summary else "dbscan"

    def row(summary, parameter, default):
        overall = summary["splits"]["train"]["overall"]
        entry = {
            "stage": stage(summary),
            "dataset": summary["dataset"],
            "parameter": parameter,
            "value": summary[parameter],
            "default": default,
            "train_outlier_percent": overall["percent"],
            "clusters": summary.get("clusters"),
        }
        entry.update({f"auroc_{split}": v for split, v in summary.get("score_auroc", {}).items() if split != "train"})
        return entry

    rows = [row(summary, summary["swept"], False) for summary in summaries]
    swept = {(r["stage"], r["dataset"], r["parameter"]) for r in rows}
    for summary in defaults:
        rows += [
            row(summary, parameter, True)
            for s, dataset, parameter in sorted(swept)
            if s == stage(summary) and dataset == summary["dataset"]
        ]
    if not rows:
        return pd.DataFrame(rows)
    order = {key: i for i, key in enumerate(dict.fromkeys((r["stage"], r["dataset"], r["parameter"]) for r in rows))}
    rows.sort(key=lambda r: (order[r["stage"], r["dataset"], r["parameter"]], r["value"]))
    return pd.DataFrame(rows)


def lofo_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-family-out: detection rate on the held-out family in the test split (mean ± std
    over seeds) beside the same detector's rate on that family when trained on every family, over
    the same seeds (leave-one-family-out may train fewer than the grid), each with the false-alarm
    rate that bought it (a higher detection rate at a higher false-alarm rate is no gain)."""
    columns = [
        "dataset",
        "detector",
        "family",
        "held_out",
        "held_out_false_alarm_rate",
        "trained_on_all",
        "trained_on_all_false_alarm_rate",
    ]
    lofo = tidy[(tidy["experiment"] == "lofo") & (tidy["split"] == "test")]
    held = lofo[
        (lofo["metric"] == "detection_rate")
        & (lofo["group"] == lofo["setting_value"].map(lambda v: json.loads(v) if v else ""))
    ]
    if held.empty:
        return pd.DataFrame(columns=columns)
    keys = ["train_dataset", "detector", "group"]
    rates = mean_std(held, keys)
    rates["held_out"] = _cells(rates)
    alarms = lofo[lofo["metric"] == "false_alarm_rate"].assign(group=lambda f: f["setting_value"].map(json.loads))
    alarms = mean_std(alarms, keys)
    alarms["held_out_false_alarm_rate"] = _cells(alarms)
    grid = tidy[(tidy["experiment"] == "grid") & (tidy["split"] == "test") & tidy["seed"].isin(held["seed"].unique())]
    seen = mean_std(grid[grid["metric"] == "detection_rate"], keys)  # the seeds held out runs trained: paired
    seen["trained_on_all"] = _cells(seen)
    grid_alarms = mean_std(
        grid[(grid["metric"] == "false_alarm_rate") & (grid["group"] == "")], ["train_dataset", "detector"]
    )
    grid_alarms["trained_on_all_false_alarm_rate"] = _cells(grid_alarms)
    table = (
        rates.merge(alarms[keys + ["held_out_false_alarm_rate"]], how="left", on=keys)
        .merge(seen[keys + ["trained_on_all"]], how="left", on=keys)
        .merge(
            grid_alarms[["train_dataset", "detector", "trained_on_all_false_alarm_rate"]],
            how="left",
            on=["train_dataset", "detector"],
        )
    )
    return table.rename(columns={"train_dataset": "dataset", "group": "family"})[columns]


def primary_split(splits) -> str:
    """A dataset's primary test split when the workflow does not name it: ``test`` (KDDTest+, not
    its subset KDDTest-21), else the first in name order."""
    splits = sorted(set(splits))
    return "test" if "test" in splits else splits[0]


def on_primary_split(
    tidy: pd.DataFrame, metrics: list[str], primary_splits: dict[str, str] | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """(the grid's overall ``metrics`` rows on each dataset's primary test split, {dataset: that split}):
    one independent block per dataset (KDDTest-21 lies inside KDDTest+). ``primary_splits`` names the
    split per dataset (the workflow's first test split), else ``primary_split`` picks it."""
    rows = tidy[
        (tidy["experiment"] == "grid")
        & tidy["metric"].isin(metrics)
        & (tidy["group"] == "")
        & (tidy["train_dataset"] == tidy["test_dataset"])
        & tidy["split"].str.startswith("test")
    ]
    primary = {d: (primary_splits or {}).get(d) or primary_split(g["split"]) for d, g in rows.groupby("train_dataset")}
    return rows[rows["split"] == rows["train_dataset"].map(primary)], primary


def class_counts(tidy: pd.DataFrame, primary_splits: dict[str, str] | None = None) -> pd.DataFrame:
    """Attack and normal records of each dataset's primary test split (the fewest over its runs: a
    split drawn per seed varies), from the tidy table's ``attacks`` and ``records`` rows."""
    rows, _ = on_primary_split(tidy, ["attacks", "records"], primary_splits)
    wide = rows.pivot_table(index=["train_dataset", "detector", "seed"], columns="metric", values="value")
    if wide.empty:
        return pd.DataFrame(columns=["attacks", "normals"])
    wide["normals"] = wide["records"] - wide["attacks"]
    return wide.groupby("train_dataset")[["attacks", "normals"]].min().astype(int)


def uninformative_datasets(
    tidy: pd.DataFrame, primary_splits: dict[str, str] | None = None, min_class_records: int = 30
) -> dict[str, str]:
    """{dataset: why} for datasets whose primary test split holds fewer than ``min_class_records``
    attacks or normal records. A split with 2 attacks ranks nothing: one record moves AUROC by a
    quarter; such a dataset is a negative control (false alarms on benign traffic)."""
    counts = class_counts(tidy, primary_splits)
    return {
        d: f"{c.attacks:,} attack and {c.normals:,} normal records in its test split (fewer than {min_class_records} of one)"
        for d, c in counts.iterrows()
        if min(c.attacks, c.normals) < min_class_records
    }


def negative_control_table(tidy: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """False alarms on benign traffic where attacks are too few to rank detectors: false-alarm rate
    and flagged normal records (mean ± std over seeds) per dataset, test split and detector."""
    metrics = ["false_alarm_rate", "fp", "attacks", "records"]
    rows = tidy[
        (tidy["experiment"] == "grid")
        & tidy["train_dataset"].isin(datasets)
        & (tidy["group"] == "")
        & tidy["metric"].isin(metrics)
        & tidy["split"].str.startswith("test")
    ]
    if rows.empty:
        return pd.DataFrame(columns=["dataset", "split", "detector", "false_alarm_rate", "flagged_normals", "attacks"])
    stats_ = mean_std(rows, ["train_dataset", "split", "detector", "metric"])
    stats_["cell"] = [
        _count(m, s) if metric != "false_alarm_rate" else _fmt(m, s)
        for m, s, metric in zip(stats_["mean"], stats_["std"], stats_["metric"])
    ]
    wide = stats_.pivot(index=["train_dataset", "split", "detector"], columns="metric", values="cell")
    wide = wide.reindex(columns=metrics).rename(columns={"fp": "flagged_normals"}).drop(columns="records")
    return wide.reset_index().rename(columns={"train_dataset": "dataset"})


def rank_tests(
    tidy: pd.DataFrame,
    metric: str = "auroc",
    primary_splits: dict[str, str] | None = None,
    alpha: float = 0.05,
    min_class_records: int = 30,
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Demšar (2006) on independent blocks: one block per dataset, its primary test split (the
    workflow's first test split; other test splits, such as KDDTest-21 inside KDDTest+, share records
    with it). Average ranks (1 = best ``metric``, mean over seeds), Friedman's test and the Nemenyi
    post-hoc test (scikit-posthocs) with its critical difference. Only detectors with a value in every
    block take part (the rest are listed as excluded); a block where the metric is undefined for every
    detector (e.g. AUROC on a split without attacks) is dropped.

    Whether the tests *could* reject anything at this number of blocks is checked, not assumed: the
    smallest p-value each test can give is its p-value on perfectly concordant rankings (every block
    ranks the detectors alike) with the same numbers of blocks and detectors; when that is not below
    ``alpha`` there are too few blocks and the ranks are descriptive only. A dataset whose primary
    split holds fewer than ``min_class_records`` attacks or normal records is no block (see
    ``uninformative_datasets``); the result lists it under ``uninformative_blocks``."""
    short = uninformative_datasets(tidy, primary_splits, min_class_records)
    rows, primary = on_primary_split(tidy[~tidy["train_dataset"].isin(list(short))], [metric], primary_splits)
    statistics = sorted(set(rows.loc[rows["base_model"].isin(PREPARATION_STATISTICS), "detector"]))
    rows = rows[~rows["detector"].isin(statistics)]
    scores = rows.groupby(["train_dataset", "detector"])["value"].mean().unstack("detector")
    scores = scores.dropna(axis=0, how="all")
    excluded = sorted(scores.columns[scores.isna().any()])
    scores = scores.drop(columns=excluded)
    n, k = scores.shape
    ranks = scores.rank(axis=1, ascending=False)
    average = ranks.mean().sort_values().rename("average_rank").reset_index()
    average["mean_" + metric] = average["detector"].map(scores.mean())
    result = {
        "blocks": int(n),
        "detectors": int(k),
        "block_splits": {d: primary[d] for d in scores.index},
        "excluded_detectors": excluded,
        "uninformative_blocks": short,
        "preparation_statistics": statistics,
        "min_class_records": min_class_records,
        "alpha": alpha,
        "statistic": float("nan"),
        "p_value": float("nan"),
        "posthoc": "nemenyi",
        "critical_difference": float("nan"),
        "friedman_min_p_value": float("nan"),
        "friedman_can_reject": False,
        "posthoc_min_p_value": float("nan"),
        "posthoc_can_reject": False,
        # Demšar 2006, sec. 3.2.2: the chi-square approximation of Friedman's statistic wants N > 10, k > 5
        "chi2_approximation_reliable": bool(n > 10 and k > 5),
    }
    order = list(average["detector"])
    nemenyi = pd.DataFrame(index=order, columns=order, dtype=float)
    if n >= 2 and k >= 3:
        friedman = stats.friedmanchisquare(*[scores[c].to_numpy() for c in scores.columns])
        result.update(statistic=float(friedman.statistic), p_value=float(friedman.pvalue))
        nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(scores.reset_index(drop=True)).loc[order, order]
        concordant = pd.DataFrame(np.tile(np.arange(k, dtype=float), (n, 1)))
        best_friedman = float(stats.friedmanchisquare(*concordant.T.to_numpy()).pvalue)
        best_posthoc = float(scikit_posthocs.posthoc_nemenyi_friedman(concordant).to_numpy().min())
        # Nemenyi's critical difference (Demšar's eq.): the studentized range quantile, scaled to ranks
        q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
        result.update(
            critical_difference=float(q * np.sqrt(k * (k + 1) / (6 * n))),
            friedman_min_p_value=best_friedman,
            friedman_can_reject=best_friedman < alpha,
            posthoc_min_p_value=best_posthoc,
            posthoc_can_reject=best_posthoc < alpha,
        )
    result["verdict"] = rank_verdict(result, metric)
    nemenyi.index.name = "detector"
    return average, result, nemenyi


def rank_verdict(result: dict, metric: str) -> str:
    """One plain sentence on what the rank tests can and do say."""
    n, k, alpha = result["blocks"], result["detectors"], result["alpha"]
    head = f"Average ranks by {metric} over {n} blocks (one per dataset, its primary test split) and {k} detectors"
    if result.get("preparation_statistics"):
        head += (
            " (not ranked, preparation statistics fitted on every training row: "
            + ", ".join(result["preparation_statistics"])
            + ")"
        )
    if result.get("uninformative_blocks"):
        head += (
            " (not ranked, too few attacks or normals: "
            + "; ".join(f"{d}: {why}" for d, why in result["uninformative_blocks"].items())
            + ")"
        )
    if n < 2 or k < 3:
        return f"{head}: too few blocks or detectors for Friedman's test (needs 2 blocks and 3 detectors)."
    if not result["friedman_can_reject"]:
        return (
            f"{head}: too few blocks for any test to reject: even identical rankings in every block would give "
            f"Friedman p = {result['friedman_min_p_value']:.3g} >= alpha {alpha}; the ranks are descriptive only."
        )
    found = "rejects" if result["p_value"] < alpha else "does not reject"
    text = (
        f"{head}: Friedman p = {result['p_value']:.3g} ({found} equal ranks at alpha {alpha}; "
        f"smallest attainable p {result['friedman_min_p_value']:.3g})."
    )
    if not result["chi2_approximation_reliable"]:
        text += " Fewer than Demšar's N > 10 blocks and k > 5 detectors: the chi-square p-value is approximate."
    if not result["posthoc_can_reject"]:
        return text + (
            f" Nemenyi: too few blocks to separate any pair (critical difference "
            f"{result['critical_difference']:.3g} >= the largest possible rank gap {k - 1})."
        )
    return text + f" Nemenyi critical difference {result['critical_difference']:.3g} ranks."


ANSWER_COLUMNS = [
    "dataset",
    "split",
    "detectors",
    "best",
    "best_mean",
    "best_std",
    "best_seeds",
    "runner_up",
    "runner_up_mean",
    "runner_up_std",
    "runner_up_seeds",
    "gap",
    "paired_seeds",
    "p_value",
    "verdict",
    "caveat",
]


def answer_table(
    tidy: pd.DataFrame,
    primary_splits: dict[str, str] | None = None,
    metric: str = "auroc",
    alpha: float = 0.05,
    min_class_records: int = 30,
) -> pd.DataFrame:
    """The answer, one row per dataset and test split of the grid (each dataset's primary split first):
    the best detector by mean ``metric`` over seeds, its mean, std (ddof 1) and seeds, the runner-up's,
    the gap between the means and whether it exceeds seed noise. The test is a two-sided paired t-test
    (``scipy.stats.ttest_rel``) on the two detectors' per-seed values over the seeds both have, matched
    by seed: ``significant`` where p < ``alpha``, ``not significant`` otherwise (also where the two are
    equal in every seed: no gap, no p-value), ``not testable`` with fewer than 2 matched seeds (or no
    runner-up). Not Wilcoxon's signed-rank test: with 5 seeds its smallest two-sided p-value is
    2 / 2^5 = 0.0625, so it could never reject at 0.05.

    Degenerate runs are expected set apart already (``set_apart_degenerate``); preparation statistics
    (LOF fitted on every training row) are no candidates. ``caveat`` names a split with fewer than
    ``min_class_records`` attacks or normal records, where one record moves the metric a lot; a split
    where no detector has the metric (no attacks in it) keeps its row, empty, and says so."""
    rows = tidy[
        (tidy["experiment"] == "grid")
        & (tidy["group"] == "")
        & (tidy["train_dataset"] == tidy["test_dataset"])
        & tidy["split"].str.startswith("test")
        & ~tidy["base_model"].isin(PREPARATION_STATISTICS)
    ]
    counts = rows[rows["metric"].isin(["attacks", "records"])].pivot_table(
        index=["train_dataset", "split", "detector", "seed"], columns="metric", values="value"
    )
    if {"attacks", "records"} <= set(counts.columns):
        counts = counts.assign(normals=counts["records"] - counts["attacks"])
        counts = counts.groupby(level=["train_dataset", "split"])[["attacks", "normals"]].min()
    else:
        counts = pd.DataFrame(columns=["attacks", "normals"])
    answers = []
    for (dataset, split), block in rows[rows["metric"] == metric].groupby(["train_dataset", "split"]):
        # detectors by mean over the seeds where the metric is defined (a split without attacks: none)
        block = block[block["value"].notna()]
        per_seed = block.pivot_table(index="seed", columns="detector", values="value", aggfunc="mean")
        ranked = (
            pd.DataFrame({"mean": per_seed.mean(), "std": per_seed.std(), "seeds": per_seed.count()})
            .rename_axis("detector")
            .reset_index()
            .sort_values(["mean", "detector"], ascending=[False, True], ignore_index=True)
        )
        row = {
            "dataset": dataset,
            "split": split,
            "detectors": len(ranked),
            "paired_seeds": 0,
            "p_value": np.nan,
            "verdict": "not testable",
            "caveat": "" if len(ranked) else f"{metric} undefined for every detector",
        }
        if len(ranked):
            best = ranked.iloc[0]
            row.update(best=best["detector"], best_mean=best["mean"], best_std=best["std"], best_seeds=best["seeds"])
        if len(ranked) > 1:
            runner = ranked.iloc[1]
            pair = per_seed[[best["detector"], runner["detector"]]].dropna()
            row.update(
                runner_up=runner["detector"],
                runner_up_mean=runner["mean"],
                runner_up_std=runner["std"],
                runner_up_seeds=runner["seeds"],
                gap=best["mean"] - runner["mean"],
                paired_seeds=len(pair),
            )
            if len(pair) >= 2:
                a, b = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
                if np.array_equal(a, b):
                    row["verdict"] = "not significant"
                else:
                    # a gap the same in every seed (two deterministic detectors on a fixed split): p = 0
                    row["p_value"] = float(stats.ttest_rel(a, b).pvalue)
                    row["verdict"] = "significant" if row["p_value"] < alpha else "not significant"
        if (dataset, split) in counts.index:
            c = counts.loc[(dataset, split)]
            if min(c["attacks"], c["normals"]) < min_class_records and not row["caveat"]:
                row["caveat"] = (
                    f"{c['attacks']:,.0f} attacks, {c['normals']:,.0f} normals (< {min_class_records}): "
                    "too few to rank (negative_controls)"
                )
        answers.append(row)
    table = pd.DataFrame(answers, columns=ANSWER_COLUMNS)
    if table.empty:
        return table
    primary = {d: (primary_splits or {}).get(d) or primary_split(g) for d, g in table.groupby("dataset")["split"]}
    order = sorted(
        range(len(table)),
        key=lambda i: (table["dataset"][i], table["split"][i] != primary[table["dataset"][i]], table["split"][i]),
    )
    table = table.iloc[order].reset_index(drop=True)
    return table.astype({"detectors": int, "best_seeds": "Int64", "runner_up_seeds": "Int64", "paired_seeds": int})


def answer_cells(table: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """The answer table as people read it (Markdown, LaTeX, HTML, the report's landing page): mean ± std
    cells, the gap (3 significant digits), matched seeds, p to 3 significant digits and the verdict; the caveat column only
    where a row has one."""
    name = metric.upper()
    shown = pd.DataFrame(
        {
            "dataset": table["dataset"],
            "split": table["split"],
            "best": table["best"],
            name: [_fmt(m, s) for m, s in zip(table["best_mean"], table["best_std"])],
            "runner-up": table["runner_up"],
            f"runner-up {name}": [_fmt(m, s) for m, s in zip(table["runner_up_mean"], table["runner_up_std"])],
            "gap": ["" if np.isnan(g) else f"{g:.3g}" for g in table["gap"].astype(float)],
            "paired seeds": table["paired_seeds"],
            "p (paired t)": ["" if np.isnan(p) else f"{p:.3g}" for p in table["p_value"].astype(float)],
            "beyond seed noise": table["verdict"],
            "caveat": table["caveat"],
        }
    )
    return shown if (shown["caveat"] != "").any() else shown.drop(columns="caveat")


def answer_note(metric: str = "auroc", alpha: float = 0.05) -> str:
    """What the answer table says and how (the head of its Markdown and HTML, a LaTeX comment)."""
    name = metric.upper()
    return (
        f"The answer: per dataset and test split, the best detector by mean {name} over seeds and the runner-up "
        f"(mean ± standard deviation over seeds, ddof 1; the CSV holds them as numbers). Beyond seed noise: a "
        f"two-sided paired t-test (scipy.stats.ttest_rel) on the two detectors' per-seed {name}, seeds matched; "
        f"significant where p < {alpha}; not testable with fewer than 2 matched seeds; two detectors equal in every "
        "seed have no gap (not significant); p = 0 is a gap the same in every seed (deterministic detectors on a "
        "fixed split). Not Wilcoxon's signed-rank test: with 5 seeds its smallest two-sided p-value is 2/2^5 = "
        "0.0625, so it could never reach 0.05. One test per row, of the top two: no correction for the other "
        "detectors, and not significant means within seed noise, not equal. Degenerate runs are set apart "
        "(degenerate_runs); LOF of the preparation stage (fitted on every training row, attacks included) is "
        "no candidate."
    )
