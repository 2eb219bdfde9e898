"""Crash safety: the tiny-data workflow (kddcup99, deep_ae and pca, 2 seeds, MLflow, the report)
killed with SIGKILL (its whole process group: Snakemake and its jobs) at seeded-random moments spread
over download, parse, preparation, training, MLflow logging and the report, and resumed each time
with the README's one command (`make run`: python -m iotad.launch with the run's arguments). The
resumed run ends with the metrics, tables and MLflow runs of an uninterrupted run, and an intact
MLflow database.

Printed (even under pytest's capture): each kill point (planned rule, the rule the kill hit, its
delay after that rule's job started, and whether the job was still running) and "k/N kills survived"
(a kill is survived when the next run of the command starts from it without an error)."""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tiny_mirror import REPO, build_tiny_mirror, write_config

pytestmark = pytest.mark.workflow

SEED = 15
DATASET, MODELS, SEEDS = "kddcup99", ["deep_ae", "pca"], [0, 1]
# Wall-clock figures: they differ between any two runs, so they are left out of the comparison.
TIMING = {"fit_seconds", "predict_seconds", "records_per_second"}
TIMING_TABLES = {"runtime"}  # results/report/tables/runtime.*: fit seconds and records per second

# The kill plan, in the order a run reaches the stages: (stage, rules the kill may target). Each kill
# comes a seeded-random share (5-60 %) of a job's length in the reference run after that job starts
# (the first of the target rule's jobs to start), so that it lands inside the job on a slow machine or
# a fast one. "MLflow
# store": the first MLflow job while it builds the sqlite store (MLflow's log line "Creating initial
# MLflow database tables" starts the delay; the build takes about a second). MLflow logging: rule track.
PLAN = [
    ("download", ("download",)),
    ("download", ("download",)),
    ("MLflow store", ("mlflow_experiment",)),
    ("parse", ("parse",)),
    ("parse", ("parse",)),
    ("preparation", ("clean", "split", "fit_transform", "features", "lof", "dbscan", "model_input")),
    ("training", ("train",)),
    ("training", ("train",)),
    # after training, MLflow logging and the report's jobs start together
    ("MLflow logging", ("track",)),
    ("report", ("results_table", "curves_figure", "loss_distribution_figure")),
    ("MLflow logging", ("track",)),
    ("report", ("report_tables", "curves_figure", "loss_distribution_figure")),
]
SHARE = (0.05, 0.6)
STORE_SECONDS = 1.0
# Every rule by stage (for a kill whose planned rule has no job left in the resumed run).
STAGES = {
    "download": ["download"],
    "MLflow store": ["mlflow_experiment"],
    "parse": ["parse"],
    "preparation": [
        "clean",
        "cleaning_report",
        "eda",
        "eda_figures",
        "split",
        "split_report",
        "fit_transform",
        "features",
        "lof",
        "dbscan",
        "model_input",
        "preparation_tables",
    ],
    "training": ["train"],
    "MLflow logging": ["track"],
    "report": ["results_table", "report_tables", "curves_figure", "loss_distribution_figure", "preparation_sweeps"],
}
# The stages the kills must reach inside a running job (the list).
REQUIRED = {
    "download": {"download"},
    "parse": {"parse"},
    "training": {"train"},
    "MLflow": {"mlflow_experiment", "track"},
    "report": set(STAGES["report"]),
}
STORE_MARKER = "Creating initial MLflow database tables"
ATTEMPT_TIMEOUT = 600


def config(workdir: Path, tiny: Path) -> list[str]:
    """The quick variant cut to one dataset, two models, two seeds, MLflow and the report (no sweeps,
    cross-dataset pairs or leave-one-family-out): the launcher's arguments for it."""
    path = write_config(workdir, tiny)
    cfg = yaml.safe_load(path.read_text())
    cfg.update(datasets=[DATASET], models=MODELS, seeds=SEEDS, cross_dataset=[])
    cfg["leave_one_family_out"]["datasets"] = []
    for stage in ("lof", "dbscan"):
        cfg["sweeps"][stage]["datasets"] = []
    cfg["sweeps"].update(datasets=[], runs=[])
    cfg["mlflow"]["experiment"] = "iotad-crash"
    path.write_text(yaml.safe_dump(cfg))
    return ["-s", str(REPO / "Snakefile"), "-d", str(workdir), "--configfile", str(path), "--cores", "2"]


def env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("IOTAD_DATA_MIRROR", "MLFLOW_TRACKING_URI")}


def launch(args: list[str], log: Path) -> subprocess.Popen:
    """The README's command (what `make run` runs), in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "iotad.launch", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env(),
        start_new_session=True,
    )


# --- reading Snakemake's output ---------------------------------------------------------------

# A job's start: its rule, then indented lines with its jobid and its benchmark file.
START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):\n((?:    .*\n)+)", re.MULTILINE)
FIELD = re.compile(r"^    (jobid|benchmark): (.*)$", re.MULTILINE)
FINISH = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$", re.MULTILINE)
STATS = re.compile(r"^Job stats:\njob +count\n[- ]+\n((?:\S+ +\d+\n)+)total", re.MULTILINE)


def started(text: str) -> dict[int, tuple[str, str | None]]:
    """{jobid: (rule, benchmark file)} of the jobs started so far."""
    jobs = {}
    for rule, block in START.findall(text):
        fields = dict(FIELD.findall(block))
        if "jobid" in fields:
            jobs[int(fields["jobid"])] = (rule, fields.get("benchmark"))
    return jobs


def finished(text: str) -> set[int]:
    return {int(jobid) for jobid, _ in FINISH.findall(text)}


def pending_rules(text: str) -> list[str] | None:
    """The rules with jobs to run in this run (Snakemake's "Job stats"), or None before it printed them."""
    match = STATS.search(text)
    return [line.split()[0] for line in match.group(1).splitlines()] if match else None


@dataclass
class Kill:
    stage: str
    planned: str
    share: float
    delay: float = 0.0
    rule: str = ""  # the rule whose job start (or store creation) began the delay
    running: bool = False  # that job still running at the kill
    others: list[str] = field(default_factory=list)  # every rule with a job running at the kill
    note: str = ""
    reached: bool = True  # the run was still going at the kill's moment
    survived: bool | None = None

    def __str__(self):
        if not self.reached:
            return f"{self.stage:<15} {self.planned:<40} {self.note}"
        state = "job running" if self.running else "job already finished"
        hit = self.rule if self.rule == self.planned else f"{self.rule} (planned {self.planned})"
        return (
            f"{self.stage:<15} {hit:<40} +{self.delay:5.2f} s  {state:<21} running: {', '.join(self.others) or '-'}"
            f"{'  ' + self.note if self.note else ''}"
        )


def plan(rng: random.Random) -> list[Kill]:
    return [Kill(stage, rng.choice(rules), round(rng.uniform(*SHARE), 3)) for stage, rules in PLAN]


def seconds(reference: Path, benchmark: str) -> float:
    """How long the same job took in the reference run (its Snakemake benchmark file)."""
    return float(pd.read_csv(reference / benchmark, sep="\t")["s"].iloc[-1])


def target(kill: Kill, pending: list[str]) -> str:
    """The planned rule if it has jobs in this run, else the first pending rule of its stage or a later one."""
    if kill.planned in pending:
        return kill.planned
    stages = list(STAGES)
    for stage in stages[stages.index(kill.stage) :]:
        for rule in STAGES[stage]:
            if rule in pending:
                kill.note = f"{kill.planned} had no job left"
                return rule
    for rule in pending:  # any job at all (MLflow's first job runs beside the downloads)
        if rule != "all":
            kill.note = f"{kill.planned} had no job left"
            return rule
    raise AssertionError(f"nothing left to kill in: {pending}")


def kill_at(kill: Kill, args: list[str], log: Path, workdir: Path, reference: Path) -> int | None:
    """Run the command and SIGKILL its process group at ``kill``'s moment; its exit code if it ended first."""
    # the store's build as the moment only while there is none (a whole one is never built again)
    store = kill.stage == "MLflow store" and not (workdir / "results/mlflow/mlflow.db").exists()
    proc = launch(args, log)
    began, trigger = None, None
    deadline = time.time() + ATTEMPT_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            return proc.returncode
        text = log.read_text()
        if not kill.rule:
            pending = pending_rules(text)
            if pending is not None:
                kill.rule = target(kill, pending)
                store = store and kill.rule == "mlflow_experiment"
                if kill.stage == "MLflow store" and not store and kill.rule == "mlflow_experiment":
                    kill.note = "store already built: timed from the job's start"
        if kill.rule and began is None:
            jobs = [(jobid, bench) for jobid, (rule, bench) in started(text).items() if rule == kill.rule]
            if jobs and (not store or STORE_MARKER in text):
                began, (trigger, bench) = time.time(), jobs[0]
                kill.delay = round(kill.share * (STORE_SECONDS if store else seconds(reference, bench)), 2)
        if began is not None and time.time() >= began + kill.delay:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            jobs, done = started(text), finished(text)
            kill.running = trigger not in done
            kill.others = sorted({rule for jobid, (rule, _) in jobs.items() if jobid not in done})
            return None
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"no kill moment for {kill} within {ATTEMPT_TIMEOUT} s:\n{log.read_text()[-3000:]}")


# --- comparing two runs ----------------------------------------------------------------------


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def frame_without_timing(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[c for c in frame.columns if c in TIMING])
    if "metric" in frame.columns:
        frame = frame[~frame["metric"].isin(TIMING)]
    return frame.reset_index(drop=True)


def compared_files(results: Path) -> list[Path]:
    """Every result a run computes (json, csv, parquet, md, tex), without logs, benchmarks, the MLflow
    store (compared on its own) and temporary files; figures are drawn from these."""
    skip = ("logs", "benchmarks", "mlflow")
    files = []
    for path in results.rglob("*"):
        rel = path.relative_to(results)
        if (
            not path.is_file()
            or rel.parts[0] in skip
            or path.suffix not in (".json", ".csv", ".parquet", ".md", ".tex")
            or any(p.startswith(".") for p in rel.parts)
            or path.name.split(".")[0] in TIMING_TABLES
        ):
            continue
        files.append(rel)
    return sorted(files)


def differences(reference: Path, crashed: Path) -> list[str]:
    ours, theirs = compared_files(reference), compared_files(crashed)
    found = [f"only in the reference: {p}" for p in sorted(set(ours) - set(theirs))]
    found += [f"only in the crashed run: {p}" for p in sorted(set(theirs) - set(ours))]
    for rel in sorted(set(ours) & set(theirs)):
        a, b = reference / rel, crashed / rel
        if rel.suffix == ".json":
            same = without_timing(json.loads(a.read_text())) == without_timing(json.loads(b.read_text()))
        elif rel.suffix == ".csv" and not a.read_text().strip():  # an empty table
            same = not b.read_text().strip()
        elif rel.suffix in (".csv", ".parquet"):
            read = pd.read_csv if rel.suffix == ".csv" else pd.read_parquet
            left, right = frame_without_timing(read(a)), frame_without_timing(read(b))
            same = left.shape == right.shape and left.equals(right)
        else:
            same = a.read_text() == b.read_text()
        if not same:
            found.append(f"differs: {rel}")
    return found


def mlflow_state(db: Path) -> dict[str, dict]:
    """Per job: status, metrics (timing left out) and params of its active run; integrity checked."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"{db}: integrity_check failed"
        active = con.execute("SELECT run_uuid, status FROM runs WHERE lifecycle_stage = 'active'").fetchall()
        state: dict[str, dict] = {}
        for run, status in active:
            tags = dict(con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run,)).fetchall())
            job = tags.get("iotad.job", f"<untagged run {run}>")
            metrics = {
                k: v
                for k, v in con.execute("SELECT key, value FROM latest_metrics WHERE run_uuid = ?", (run,))
                if k.rsplit(".", 1)[-1] not in TIMING
            }
            params = dict(con.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run,)).fetchall())
            assert job not in state, f"{db}: two active runs of {job}"
            state[job] = {"status": status, "metrics": metrics, "params": params}
        return state
    finally:
        con.close()


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, mirror):
    return build_tiny_mirror(tmp_path_factory.mktemp("tiny"), mirror)


def test_killed_at_random_moments_the_resumed_run_matches_an_uninterrupted_one(tiny, tmp_path, capsys):
    began = time.time()
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    ref_args, args = config(reference, tiny), config(crashed, tiny)

    proc = launch(ref_args, tmp_path / "reference.log")
    assert proc.wait(timeout=1500) == 0, (tmp_path / "reference.log").read_text()[-3000:]
    reference_s = time.time() - began

    kills = plan(random.Random(SEED))
    errors, last = [], None  # the last kill that stopped a run
    for i, kill in enumerate(kills):
        rc = kill_at(kill, args, tmp_path / f"attempt{i}.log", crashed, reference)
        if last is not None:
            last.survived = rc in (None, 0)
        if rc is None:
            last = kill
            continue
        kill.reached, last = False, None
        if rc == 0:  # nothing left to kill: the run finished before this moment
            kill.note = "not reached: the run had finished"
            for rest in kills[i + 1 :]:
                rest.reached, rest.note = False, "not reached: the run had finished"
            break
        kill.note = f"not killed: the run exited {rc} first"
        errors.append(f"run {i + 1} exited {rc}:\n" + (tmp_path / f"attempt{i}.log").read_text()[-2500:])
    final = tmp_path / "final.log"
    proc = launch(args, final)
    rc = proc.wait(timeout=1500)
    if last is not None:
        last.survived = rc == 0
    if rc:
        errors.append(f"the last resume exited {rc}:\n{final.read_text()[-2500:]}")
    dry = subprocess.run(
        [sys.executable, "-m", "iotad.launch", *args, "-n"], capture_output=True, text=True, env=env(), check=False
    )

    leftovers = sorted(str(p.relative_to(crashed)) for p in (crashed / "results").rglob(".*.tmp"))
    reached = [k for k in kills if k.reached]
    survived = sum(bool(k.survived) for k in reached)
    with capsys.disabled():
        print(f"\ncrash test (seed {SEED}): kill points")
        for i, kill in enumerate(kills, 1):
            verdict = "survived" if kill.survived else "FAILED  " if kill.reached else "-       "
            print(f"  {i:2}. {verdict} {kill}")
        print(
            f"crash test: {survived}/{len(reached)} kills survived "
            f"(reference run {reference_s:.0f} s, whole test {time.time() - began:.0f} s)"
        )
        if leftovers:
            print(
                f"crash test: temporary files left by killed jobs: {len(leftovers)} ({', '.join(leftovers[:4])}"
                f"{' ...' if len(leftovers) > 4 else ''})"
            )

    assert not errors, "\n\n".join(errors)
    assert survived == len(reached) >= 10
    for stage, rules in REQUIRED.items():
        assert any(k.running and k.rule in rules for k in kills), f"no kill inside a running {stage} job"
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout + dry.stderr
    assert differences(reference / "results", crashed / "results") == []
    ref_runs, runs = (
        mlflow_state(reference / "results/mlflow/mlflow.db"),
        mlflow_state(crashed / "results/mlflow/mlflow.db"),
    )
    # per job a parent run and a child run per detector (these models have one, named as the model)
    jobs = sorted(
        [f"{DATASET}/{m}/seed{s}" for m in MODELS for s in SEEDS]
        + [f"{DATASET}/{m}/seed{s}/{m}" for m in MODELS for s in SEEDS]
    )
    assert sorted(ref_runs) == sorted(runs) == jobs
    assert {job: run["status"] for job, run in runs.items()} == dict.fromkeys(jobs, "FINISHED")
    for job in jobs:
        assert runs[job]["metrics"] == ref_runs[job]["metrics"], job
        assert runs[job]["params"] == ref_runs[job]["params"], job


BUILD = "import sys; from iotad import tracking; tracking.ensure_experiment(sys.argv[1], 'crash')"
OPEN_EACH = """import json, sys
from iotad import tracking
opened = {}
for uri in sys.argv[1:]:
    try:
        tracking.ensure_experiment(uri, "crash")
        opened[uri] = "ok"
    except Exception as exc:
        opened[uri] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
print(json.dumps(opened))
"""


def test_an_mlflow_store_killed_while_it_is_built_opens_on_the_next_run(tmp_path, capsys):
    """The first MLflow job builds the sqlite store (about a second of schema migrations). Killed at
    moments spread over that second, the next job must still open the store; the workflow test
    above meets this moment only by chance."""
    moments = [round(0.15 * k, 2) for k in range(8)]  # seconds after MLflow says it starts building
    uris = []
    for k, moment in enumerate(moments):
        db = tmp_path / f"store{k}" / "mlflow.db"
        db.parent.mkdir()
        uris.append(f"sqlite:///{db}")
        proc = subprocess.Popen(
            [sys.executable, "-c", BUILD, uris[-1]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for line in proc.stderr:
            if STORE_MARKER in line:
                break
        time.sleep(moment)
        proc.kill()
        proc.wait()
    result = subprocess.run(
        [sys.executable, "-c", OPEN_EACH, *uris], capture_output=True, text=True, env=env(), check=False, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    opened = json.loads(result.stdout.strip().splitlines()[-1])
    with capsys.disabled():
        print("\nMLflow store killed while built, then opened:")
        for moment, uri in zip(moments, uris):
            print(f"  +{moment:.2f} s: {opened[uri]}")
    assert all(outcome == "ok" for outcome in opened.values())
    for uri in uris:
        con = sqlite3.connect(uri.removeprefix("sqlite:///"))
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        con.close()
