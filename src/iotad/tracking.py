"""MLflow tracking: one experiment per config (named by ``mlflow.experiment``), one run per training
job and checkout.

The store defaults to sqlite under ``results/mlflow/`` with artifacts beside it (MLflow 3 refuses its
old file store); ``MLFLOW_TRACKING_URI`` or ``mlflow.tracking_uri`` in the config point at a tracking
server instead. Parallel jobs write to one sqlite file: writes that find the database locked are retried.

A run carries who logged it: ``iotad.job`` (dataset/model/seed...), ``iotad.checkout`` and
``iotad.config_hash``. Logging a job again deletes, once the new run is finished, only the earlier runs
with all three equal (a run half-logged by a killed job included); runs of other checkouts or configs,
and runs without these tags, are never deleted or changed. A checkout is a working directory: its
identity is made once and kept in ``results/mlflow/checkout-id`` (host and path where it was made, and
a random part), since on a cluster its tracking jobs run on any node and two machines may share a path.

So the default UI view shows one run per job for each (checkout, config) in the experiment: one per
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
import socket
import subprocess
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

JOB_TAG, CHECKOUT_TAG, CONFIG_TAG = "iotad.job", "iotad.checkout", "iotad.config_hash"
MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH = 1000, 100


def tracking_uri(configured: str | None, workdir: str | Path) -> str:
    """``MLFLOW_TRACKING_URI``, else the config's URI, else sqlite in ``<workdir>/results/mlflow``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri:
        return uri
    db = Path(workdir).resolve() / "results" / "mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def artifact_root(uri: str, workdir: str | Path) -> str | None:
    """Artifacts beside a local sqlite store; a tracking server keeps its own."""
    if uri.startswith("sqlite:"):
        return (Path(workdir).resolve() / "results" / "mlflow" / "artifacts").as_uri()
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

    return retrying(get_or_create, what="create experiment")


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


def job_metrics(metrics: dict) -> dict[str, float]:
    """Scalar metrics of a job document as ``<detector>.<split>.<metric>`` plus fit figures, and
    the per-family detection rates as ``<detector>.<split>.detection.<family>`` (the tidy table's
    values, under MLflow metric names)."""
    from .results import detector_values

    flat = {}
    for detector, entry in metrics["detectors"].items():
        for split, metric, group, value in detector_values(entry):
            if math.isnan(value):  # undefined (null in the document): absent, an empty cell in the UI
                continue
            if metric == "detection_rate":
                flat[f"{detector}.{split}.detection.{group}"] = value
            elif not group:
                flat[f"{detector}.{metric}" if split == "train" else f"{detector}.{split}.{metric}"] = value
    return flat


def degenerate_tag(metrics: dict) -> dict[str, str]:
    """{"degenerate": "<detector>: <reasons>; ..."} for a job with degenerate detectors, else {}: a
    filter in the MLflow UI (tags.degenerate) finds the runs the report sets apart."""
    flagged = [
        f"{name}: {', '.join(entry['degenerate'])}"
        for name, entry in metrics["detectors"].items()
        if entry.get("degenerate")
    ]
    return {"degenerate": "; ".join(flagged)} if flagged else {}


def log_job(
    uri: str,
    experiment_id: str,
    job: str,
    *,
    checkout: str,
    config: str,
    tags: dict,
    params: dict,
    metrics: dict[str, float],
    histories: dict[str, dict[str, list[float]]],
    artifacts: list[str | Path],
) -> str:
    """One run for one job, replacing the earlier runs of this job, checkout and config; returns its id."""
    from mlflow.entities import Metric, Param

    client = client_for(uri)
    identity = {JOB_TAG: job, CHECKOUT_TAG: checkout, CONFIG_TAG: config}
    # Searched by job only (a path in a filter string would need quoting), matched on all three here.
    found = retrying(
        lambda: client.search_runs([experiment_id], filter_string=f"tags.`{JOB_TAG}` = '{job}'"), what="search runs"
    )
    earlier = [r.info.run_id for r in found if all(r.data.tags.get(k) == v for k, v in identity.items())]
    run = retrying(
        lambda: client.create_run(experiment_id, tags={**tags, **identity}, run_name=job.replace("/", " ")),
        what="create run",
    )
    run_id, now = run.info.run_id, int(time.time() * 1000)
    entries = [Metric(k, v, now, 0) for k, v in metrics.items() if v == v]  # NaN (undefined) left out
    for detector, history in histories.items():
        for key, values in history.items():
            entries += [Metric(f"{detector}.history.{key}", float(v), now, step) for step, v in enumerate(values)]
    param_list = [Param(k, str(v)[:6000]) for k, v in params.items()]
    for i in range(0, len(param_list), MAX_PARAMS_PER_BATCH):
        retrying(
            lambda i=i: client.log_batch(run_id, params=param_list[i : i + MAX_PARAMS_PER_BATCH]), what="log params"
        )
    for i in range(0, len(entries), MAX_METRICS_PER_BATCH):
        retrying(
            lambda i=i: client.log_batch(run_id, metrics=entries[i : i + MAX_METRICS_PER_BATCH]), what="log metrics"
        )
    for path in map(Path, artifacts):
        if path.is_dir():
            retrying(lambda p=path: client.log_artifacts(run_id, str(p), artifact_path=p.name), what="log artifacts")
        else:
            retrying(lambda p=path: client.log_artifact(run_id, str(p)), what="log artifact")
    retrying(lambda: client.set_terminated(run_id), what="finish run")
    for old in earlier:  # only now: a re-log that fails leaves the earlier run in view
        retrying(lambda old=old: client.delete_run(old), what="delete earlier run")
    return run_id
