# MLflow: one experiment per config, one run per training job (sqlite under results/mlflow/ by
# default; a tracking server via mlflow.tracking_uri or $MLFLOW_TRACKING_URI). One logging job per
# dataset: importing MLflow costs seconds, which per training job would add minutes to a grid.


rule mlflow_experiment:
    output:
        "results/mlflow/experiment.json",
    log:
        "results/logs/mlflow_experiment.log",
    params:
        uri=MLFLOW_URI,
        experiment=config["mlflow"]["experiment"],
        config_hash=CONFIG_HASH,
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/mlflow_experiment.py"


rule track:
    input:
        experiment="results/mlflow/experiment.json",
        runs=lambda wildcards: expand("results/runs/{dataset}/{model}/seed{seed}/{file}", dataset=wildcards.dataset,
                                      model=tracked_models(wildcards.dataset), seed=SEEDS,
                                      file=["metrics.json", "history.json", "model"]),
    output:
        "results/mlflow/runs/{dataset}.json",
    log:
        "results/logs/track/{dataset}.log",
    params:
        jobs=lambda wildcards: [
            {"job": f"{wildcards.dataset}/{model}/seed{seed}",
             "run": f"results/runs/{wildcards.dataset}/{model}/seed{seed}",
             "params": {"dataset": wildcards.dataset, "model": model, "seed": seed,
                        "hyperparameters": model_params(model), "preprocessing": config["preprocessing"],
                        "split": config["split"], "features": config["features"],
                        "lof": config["lof"], "dbscan": config["dbscan"]},
             "tags": {"dataset": wildcards.dataset, "model": model, "seed": str(seed), "base_model": base_model(model),
                      "experiment_kind": "sweep" if model in SWEEP_VARIANTS else "grid",
                      "config_hash": CONFIG_HASH, "git_commit": GIT_COMMIT}}
            for model in tracked_models(wildcards.dataset) for seed in SEEDS
        ],
        uri=MLFLOW_URI,
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/track.py"
