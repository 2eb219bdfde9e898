"""MLflow tracking: one experiment per config (named by ``mlflow.experiment``); per training job and
checkout one parent run, and under it one child run per detector (a latent model's four classifiers:
four children), so that every model's runs share the metric keys (``test.auroc``, ``test21.f1``,
``test.novel.auroc``, ...) and one sort or chart compares them. See docs/mlflow.md.

A child carries the tags ``dataset``, ``test_dataset``, ``model``, ``base_model``, ``detector``,
``representation`` (a latent model's code, or ``input`` for a detector on the features themselves),
``classifier``, ``seed`` and ``experiment_kind`` (grid, sweep, lofo, cross); the parent the same but
the detector's three. Params (parent and children): the resolved hyperparameters (the config's values
over the detector's defaults), this dataset's preprocessing, split, features, LOF and DBSCAN settings.
The parent has the loss curves (once per trained network), the job's files and, where it can score new
rows, the fitted detectors as an MLflow Model (``mlflow.pyfunc.load_model``: one score column per
detector). Cross-dataset evaluations are runs too (``experiment_kind`` cross).

The store defaults to sqlite under ``results/mlflow/`` with artifacts beside it (MLflow 3 refuses its
old file store), addressed as ``mlflow-artifacts:/<experiment>/...``: relative to the store, which
moves as one directory and is served by ``mlflow ui|server --artifacts-destination <store>/artifacts``
(``make mlflow-ui``). ``MLFLOW_TRACKING_URI`` or ``mlflow.tracking_uri`` in the config point at a
tracking server instead. Parallel jobs write to one sqlite file: writes that find the database locked
are retried. The experiment is tagged ``mlflow.experimentKind`` = ``custom_model_development`` (a
machine-learning experiment, not a GenAI one): what MLflow's UI reads where its workflow switch is off.
MLflow 3.17's UI goes by that switch alone (the link's ``workflowType``, else the browser's last choice,
else GenAI): links in docs/mlflow.md carry ``workflowType=machine_learning``.

A run carries who logged it: ``iotad.job`` (dataset/model/seed..., a child's with ``/<detector>``),
``iotad.checkout`` and ``iotad.config_hash``; a child also ``iotad.parent_job``. Logging a job again
deletes, once the new runs are finished, only the earlier runs (parent and children) of this job with
the checkout and config equal (a run half-logged by a killed job included); runs of other checkouts or
configs, and runs without these tags, are never deleted or changed. A checkout is a working directory:
its identity is made once and kept in ``results/mlflow/checkout-id`` (host and path where it was made,
and a random part), since on a cluster its tracking jobs run on any node and two machines may share a
path.

So the default UI view shows one parent run per job for each (checkout, config) in the experiment: one per
job when a checkout re-runs its config; one per job and checkout when checkouts share an experiment;
and after a config changes but keeps ``mlflow.experiment``, the earlier config's runs beside the new
ones (not this config's to delete). The experiment keeps the configured name (one per config hash
would split a benchmark over experiments at every edit): a changed config gets its own name, or the
view is filtered on the two tags (their values are in ``results/mlflow/experiment.json``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

JOB_TAG, CHECKOUT_TAG, CONFIG_TAG = "iotad.job", "iotad.checkout", "iotad.config_hash"
PARENT_JOB_TAG = "iotad.parent_job"  # a child run's job (its own iotad.job adds the detector)
PARENT_RUN_TAG = "mlflow.parentRunId"  # what makes a run a child in MLflow (the UI nests it)
# The experiment's type for the UI: a machine-learning experiment (runs table), not a GenAI one (traces).
# MLflow 3.17's UI reads it only with its workflow switch off (server/js: the experiment kind comes from
# the URL's workflowType, else localStorage mlflow.workflowType_v1, else "genai"; the switch is on).
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"
MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH = 1000, 100
SCORES_MAX_BYTES = 2_000_000  # a job's scores.parquet is attached up to this size (larger ones stay in results/)
IGNORED_FILES = (".snakemake_timestamp",)  # Snakemake's marker in a directory output: not an artifact


def tracking_uri(configured: str | None, workdir: str | Path) -> str:
    """``MLFLOW_TRACKING_URI``, else the config's URI, else sqlite in ``<workdir>/results/mlflow``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri:
        return uri
    db = Path(workdir).resolve() / "results" / "mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def artifact_root(uri: str, experiment: str) -> str | None:
    """A new experiment's artifacts beside a local sqlite store, addressed relative to the store
    (``mlflow-artifacts:/<experiment>``, the layout of ``mlflow server --artifacts-destination
    <store>/artifacts``); a tracking server chooses its own."""
    if uri.startswith("sqlite:"):
        return f"mlflow-artifacts:/{urllib.parse.quote(experiment, safe='')}"
    return None


def local_artifacts(uri: str, artifact_uri: str) -> Path | None:
    """The directory holding a run's (or experiment's) ``mlflow-artifacts:`` artifacts of a local
    sqlite store: ``<store>/artifacts/<path>``; None for other stores (the client writes those)."""
    if uri.startswith("sqlite:///") and artifact_uri.startswith("mlflow-artifacts:"):
        store = Path(uri.removeprefix("sqlite:///")).parent
        return store / "artifacts" / urllib.parse.urlparse(artifact_uri).path.lstrip("/")
    return None


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def checkout_id(workdir: str | Path) -> str:
    """This working directory's identity in a shared tracking store, made once (by whichever process
    comes first: os.link never replaces a file) and read by every later job, on any node."""
    path = Path(workdir).resolve() / "results" / "mlflow" / "checkout-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".checkout-id.{uuid.uuid4().hex}")
        draft.write_text(f"{socket.gethostname()}:{Path(workdir).resolve()}#{uuid.uuid4().hex[:12]}\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def git_commit(directory: str | Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def retrying(action, *, attempts: int = 30, what: str = "MLflow call"):
    """Run ``action()``, retrying while sqlite reports the database locked (parallel jobs)."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as exc:  # MlflowException wraps sqlalchemy's OperationalError
            if "locked" not in str(exc).lower() or attempt == attempts - 1:
                raise
            delay = min(5.0, 0.1 * 2**attempt) * (0.5 + random.random())
            log.info("%s: database locked, retrying in %.1f s", what, delay)
            time.sleep(delay)


def whole_sqlite_store(uri: str) -> None:
    """Create a new local sqlite store whole: MLflow's schema migrations, killed midway, leave a store
    that every later open fails on. Built as a draft beside it, under a lock, then renamed into place."""
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if path.exists():
        return
    import fcntl

    from mlflow.tracking import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():  # another job built it while this one waited
            return
        draft = path.with_name(f".{path.name}.draft")
        for leftover in (draft, *(draft.with_name(draft.name + s) for s in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        MlflowClient(tracking_uri=f"sqlite:///{draft}").search_experiments()  # runs the migrations
        os.replace(draft, path)


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    whole_sqlite_store(uri)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(uri: str, name: str, artifact_location: str | None = None) -> str:
    """The experiment's id, creating it if needed (another process may create it at the same time)."""
    client = client_for(uri)

    def get_or_create():
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except Exception as exc:
            if "already exists" in str(exc).lower() or "unique constraint" in str(exc).lower():
                return client.get_experiment_by_name(name).experiment_id
            raise

    experiment_id = retrying(get_or_create, what="create experiment")
    if client.get_experiment(experiment_id).tags.get(KIND_TAG) != KIND:
        retrying(lambda: client.set_experiment_tag(experiment_id, KIND_TAG, KIND), what="tag experiment")
    return experiment_id


def flatten(tree, prefix: str = "") -> dict:
    """{'a.b.c': leaf} for nested dicts (lists kept as JSON text)."""
    flat = {}
    for key, value in (tree or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return flat


def detector_metrics(entry: dict) -> dict[str, float]:
    """One detector's scalar metrics under keys every model shares: ``<split>.<metric>`` (``test.auroc``,
    ``test.novel.auroc``), the fit figures by name (``fit_seconds``, ``epochs``) and the per-family
    detection rates as ``<split>.detection.<family>``. Undefined values (null) are left out: an empty
    cell, never a NaN column. Per-label rates stay in metrics.json (hundreds of keys)."""
    from .results import detector_values

    flat = {}
    for split, metric, group, value in detector_values(entry):
        if math.isnan(value):
            continue
        if split == "train":
            flat[metric] = value
        elif not group:
            flat[f"{split}.{metric}"] = value
        elif metric.endswith("detection_rate") and not metric.endswith("label_detection_rate"):
            section = metric.removesuffix("detection_rate")  # "" or "novel."
            flat[f"{split}.{section}detection.{group}"] = value
    return flat


def detector_tags(detector: str, base_model: str) -> dict[str, str]:
    """``mae:linear_svc`` -> representation mae (the latent code; a variant's too), classifier
    linear_svc; a detector on the features themselves (``deep_ae``) -> input, its model."""
    name, latent, classifier = detector.partition(":")
    if latent:
        return {"detector": detector, "representation": base_model, "classifier": classifier}
    return {"detector": detector, "representation": "input", "classifier": base_model}


def network_histories(histories: dict[str, dict[str, list[float]]]) -> tuple[dict, dict]:
    """(the job's curves, {detector: its own curves}): detectors sharing one network (a latent model's
    classifiers on one encoder) record the same curves, logged once on the parent; a job whose
    detectors trained different networks logs each on its child."""
    distinct = {json.dumps(h, sort_keys=True) for h in histories.values() if any(h.values())}
    if len(distinct) <= 1:
        return (json.loads(distinct.pop()) if distinct else {}), {}
    return {}, {name: h for name, h in histories.items() if any(h.values())}


def resolved_hyperparameters(model: str, configured: dict | None) -> dict:
    """What config model ``model`` trains with: the config's values over the detector's declared
    defaults (a latent model's are its encoder's; a PyOD class's its signature's; a representation's
    latent weight and centres the paper's values that None stands for)."""
    from .models import JOB_OPTIONS, PRECOMPUTED, build_detectors, resolved_hyperparameter

    configured = dict(configured or {})
    options = {k: configured.pop(k) for k in JOB_OPTIONS if k in configured}
    base = configured.get("model", model)
    if base in PRECOMPUTED:  # its settings are the config's lof section (params lof.*)
        return {k: v for k, v in configured.items() if k != "model"} | options
    detectors = build_detectors(model, configured, seed=0, threads=None)
    first = next(iter(detectors.values()))
    if hasattr(first, "encoder"):
        values = first.encoder.get_params(deep=False)
        values["classifiers"] = [d.classifier for d in detectors.values()]
    else:
        values = first.get_params(deep=False)
    if "options" in values and "detector" in values:  # a PyOD class
        import inspect

        from .models.pyod_models import pyod_class

        options_of = values.pop("options") or {}
        values["class"] = values.pop("detector")
        signature = inspect.signature(pyod_class(values["class"])).parameters
        defaults = {k: p.default for k, p in signature.items() if p.default is not inspect.Parameter.empty}
        defaults = {k: v for k, v in defaults.items() if k not in ("random_state", "n_jobs")}  # the job's seed, threads
        values |= defaults | options_of
    for key in ("latent_weight", "centres"):
        if key in values and values[key] is None:
            values[key] = resolved_hyperparameter(model, {model: configured}, key)
    for key in ("seed", "threads", "representation", "variant"):  # tags, or how it runs, not what
        values.pop(key, None)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()} | options


def job_params(params: dict, model: str) -> dict:
    """A tracked job's params, flat: the resolved hyperparameters and only this dataset's preprocessing
    (the global settings with its overrides applied, not the other datasets' overrides)."""
    from dataclasses import asdict

    from .config import cleaning_options

    params = dict(params)
    try:
        params["hyperparameters"] = resolved_hyperparameters(model, params.get("hyperparameters"))
    except Exception as exc:  # a model this version cannot build: the config's values, as configured
        log.warning("%s: hyperparameters not resolved (%s); the config's values logged", model, exc)
    if isinstance(params.get("preprocessing"), dict):
        options = asdict(cleaning_options(params["preprocessing"], params["dataset"]))
        params["preprocessing"] = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    return flatten(params)


def degenerate_tag(metrics: dict) -> dict[str, str]:
    """{"degenerate": "<detector>: <reasons>; ..."} for a job with degenerate detectors, else {}: a
    filter in the MLflow UI (tags.degenerate) finds the runs the report sets apart."""
    flagged = [
        f"{name}: {', '.join(entry['degenerate'])}"
        for name, entry in metrics["detectors"].items()
        if entry.get("degenerate")
    ]
    return {"degenerate": "; ".join(flagged)} if flagged else {}


def _metric_entries(metrics: dict[str, float], histories: dict[str, list[float]], now: int) -> list:
    from mlflow.entities import Metric

    entries = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v]  # NaN (undefined) left out
    for key, values in histories.items():
        entries += [Metric(key, float(v), now, step) for step, v in enumerate(values)]
    return entries


def _log_values(client, run_id: str, params: dict, entries: list) -> None:
    """Params and metrics in as few calls as MLflow's batch limits allow (one for most runs)."""
    from mlflow.entities import Param

    params = [Param(k, str(v)[:6000]) for k, v in params.items()]
    while params or entries:
        batch_params, params = params[:MAX_PARAMS_PER_BATCH], params[MAX_PARAMS_PER_BATCH:]
        room = MAX_METRICS_PER_BATCH - len(batch_params)
        batch_metrics, entries = entries[:room], entries[room:]
        retrying(
            lambda p=batch_params, m=batch_metrics: client.log_batch(run_id, metrics=m, params=p), what="log values"
        )


def _stage(artifacts, model: str | Path | None, directory: Path) -> None:
    """Copy the artifacts into ``directory`` (without Snakemake's markers); the model directory as an
    MLflow Model under ``model/``."""
    ignore = shutil.ignore_patterns(*IGNORED_FILES)
    for path in map(Path, artifacts):
        if path.is_dir():
            shutil.copytree(path, directory / path.name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, directory / path.name)
    if model is not None:
        import mlflow.pyfunc

        with tempfile.TemporaryDirectory() as raw:
            data = Path(raw) / "detectors"
            shutil.copytree(model, data, ignore=ignore)
            mlflow.pyfunc.save_model(
                path=str(directory / "model"),
                loader_module=__name__,  # _load_pyfunc below: iotad must be importable where it loads
                data_path=str(data),
                pip_requirements=[],  # no inference (it loads the model in a subprocess): iotad's lock applies
            )


def _upload(client, uri: str, run, staged: Path) -> None:
    local = local_artifacts(uri, run.info.artifact_uri)
    if local is not None:  # a local sqlite store's proxied artifacts: written where the server serves them
        shutil.copytree(staged, local, dirs_exist_ok=True)
    elif any(staged.iterdir()):
        retrying(lambda: client.log_artifacts(run.info.run_id, str(staged)), what="log artifacts")


def log_job(
    uri: str,
    experiment_id: str,
    job: str,
    *,
    checkout: str,
    config: str,
    tags: dict,
    params: dict,
    metrics: dict[str, float] | None = None,
    histories: dict[str, list[float]] | None = None,
    children: dict[str, dict] | None = None,
    artifacts: list[str | Path] = (),
    model: str | Path | None = None,
    run_name: str | None = None,
    times: tuple[int, int] | None = None,
) -> dict:
    """One parent run for one job and a child run per entry of ``children`` ({name: {"tags", "metrics",
    "histories", "times"}}, each with the parent's params), replacing the earlier runs (parents and
    children) of this job, checkout and config. ``histories``: the job's curves, one step per epoch.
    ``times``: (start, end) in ms. Returns {"run_id": parent, "children": {name: run id}}."""
    client = client_for(uri)
    identity = {JOB_TAG: job, CHECKOUT_TAG: checkout, CONFIG_TAG: config}

    # Searched by job only (a path in a filter string would need quoting), matched on all three here.
    def earlier_runs():
        found = []
        for tag in (JOB_TAG, PARENT_JOB_TAG):  # the parents, then the children
            runs = retrying(
                lambda tag=tag: client.search_runs([experiment_id], filter_string=f"tags.`{tag}` = '{job}'"),
                what="search runs",
            )
            found += [
                r.info.run_id
                for r in runs
                if r.data.tags.get(tag) == job
                and all(r.data.tags.get(k) == identity[k] for k in (CHECKOUT_TAG, CONFIG_TAG))
            ]
        return found

    earlier = earlier_runs()
    now = int(time.time() * 1000)
    start, end = times or (now, now)
    parent = retrying(
        lambda: client.create_run(
            experiment_id, start_time=start, tags={**tags, **identity}, run_name=run_name or job.replace("/", " ")
        ),
        what="create run",
    )
    parent_id = parent.info.run_id
    _log_values(client, parent_id, params, _metric_entries(metrics or {}, histories or {}, end))
    with tempfile.TemporaryDirectory() as staged:
        _stage(artifacts, model, Path(staged))
        _upload(client, uri, parent, Path(staged))
    child_ids = {}
    for name, child in (children or {}).items():
        child_start, child_end = child.get("times") or (start, end)
        run = retrying(
            lambda name=name, child=child, child_start=child_start: client.create_run(
                experiment_id,
                start_time=child_start,
                tags={
                    **tags,
                    **child.get("tags", {}),
                    **identity,
                    JOB_TAG: f"{job}/{name}",
                    PARENT_JOB_TAG: job,
                    PARENT_RUN_TAG: parent_id,
                },
                run_name=child.get("run_name") or name,
            ),
            what="create child run",
        )
        child_ids[name] = run.info.run_id
        entries = _metric_entries(child.get("metrics", {}), child.get("histories", {}), child_end)
        _log_values(client, run.info.run_id, params, entries)
        retrying(lambda r=run.info.run_id, e=child_end: client.set_terminated(r, end_time=e), what="finish run")
    retrying(lambda: client.set_terminated(parent_id, end_time=end), what="finish run")
    for old in earlier:  # only now: a re-log that fails leaves the earlier runs in view
        retrying(lambda old=old: client.delete_run(old), what="delete earlier run")
    return {"run_id": parent_id, "children": child_ids}


def log_training_job(uri: str, experiment_id: str, entry: dict, *, checkout: str, config: str) -> dict:
    """Log one tracked job (an entry of workflow/rules tracked_jobs: job, run directory, params, tags)
    from its run directory: metrics.json, and where present history.json, model/ and scores.parquet."""
    run = Path(entry["run"])
    document = json.loads((run / "metrics.json").read_text())
    history_file = run / "history.json"
    histories = json.loads(history_file.read_text()) if history_file.exists() else {}
    tags = {k: str(v) for k, v in entry["tags"].items()}
    tags.setdefault("test_dataset", tags.get("dataset", ""))
    base_model = tags.get("base_model") or document.get("base_model") or document["model"]
    shared, own = network_histories(histories)
    end = int((run / "metrics.json").stat().st_mtime * 1000)
    children = {}
    for name, detector in document["detectors"].items():
        fit = detector.get("fit_seconds") if isinstance(detector.get("fit_seconds"), (int, float)) else 0
        children[name] = {
            "tags": detector_tags(name, base_model) | degenerate_tag({"detectors": {name: detector}}),
            "metrics": detector_metrics(detector),
            "histories": own.get(name, {}),
            "times": (end - int(1000 * fit), end),
            "run_name": f"{name} seed{document.get('seed', tags.get('seed'))}"
            + (f" on {tags['test_dataset']}" if tags.get("experiment_kind") == "cross" else ""),
        }
    longest = max((c["times"][1] - c["times"][0] for c in children.values()), default=0)
    job_figures = {
        k: float(v)
        for k, v in document.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("seed",)
    }
    artifacts = [run / "metrics.json", history_file]
    scores = run / "scores.parquet"
    if scores.exists() and scores.stat().st_size <= SCORES_MAX_BYTES:
        artifacts.append(scores)
    from .models import PRECOMPUTED

    model = run / "model"
    scorable = model.is_dir() and (model / "detectors.pkl").exists() and base_model not in PRECOMPUTED
    if model.is_dir() and not scorable:
        artifacts.append(model)  # kept as files (LOF's scores come from the canonicalization stage)
    return log_job(
        uri,
        experiment_id,
        entry["job"],
        checkout=checkout,
        config=config,
        tags=tags | degenerate_tag(document),
        params=job_params(entry["params"], tags.get("model", document["model"])),
        metrics=job_figures,
        histories=shared,
        children=children,
        artifacts=artifacts,
        model=model if scorable else None,
        times=(end - longest, end),
    )


class DetectorScores:
    """A fitted job's detectors as an MLflow pyfunc model: ``predict(rows)`` gives one anomaly-score
    column per detector (higher = more anomalous) for rows of the job's feature matrix (the model
    input's feature columns, in order)."""

    def __init__(self, detectors: dict):
        self.detectors = detectors

    def predict(self, model_input, params=None):
        import numpy as np
        import pandas as pd

        X = np.asarray(model_input, dtype="float32")
        index = getattr(model_input, "index", None)
        return pd.DataFrame(
            {name: np.asarray(d.decision_function(X), dtype=float) for name, d in self.detectors.items()}, index=index
        )


def _load_pyfunc(data_path: str) -> DetectorScores:
    """MLflow's loader of the ``model`` artifact (``loader_module`` iotad.tracking)."""
    from .models import load_detectors

    return DetectorScores(load_detectors(data_path))
