# Cross-dataset ("intersect-dataset") tests: models trained on one dataset score another dataset
# with the same feature space, through the training side's fitted transform. Leave-one-family-out:
# models trained without one attack family meet it as an unknown attack in the test split.


rule cross_features:
    input:
        split="results/split/{test}/{split}.parquet",
        transform="results/features/{train}/transform.json",
    output:
        matrix="results/cross/{train}/{test}/features/{split}.parquet",
        report="results/cross/{train}/{test}/features/{split}.encoding.json",
    log:
        "results/logs/cross_features/{train}/{test}/{split}.log",
    benchmark:
        "results/benchmarks/cross_features/{train}/{test}/{split}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        cross=lambda wildcards: CROSS[parse_view(wildcards.train)[0], wildcards.test],
    script:
        "../scripts/features.py"


rule cross_evaluate:
    input:
        models=per_seed("results/runs/{train}/{model}/seed{seed}/model"),
        metrics=per_seed("results/runs/{train}/{model}/seed{seed}/metrics.json"),
        # each seed's model meets the test dataset through its own view's transform
        train=lambda wildcards: [f"results/model_input/{view(wildcards.train, s)}/train.parquet" for s in SEEDS],
        tests=lambda wildcards: [
            f"results/cross/{view(wildcards.train, s)}/{wildcards.test}/features/{split}.parquet"
            for s in SEEDS
            for split in test_splits(wildcards.test)
        ],
    output:
        scores=per_seed("results/cross/{train}/{test}/runs/{model}/seed{seed}/scores.parquet"),
        metrics=per_seed("results/cross/{train}/{test}/runs/{model}/seed{seed}/metrics.json"),
    log:
        "results/logs/cross_evaluate/{train}/{test}/{model}.log",
    benchmark:
        "results/benchmarks/cross_evaluate/{train}/{test}/{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1  # measured: a second TF thread speeds these small networks by 0-20 %; two 1-thread jobs by ~100 %
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seeds=SEEDS,
        tests=lambda wildcards: test_splits(wildcards.test),
    script:
        "../scripts/cross_evaluate.py"


rule train_lofo:
    input:
        unpack(lofo_train_inputs),
    output:
        **run_outputs("results/lofo/{dataset}/{model}/{family}", LOFO_SEEDS),
    log:
        "results/logs/train_lofo/{dataset}/{model}/{family}.log",
    benchmark:
        "results/benchmarks/train_lofo/{dataset}/{model}/{family}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1  # measured: a second TF thread speeds these small networks by 0-20 %; two 1-thread jobs by ~100 %
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        seeds=LOFO_SEEDS,
        model=lambda wildcards: model_params(wildcards.model),
        tests=lambda wildcards: test_splits(wildcards.dataset),
    script:
        "../scripts/train.py"
