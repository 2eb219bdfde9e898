# MLflow: one experiment per config; per training job a parent run and a child run per detector
# (sqlite under results/mlflow/ by default; a tracking server via mlflow.tracking_uri or
# $MLFLOW_TRACKING_URI). One logging job per training, leave-one-family-out and cross-dataset job, so
# that its runs appear when it finishes (each costs MLflow's import, a few seconds). See docs/mlflow.md.


rule mlflow_experiment:
    output:
        "results/mlflow/experiment.json",
    log:
        "results/logs/mlflow_experiment.log",
    benchmark:
        "results/benchmarks/mlflow_experiment/all.tsv"
    # the store first: every logging job waits on it, and each runs as soon as its job finishes
    priority: 100
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        uri=MLFLOW_URI,
        experiment=config["mlflow"]["experiment"],
        config_hash=CONFIG_HASH,
    script:
        "../scripts/mlflow_experiment.py"


rule track:
    input:
        experiment="results/mlflow/experiment.json",
        runs=track_inputs,
    output:
        "results/mlflow/runs/{unit}.json",
    log:
        "results/logs/track/{unit}.log",
    benchmark:
        "results/benchmarks/track/{unit}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        jobs=lambda wildcards: track_units()[wildcards.unit],
        uri=MLFLOW_URI,
        config_hash=CONFIG_HASH,  # with the checkout, which earlier runs a re-log may replace
    script:
        "../scripts/track.py"
