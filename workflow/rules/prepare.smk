# Clean parts -> splits -> encoded, scaled feature matrices -> LOF canonicalization and DBSCAN
# normalization reports.


rule split:
    input:
        clean_parts,
    output:
        "results/split/{dataset}/{split}.parquet",
    log:
        "results/logs/split/{dataset}/{split}.log",
    benchmark:
        "results/benchmarks/split/{dataset}/{split}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        split=config["split"],
        view=lambda wildcards: dict(zip(("dataset", "seed", "exclude_family"), parse_view(wildcards.dataset))),
    script:
        "../scripts/split.py"


# Per split: rows, attacks, families and how many rows repeat a training feature vector.
rule split_report:
    input:
        split_files,
    output:
        "results/split/{dataset}/report.json",
    log:
        "results/logs/split_report/{dataset}.log",
    benchmark:
        "results/benchmarks/split_report/{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        split=config["split"],
        dataset=lambda wildcards: parse_view(wildcards.dataset)[0],
    script:
        "../scripts/split_report.py"


rule fit_transform:
    input:
        "results/split/{dataset}/train.parquet",
    output:
        "results/features/{dataset}/transform.json",
    log:
        "results/logs/fit_transform/{dataset}.log",
    benchmark:
        "results/benchmarks/fit_transform/{dataset}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        scaler=config["features"]["scaler"],
    script:
        "../scripts/fit_transform.py"


rule features:
    input:
        split="results/split/{dataset}/{split}.parquet",
        transform="results/features/{dataset}/transform.json",
    output:
        matrix="results/features/{dataset}/{split}.parquet",
        report="results/features/{dataset}/{split}.encoding.json",
    log:
        "results/logs/features/{dataset}/{split}.log",
    benchmark:
        "results/benchmarks/features/{dataset}/{split}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/features.py"


rule lof:
    input:
        feature_splits,
    output:
        scores="results/lof/{dataset}/scores.parquet",
        summary="results/lof/{dataset}/summary.json",
    log:
        "results/logs/lof/{dataset}.log",
    benchmark:
        "results/benchmarks/lof/{dataset}.tsv"
    priority: 10  # the longest preparation jobs: start them first
    conda:
        "../../envs/models.yaml"
    threads: 1  # a job needing both cores waits until no one-core job is queued: measured, it ran last
    resources:
        mem_mb=2500,
        runtime=30,
    params:
        lof=config["lof"],
    script:
        "../scripts/lof.py"


rule dbscan:
    input:
        "results/features/{dataset}/train.parquet",
    output:
        labels="results/dbscan/{dataset}/labels.parquet",
        summary="results/dbscan/{dataset}/summary.json",
    log:
        "results/logs/dbscan/{dataset}.log",
    benchmark:
        "results/benchmarks/dbscan/{dataset}.tsv"
    priority: 10  # the longest preparation jobs: start them first
    conda:
        "../../envs/models.yaml"
    threads: 1  # a job needing both cores waits until no one-core job is queued: measured, it ran last
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dbscan=config["dbscan"],
    script:
        "../scripts/dbscan.py"


rule preparation_tables:
    input:
        lof=expand("results/lof/{dataset}/summary.json", dataset=DATASETS),
        dbscan=expand("results/dbscan/{dataset}/summary.json", dataset=DATASETS),
    output:
        lof_csv="results/reports/lof_summary.csv",
        lof_md="results/reports/lof_summary.md",
        dbscan_csv="results/reports/dbscan_noise.csv",
        dbscan_md="results/reports/dbscan_noise.md",
    log:
        "results/logs/preparation_tables.log",
    benchmark:
        "results/benchmarks/preparation_tables/all.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/preparation_tables.py"


rule model_input:
    input:
        unpack(model_input_sources),
    output:
        matrix="results/model_input/{dataset}/train.parquet",
        report="results/model_input/{dataset}/train.json",
    log:
        "results/logs/model_input/{dataset}.log",
    benchmark:
        "results/benchmarks/model_input/{dataset}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        drop_outliers=config["lof"]["drop_training_outliers"],
        drop_noise=config["dbscan"]["drop_training_noise"],
    script:
        "../scripts/model_input.py"


# Robustness of the preparation stage: LOF and DBSCAN with one parameter changed at a time.
rule lof_sweep:
    input:
        feature_splits,
    output:
        scores=temp("results/sweeps/lof/{dataset}/{parameter}_{value}/scores.parquet"),
        summary="results/sweeps/lof/{dataset}/{parameter}_{value}/summary.json",
    log:
        "results/logs/lof_sweep/{dataset}/{parameter}_{value}.log",
    benchmark:
        "results/benchmarks/lof_sweep/{dataset}/{parameter}_{value}.tsv"
    wildcard_constraints:
        parameter="n_neighbors|contamination",
        value=r"[0-9.]+",
    conda:
        "../../envs/models.yaml"
    threads: 1  # a job needing both cores waits until no one-core job is queued: measured, it ran last
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        lof=lambda wildcards: swept(config["lof"], wildcards),
    script:
        "../scripts/lof.py"


rule dbscan_sweep:
    input:
        "results/features/{dataset}/train.parquet",
    output:
        labels=temp("results/sweeps/dbscan/{dataset}/{parameter}_{value}/labels.parquet"),
        summary="results/sweeps/dbscan/{dataset}/{parameter}_{value}/summary.json",
    log:
        "results/logs/dbscan_sweep/{dataset}/{parameter}_{value}.log",
    benchmark:
        "results/benchmarks/dbscan_sweep/{dataset}/{parameter}_{value}.tsv"
    wildcard_constraints:
        parameter="eps|min_samples",
        value=r"[0-9.]+",
    conda:
        "../../envs/models.yaml"
    threads: 1  # a job needing both cores waits until no one-core job is queued: measured, it ran last
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dbscan=lambda wildcards: swept(config["dbscan"], wildcards),
    script:
        "../scripts/dbscan.py"
