# MLflow: one experiment per config, one run per training job (sqlite under results/mlflow/ by
# default; a tracking server via mlflow.tracking_uri or $MLFLOW_TRACKING_URI).


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
        metrics="results/runs/{dataset}/{model}/seed{seed}/metrics.json",
        history="results/runs/{dataset}/{model}/seed{seed}/history.json",
        model="results/runs/{dataset}/{model}/seed{seed}/model",
    output:
        "results/mlflow/runs/{dataset}/{model}/seed{seed}.json",
    log:
        "results/logs/track/{dataset}/{model}/seed{seed}.log",
    params:
        uri=MLFLOW_URI,
        params=lambda wildcards: {"dataset": wildcards.dataset, "model": wildcards.model, "seed": wildcards.seed,
                                  "hyperparameters": model_params(wildcards.model), "preprocessing": config["preprocessing"],
                                  "split": config["split"], "features": config["features"],
                                  "lof": config["lof"], "dbscan": config["dbscan"]},
        tags=lambda wildcards: {"dataset": wildcards.dataset, "model": wildcards.model, "seed": wildcards.seed,
                                "base_model": base_model(wildcards.model), "experiment_kind": "grid",
                                "config_hash": CONFIG_HASH, "git_commit": GIT_COMMIT},
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/track.py"
