# Cross-dataset ("intersect-dataset") tests: models trained on one dataset score another dataset
# with the same feature space, through the training side's fitted transform.


rule cross_features:
    input:
        split="results/split/{test}/{split}.parquet",
        transform="results/features/{train}/transform.json",
    output:
        matrix="results/cross/{train}/{test}/features/{split}.parquet",
        report="results/cross/{train}/{test}/features/{split}.encoding.json",
    log:
        "results/logs/cross_features/{train}/{test}/{split}.log",
    resources:
        mem_mb=3000,
        runtime=15,
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/features.py"


rule cross_evaluate:
    input:
        model="results/runs/{train}/{model}/seed{seed}/model",
        metrics="results/runs/{train}/{model}/seed{seed}/metrics.json",
        train="results/model_input/{train}/train.parquet",
        tests=lambda wildcards: expand("results/cross/{train}/{test}/features/{split}.parquet", train=wildcards.train,
                                       test=wildcards.test, split=test_splits(wildcards.test)),
    output:
        scores="results/cross/{train}/{test}/runs/{model}/seed{seed}/scores.parquet",
        metrics="results/cross/{train}/{test}/runs/{model}/seed{seed}/metrics.json",
    log:
        "results/logs/cross_evaluate/{train}/{test}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/cross_evaluate/{train}/{test}/{model}/seed{seed}.tsv"
    params:
        tests=lambda wildcards: test_splits(wildcards.test),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/cross_evaluate.py"
