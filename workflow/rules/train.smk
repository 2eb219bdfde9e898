# Train and evaluate: one job per (dataset, model, seed) on the preparation stage's matrices.


rule train:
    input:
        unpack(train_inputs),
    output:
        scores="results/runs/{dataset}/{model}/seed{seed}/scores.parquet",
        metrics="results/runs/{dataset}/{model}/seed{seed}/metrics.json",
        history="results/runs/{dataset}/{model}/seed{seed}/history.json",
        model=directory("results/runs/{dataset}/{model}/seed{seed}/model"),
    log:
        "results/logs/train/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}/seed{seed}.tsv"
    params:
        model=lambda wildcards: model_params(wildcards.model),
        tests=lambda wildcards: test_splits(wildcards.dataset),
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/train.py"
