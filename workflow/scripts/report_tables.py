"""Report tables (CSV, Markdown, LaTeX) and the rank figure, from the tidy results table only."""

from pathlib import Path

import pandas as pd

from iotad import report
from iotad.figures import heatmap_figure, rank_figure, robustness_figure
from iotad.io import write_json
from iotad.smk import job

with job(snakemake, "report_tables") as log:
    tidy = pd.read_parquet(snakemake.input[0])
    tables = Path(snakemake.output.friedman).parent
    metric = snakemake.params.rank_metric
    report.write_table(report.summary_table(tidy), tables / "summary")
    report.write_table(report.seed_paper_table(tidy), tables / "seed_paper")
    report.write_table(report.vu_table(tidy, "auroc"), tables / "vu_latent_auroc")
    report.write_table(report.vu_table(tidy, "hard_auc"), tables / "vu_latent_hard_auc")
    report.write_table(report.unknown_attack_table(tidy), tables / "unknown_attacks")
    report.write_table(report.lofo_table(tidy), tables / "leave_one_family_out")
    cross = report.cross_dataset_table(tidy, "auroc")
    report.write_table(cross, tables / "cross_dataset_auroc")
    heatmap_figure(cross, "detector", "AUROC", snakemake.output.cross_png, snakemake.output.cross_svg)
    report.write_table(report.robustness_table(tidy, metric), tables / "robustness")
    robustness_figure(tidy, metric, "test", snakemake.output.robust_png, snakemake.output.robust_svg)
    average, friedman, pairwise = report.rank_tests(tidy, metric)
    report.write_table(average, tables / "average_ranks")
    report.write_table(pairwise, tables / "wilcoxon")
    write_json({"metric": metric, **friedman}, snakemake.output.friedman)
    rank_figure(average, metric, snakemake.output.rank_png, snakemake.output.rank_svg)
    log.info("Friedman over %d blocks and %d detectors: p = %.3g", friedman["blocks"], friedman["detectors"], friedman["p_value"])
