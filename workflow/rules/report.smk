# The report: one tidy results table, then tables and figures made only from it (and, for curves
# and loss distributions, the per-record scores of the first seed).


rule results_table:
    input:
        RUNS + CROSS_RUNS + SWEEP_RUNS + LOFO_RUNS,
    output:
        parquet="results/report/results.parquet",
        csv="results/report/results.csv",
    log:
        "results/logs/report/results_table.log",
    benchmark:
        "results/benchmarks/results_table/all.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        experiments=["grid"] * len(RUNS)
        + ["cross"] * len(CROSS_RUNS)
        + ["sweep"] * len(SWEEP_RUNS)
        + ["lofo"] * len(LOFO_RUNS),
    script:
        "../scripts/results_table.py"


rule report_tables:
    input:
        tidy="results/report/results.parquet",
        # the dataset-statistics table reads what preparation recorded (primary views only)
        split_reports=expand("results/split/{dataset}/report.json", dataset=DATASETS),
        encodings=expand("results/features/{dataset}/train.encoding.json", dataset=DATASETS),
        cleaning=[f"results/clean/{d}/{part}.cleaning.json" for d in DATASETS for part in dataset_parts(d)],
    output:
        multiext("results/report/tables/answer", ".csv", ".md", ".tex"),
        multiext("results/report/tables/dataset_statistics", ".csv", ".md", ".tex"),
        multiext("results/report/tables/summary", ".csv", ".md", ".tex"),
        multiext("results/report/tables/degenerate_runs", ".csv", ".md", ".tex"),
        multiext("results/report/tables/headline", ".csv", ".md", ".tex"),
        multiext("results/report/tables/runtime", ".csv", ".md", ".tex"),
        multiext("results/report/tables/negative_controls", ".csv", ".md", ".tex"),
        multiext("results/report/tables/novel_rows", ".csv", ".md", ".tex"),
        multiext("results/report/tables/seed_paper", ".csv", ".md", ".tex"),
        # one per dataset: only the families that dataset has
        expand("results/report/tables/seed_paper_{dataset}.{ext}", dataset=DATASETS, ext=["csv", "md", "tex"]),
        multiext("results/report/tables/vu_latent_auroc", ".csv", ".md", ".tex"),
        multiext("results/report/tables/vu_latent_hard_auc", ".csv", ".md", ".tex"),
        multiext("results/report/tables/unknown_attacks", ".csv", ".md", ".tex"),
        multiext("results/report/tables/leave_one_family_out", ".csv", ".md", ".tex"),
        multiext("results/report/tables/cross_dataset_auroc", ".csv", ".md", ".tex"),
        multiext("results/report/tables/cross_dataset_false_alarms", ".csv", ".md", ".tex"),
        multiext("results/report/tables/robustness", ".csv", ".md", ".tex"),
        multiext("results/report/tables/average_ranks", ".csv", ".md", ".tex"),
        multiext("results/report/tables/nemenyi", ".csv", ".md", ".tex"),
        **report_table_outputs(),
        friedman="results/report/tables/friedman.json",
        rank_png=report(
            "results/report/figures/average_ranks.png",
            caption="../report/average_ranks.rst",
            category="Comparison",
            labels={"figure": "average ranks (critical difference)"},
        ),
        rank_svg="results/report/figures/average_ranks.svg",
        cross_png=report(
            "results/report/figures/cross_dataset_auroc.png",
            caption="../report/cross_dataset.rst",
            category="Cross-dataset",
            labels={"figure": "cross-dataset AUROC"},
        ),
        cross_svg="results/report/figures/cross_dataset_auroc.svg",
        robust_png=report(
            "results/report/figures/robustness.png",
            caption="../report/robustness.rst",
            category="Robustness",
            labels={"figure": "hyperparameter sweeps"},
        ),
        robust_svg="results/report/figures/robustness.svg",
    log:
        "results/logs/report/report_tables.log",
    benchmark:
        "results/benchmarks/report_tables/all.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        rank_metric="auroc",
        datasets=DATASETS,
        # each model sweep's default value: the grid's runs join its line
        sweep_defaults=sweep_defaults(config["sweeps"], config["hyperparameters"]),
        # one block per dataset for the rank tests: its first test split (KDDTest+, not its subset KDDTest-21)
        primary_splits={dataset: test_splits(dataset)[0] for dataset in DATASETS},
        # datasets whose ± over seeds also covers the split draw (captions and table notes)
        resampled=RESAMPLED_DATASETS,
        # cross-dataset pairs where one dataset was built from the other (registry: derived_from)
        near_in_domain=[
            pair
            for pair in CROSS_PAIRS
            if REGISTRY.dataset(pair[1]).derived_from == pair[0] or REGISTRY.dataset(pair[0]).derived_from == pair[1]
        ],
    script:
        "../scripts/report_tables.py"


rule loss_distribution_figure:
    input:
        scores=f"results/runs/{{dataset}}/{{model}}/seed{SEEDS[0]}/scores.parquet",
        metrics=f"results/runs/{{dataset}}/{{model}}/seed{SEEDS[0]}/metrics.json",
    output:
        png=report(
            "results/report/figures/{dataset}/fig2_{model}.png",
            caption="../report/fig2_loss_distribution.rst",
            category="Seed paper Figure 2",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "model": "{model}"},
        ),
        svg="results/report/figures/{dataset}/fig2_{model}.svg",
    log:
        "results/logs/report/fig2/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/loss_distribution_figure/{dataset}/{model}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/loss_distribution_figure.py"


rule curves_figure:
    input:
        expand("results/runs/{{dataset}}/{model}/seed{seed}/scores.parquet", model=MODELS, seed=SEEDS[0]),
    output:
        png=report(
            "results/report/figures/{dataset}/curves_{split}.png",
            caption="../report/curves.rst",
            category="ROC and PR curves",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "test split": "{split}"},
        ),
        svg="results/report/figures/{dataset}/curves_{split}.svg",
    log:
        "results/logs/report/curves/{dataset}/{split}.log",
    benchmark:
        "results/benchmarks/curves_figure/{dataset}/{split}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=15,
    script:
        "../scripts/curves_figure.py"


rule preparation_sweeps:
    input:
        sweeps=preparation_sweep_outputs("lof") + preparation_sweep_outputs("dbscan"),
        # each sweep's default point: the stage's own run at the configured values
        defaults=[
            f"results/{stage}/{dataset}/summary.json"
            for stage in ("lof", "dbscan")
            for dataset in config["sweeps"][stage]["datasets"]
            if dataset in DATASETS
        ],
    output:
        multiext("results/report/tables/preparation_sweeps", ".csv", ".md", ".tex"),
        html=table_report("preparation_sweeps"),
        png=report(
            "results/report/figures/preparation_sweeps.png",
            caption="../report/preparation_sweeps.rst",
            category="Robustness",
            labels={"figure": "LOF and DBSCAN sweeps"},
        ),
        svg="results/report/figures/preparation_sweeps.svg",
    log:
        "results/logs/report/preparation_sweeps.log",
    benchmark:
        "results/benchmarks/preparation_sweeps/all.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/preparation_sweeps.py"


rule latent_figure:
    input:
        test=lambda wildcards: f"results/features/{view(wildcards.dataset, SEEDS[0])}/{test_splits(wildcards.dataset)[0]}.parquet",
        models=expand("results/runs/{{dataset}}/{model}/seed{seed}/model", model=["ae", "mae"], seed=SEEDS[0]),
    output:
        png=report(
            "results/report/figures/{dataset}/latent_codes.png",
            caption="../report/latent_codes.rst",
            category="Latent representations",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "AE vs MAE latent codes"},
        ),
        svg="results/report/figures/{dataset}/latent_codes.svg",
    log:
        "results/logs/report/latent/{dataset}.log",
    benchmark:
        "results/benchmarks/latent_figure/{dataset}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1  # a job needing both cores waits until no one-core job is queued: measured, it ran last
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/latent_figure.py"
