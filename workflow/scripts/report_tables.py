"""Report tables (CSV, Markdown, LaTeX) and the rank figure, from the tidy results table (and, for the
dataset statistics, the split, encoding and cleaning reports preparation wrote)."""

import json
from pathlib import Path

import pandas as pd

from iotad import report
from iotad.figures import heatmap_figure, rank_figure, robustness_figure
from iotad.io import write_json
from iotad.smk import job


def read_json_file(path):
    return json.loads(Path(path).read_text())


with job(snakemake, "report_tables") as log:
    tidy, degenerate = report.set_apart_degenerate(pd.read_parquet(snakemake.input.tidy))
    report.write_table(
        degenerate,
        Path(snakemake.output.friedman).parent / "degenerate_runs",
        note="Runs set apart (constant scores, every normal record flagged, or a supervised model stuck "
        "at the majority family; each metrics.json says why): out of every mean, rank and test.",
    )
    if len(degenerate):
        log.warning("%d degenerate runs set apart (tables/degenerate_runs)", len(degenerate))
    tables = Path(snakemake.output.friedman).parent
    metric = snakemake.params.rank_metric
    resampled = snakemake.params.resampled

    def note(table):
        """What the ± covers for the datasets in ``table`` (model initialisation; split draw where resampled)."""
        return report.variance_note(table["dataset"] if "dataset" in table else [], resampled)

    headline, best = report.headline_table(tidy, snakemake.params.primary_splits, metric)
    report.write_table(
        headline,
        tables / "headline",
        bold=best,
        note=f"{metric.upper()} on each dataset's primary test split, mean ± std over seeds; the best mean "
        "per dataset in bold; best on average first (variants run on one dataset last). "
        + note(pd.DataFrame({"dataset": headline.columns[1:]})),
    )
    # the answer first: best and runner-up per dataset and test split, and whether the gap beats seed noise
    answer = report.answer_table(tidy, snakemake.params.primary_splits, metric)
    report.write_table(
        report.answer_cells(answer, metric),
        tables / "answer",
        note=report.answer_note(metric) + " " + note(answer),
        numbers=answer,
    )
    report.write_table(
        report.runtime_table(tidy),
        tables / "runtime",
        note="Mean over seeds: fit seconds on one core, and distinct test records scored per second.",
    )
    summary = report.summary_table(tidy)
    # the CSV: numeric mean, std and seeds columns per metric; Markdown, LaTeX and HTML: "mean ± std"
    report.write_table(
        summary, tables / "summary", note=note(summary), numbers=report.summary_table(tidy, numbers=True)
    )
    for name, table in (
        ("novel_rows", report.novel_rows_table(tidy)),
        ("vu_latent_auroc", report.vu_table(tidy, "auroc")),
        ("vu_latent_hard_auc", report.vu_table(tidy, "hard_auc")),
        ("unknown_attacks", report.unknown_attack_table(tidy)),
        ("leave_one_family_out", report.lofo_table(tidy)),
        ("robustness", report.robustness_table(tidy, metric, "test", snakemake.params.sweep_defaults)),
    ):
        report.write_table(table, tables / name, note=note(table))
    datasets = snakemake.params.datasets
    splits = {doc["dataset"]: doc for doc in map(read_json_file, snakemake.input.split_reports)}
    features = {d: read_json_file(p)["features"] for d, p in zip(datasets, snakemake.input.encodings)}
    cleaning = {}
    for doc in map(read_json_file, snakemake.input.cleaning):
        cleaning.setdefault(doc["dataset"], []).append(doc)
    report.write_table(
        report.dataset_statistics_table(splits, features, cleaning),
        tables / "dataset_statistics",
        note="Each dataset's primary view (the configured split seed's draw where splits are drawn per seed). features: "
        "model-input columns after encoding; duplicate_rows: rows repeating a feature vector of the "
        "same split; rows_in_train: rows repeating a training vector; "
        "duplicates_removed_in_cleaning: records the cleaning dropped as exact repeats.",
    )
    paper_note = (
        " threshold_rule: configured (config threshold_rule; default the 99th percentile of validation"
        " normals' errors) or last_loss (the public notebook's rule: the last epoch's training loss), both"
        " from the same runs; DR: detection rate per attack family."
    )
    for stem, dataset in [("seed_paper", None)] + [(f"seed_paper_{d}", d) for d in datasets]:
        seed_paper = report.seed_paper_table(tidy, dataset)
        report.write_table(seed_paper, tables / stem, note=note(seed_paper) + paper_note)
    near = snakemake.params.near_in_domain
    cross = report.cross_dataset_table(tidy, "auroc", near)
    report.write_table(
        cross,
        tables / "cross_dataset_auroc",
        note="Mean over seeds. Near in-domain: one dataset was built from the other (NSL-KDD from KDD'99).",
    )
    report.write_table(
        report.cross_dataset_table(tidy, "false_alarm_rate", near),
        tables / "cross_dataset_false_alarms",
        note="False-alarm rate, mean over seeds: what each AUROC of cross_dataset_auroc costs on "
        "the other dataset's normal traffic at the training side's threshold.",
    )
    heatmap_figure(cross, "detector", "AUROC", snakemake.output.cross_png, snakemake.output.cross_svg)
    robustness_figure(
        tidy, metric, "test", snakemake.output.robust_png, snakemake.output.robust_svg, snakemake.params.sweep_defaults
    )
    average, tests, nemenyi = report.rank_tests(tidy, metric, snakemake.params.primary_splits)
    controls = report.negative_control_table(tidy, list(tests["uninformative_blocks"]))
    report.write_table(
        controls,
        tables / "negative_controls",
        note="Datasets with too few attacks or normal records "
        "in their test split to rank detectors: false alarms on their benign traffic. " + note(controls),
    )
    report.write_table(average, tables / "average_ranks", note=tests["verdict"])
    report.write_table(
        nemenyi, tables / "nemenyi", index=True, note="Nemenyi post-hoc p-values (scikit-posthocs). " + tests["verdict"]
    )
    # an undefined statistic is null in JSON (NaN is not JSON)
    write_json(
        {"metric": metric, **{k: None if isinstance(v, float) and v != v else v for k, v in tests.items()}},
        snakemake.output.friedman,
    )
    rank_figure(average, tests, nemenyi, metric, snakemake.output.rank_png, snakemake.output.rank_svg)
    log.info("%s", tests["verdict"])
