# Train and evaluate: one job per (dataset, model) on the preparation stage's matrices, training
# every seed in turn (each from a reset Keras state; its outputs under seed<seed>/). One process
# per seed would pay TensorFlow's start-up once per seed (docs/measurements.md).


rule train:
    input:
        unpack(train_inputs),
    output:
        **run_outputs("results/runs/{dataset}/{model}"),
    log:
        "results/logs/train/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1  # measured: a second TF thread speeds these small networks by 0-20 %; two 1-thread jobs by ~100 %
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        seeds=SEEDS,
        model=lambda wildcards: model_params(wildcards.model),
        tests=lambda wildcards: test_splits(wildcards.dataset),
    script:
        "../scripts/train.py"
