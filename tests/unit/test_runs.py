"""One training job (iotad.runs) on a real NSL-KDD slice: determinism by seed, subsampling, outputs."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from iotad.runs import Matrix, precomputed_lof_job, run_job, score_rows, subsample

pytestmark = pytest.mark.realdata

TIMES = ("fit_seconds", "predict_seconds", "records_per_second")


@pytest.fixture(scope="module")
def matrices(nsl_frames):
    transform, frames = nsl_frames
    ids = ["part", "record_id", "label", "family", "is_attack"]
    return [Matrix(transform.transform(f)[0], f.assign(part="train20")[ids].reset_index(drop=True)) for f in frames]


def job(matrices, model, params, seed):
    train, val, test = matrices
    return run_job(model, params, seed=seed, threads=2, train=train, val=val, tests={"test": test})


def without_times(document):
    """The metrics document minus wall-clock figures, which differ from run to run."""
    if isinstance(document, dict):
        return {k: without_times(v) for k, v in document.items() if k not in TIMES}
    if isinstance(document, list):
        return [without_times(v) for v in document]
    return document


@pytest.mark.parametrize(
    "model,params",
    [
        ("deep_ae", {"epochs": 4, "max_train_rows": 8000}),
        ("mdae", {"epochs": 2, "max_train_rows": 4000, "classifiers": ["perceptron"]}),
        ("isolation_forest", {"n_estimators": 20, "max_train_rows": 4000}),
    ],
)
def test_same_seed_same_metrics_other_seed_different(matrices, model, params):
    first, again, other = (job(matrices, model, params, seed) for seed in (1, 1, 2))
    assert without_times(first.metrics) == without_times(again.metrics)
    pd.testing.assert_frame_equal(first.scores, again.scores)
    assert not np.array_equal(first.scores["score"], other.scores["score"])
    name = next(iter(first.metrics["detectors"]))
    m = first.metrics["detectors"][name]["splits"]["test"]
    print(f"{model}: AUROC {m['auroc']:.3f}, accuracy {m['accuracy']:.3f}")
    assert m["auroc"] > 0.7 and m["records"] == len(matrices[2].rows)


def test_subsample_is_seeded_stratified_and_bounded(matrices):
    train = matrices[0]
    a, b, c = subsample(train, 3000, 0), subsample(train, 3000, 0), subsample(train, 3000, 1)
    assert len(a.rows) == 3000 and a.X.shape == (3000, train.X.shape[1])
    pd.testing.assert_frame_equal(a.rows, b.rows)
    assert not a.rows["record_id"].equals(c.rows["record_id"])
    share = train.rows["family"].value_counts(normalize=True)
    assert (a.rows["family"].value_counts(normalize=True).reindex(share.index, fill_value=0) - share).abs().max() < 0.01
    assert subsample(train, None, 0) is train


def test_distinct_rows_keep_the_first_of_each_feature_and_family_repeat(matrices):
    X = np.array([[0, 1], [0, 1], [0, 1], [1, 1], [1, 1], [0, 1]], dtype="float32")
    rows = pd.DataFrame({"record_id": range(6), "family": ["normal", "normal", "dos", "dos", "dos", "normal"]})
    distinct = subsample(Matrix(X, rows), None, 0, distinct=True)
    # same features, another family: kept (a label conflict is information, not a repeat)
    assert distinct.rows["record_id"].tolist() == [0, 2, 3]
    np.testing.assert_array_equal(distinct.X, X[[0, 2, 3]])
    # on real rows: the cap applies to the distinct rows, which hold no repeat
    train = matrices[0]
    capped = subsample(train, 3000, 0, distinct=True)
    assert len(capped.rows) == 3000
    assert not pd.DataFrame(capped.X).assign(f=capped.rows["family"].to_numpy()).duplicated().any()
    assert train.distinct is train.distinct  # computed once for all the seeds of a job
    first = train.take(np.arange(2000))
    document = job([train.take(np.r_[0:2000, 0:2000]), *matrices[1:]], "pca", {"distinct_rows": True}, 0).metrics
    distinct_count = len(first.distinct.rows)
    assert (document["train_rows_available"], document["train_rows_distinct"], document["train_rows"]) == (
        4000,
        distinct_count,
        distinct_count,
    )


class RowSumDetector:
    """Scores a row by its sum and remembers how many rows it was given."""

    threshold_ = 1.0

    def decision_function(self, X):
        self.rows_scored = len(X)
        return X.sum(axis=1).astype("float64")


def test_each_distinct_test_row_is_scored_once_and_every_row_gets_its_score():
    rng = np.random.default_rng(0)
    X = rng.random((50, 4)).astype("float32")[rng.integers(0, 50, 400)]
    rows = pd.DataFrame({"record_id": range(400)})
    detector = RowSumDetector()
    scores, families, scored = score_rows(detector, Matrix(X, rows))
    np.testing.assert_array_equal(scores, X.sum(axis=1))
    assert families is None
    assert scored == detector.rows_scored == len(np.unique(X, axis=0)) < 400
    distinct = X[:50][np.unique(X[:50], axis=0, return_index=True)[1]]  # nothing repeats: every row scored as is
    scores, _, _ = score_rows(detector, Matrix(distinct, rows.iloc[: len(distinct)]))
    assert detector.rows_scored == len(distinct)
    np.testing.assert_array_equal(scores, distinct.sum(axis=1))


def test_scoring_distinct_rows_gives_the_scores_of_scoring_every_row(matrices):
    """A network and a scikit-learn model on a test split where every row occurs twice."""
    train, val, test = matrices
    doubled = test.take(np.r_[0 : len(test.rows), 0 : len(test.rows)])
    for model, params in (("pca", {}), ("cnn_lstm", {"epochs": 1, "max_train_rows": 3000})):
        result = run_job(model, params, seed=0, threads=2, train=train, val=val, tests={"test": doubled})
        for name, detector in result.detectors.items():
            mine = result.scores.loc[result.scores["detector"] == name, "score"].to_numpy()
            np.testing.assert_allclose(mine, detector.decision_function(doubled.X), rtol=1e-6, atol=1e-9)
            split = result.metrics["detectors"][name]["splits"]["test"]
            assert split["distinct_records_scored"] <= len(test.rows)
            if model == "cnn_lstm":  # family predictions follow their rows too
                truth = doubled.labels("family")
                assert split["family_accuracy"] == pytest.approx(
                    accuracy_score(truth, detector.predict_family(doubled.X)), abs=1e-3
                )


def test_precomputed_lof_job_thresholds_at_the_outline_score():
    rows = pd.DataFrame(
        {
            "split": "test",
            "part": "test",
            "record_id": range(6),
            "label": ["normal"] * 3 + ["smurf"] * 3,
            "family": ["normal"] * 3 + ["dos"] * 3,
            "is_attack": [False] * 3 + [True] * 3,
            "lof_score": [1.0, 1.1, 3.0, 2.5, 4.0, 1.05],
            "lof_label": [1, 1, -1, -1, -1, 1],
        }
    )
    ids = rows[["part", "record_id", "label", "family", "is_attack"]]
    test = Matrix(np.arange(12, dtype="float32").reshape(6, 2), ids)
    train = Matrix(test.X[[0, 3]], ids.iloc[[0, 3]].reset_index(drop=True))  # rows 0 and 3 repeat training rows
    result = precomputed_lof_job(
        rows, {"n_neighbors": 20, "contamination": 0.1, "outline_score": 2.5}, train, {"test": test}
    )
    m = result.metrics["detectors"]["lof"]["splits"]["test"]
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 2)
    assert result.scores["prediction"].tolist() == [0, 0, 1, 1, 1, 0]
    assert m["overlap_records"] == 2 and m["novel"]["records"] == 4 and m["novel"]["attacks"] == 2


def test_overlap_and_novel_row_metrics_match_a_set_of_training_rows(matrices):
    """Half the test split made of training rows: the overlap count comes from Python tuples of the
    raw rows, the novel-row metrics from scikit-learn on the rows outside that set."""
    from sklearn.metrics import f1_score, roc_auc_score

    train, val, test = matrices
    mixed = Matrix(
        np.concatenate([test.X[:1500], train.X[:1500]]),
        pd.concat([test.rows[:1500], train.rows[:1500]], ignore_index=True),
    )
    result = run_job("pca", {}, seed=0, threads=2, train=train, val=val, tests={"test": mixed})
    m = result.metrics["detectors"]["pca"]["splits"]["test"]
    training_rows = set(map(tuple, train.X.tolist()))
    novel = np.array([tuple(row) not in training_rows for row in mixed.X.tolist()])
    assert m["overlap_records"] == int((~novel).sum()) >= 1500 and m["overlap_share"] == pytest.approx((~novel).mean())
    scores = result.scores["score"].to_numpy()
    y = mixed.rows["is_attack"].to_numpy(bool)
    assert m["novel"]["records"] == int(novel.sum())
    assert m["novel"]["auroc"] == pytest.approx(roc_auc_score(y[novel], scores[novel]))
    flagged = result.scores["prediction"].to_numpy(bool)
    assert m["novel"]["f1"] == pytest.approx(f1_score(y[novel], flagged[novel]))
    assert m["auroc"] == pytest.approx(roc_auc_score(y, scores))  # all rows, memorised ones included


def test_leave_one_family_out_view_ignores_the_held_out_familys_training_rows(nsl_frames):
    """Changing the held-out family's training rows (values and count) leaves the view's split, its
    transform, the fitted model and its scores on the other families bit-identical."""
    from iotad.features import FeatureTransform
    from iotad.registry import load_registry
    from iotad.split import split_dataset

    spec = load_registry().dataset("nsl-kdd")  # official test file: the test split is given
    _, (train, val, test) = nsl_frames
    base = pd.concat([train, val])
    probe = base["family"] == "probe"
    altered = pd.concat([base[~probe], base[probe].iloc[::3].assign(src_bytes=123456789, service="ftp")])
    scores = []
    for frame in (base, altered):
        splits = split_dataset(
            {"train": frame, "test": test, "test21": test[:50]}, spec, seed=0, val_size=0.1, exclude_family="probe"
        )
        assert not (splits["train"]["family"] == "probe").any() and not (splits["val"]["family"] == "probe").any()
        transform = FeatureTransform.fit(splits["train"])
        ids = ["part", "record_id", "label", "family", "is_attack"]
        m = {k: Matrix(transform.transform(f)[0], f[ids].reset_index(drop=True)) for k, f in splits.items()}
        result = run_job(
            "deep_ae",
            {"epochs": 2, "max_train_rows": 3000, "distinct_rows": True},
            seed=0,
            threads=2,
            train=m["train"],
            val=m["val"],
            tests={"test": m["test"]},
            exclude_family="probe",
        )
        scores.append(result.scores[result.scores["family"] != "probe"].reset_index(drop=True))
    pd.testing.assert_frame_equal(scores[0], scores[1], check_exact=True)


def test_a_leave_one_family_out_job_refuses_training_rows_of_its_family(matrices):
    train, val, test = matrices
    with pytest.raises(ValueError, match="held-out family 'probe' occurs in the training rows"):
        run_job("pca", {}, seed=0, threads=2, train=train, val=val, tests={"test": test}, exclude_family="probe")


FRESH_PROCESS_JOB = """
import pickle, sys
from iotad.runs import run_job
train, val, test, model, params, seed = pickle.load(open(sys.argv[1], "rb"))
run_job(model, params, seed=seed, threads=2, train=train, val=val, tests={"test": test}).scores.to_parquet(sys.argv[2])
"""


def test_seed_after_seed_in_one_process_equals_a_fresh_process(matrices, tmp_path):
    """Training jobs loop over seeds in one process: each seed's result must not depend on the seeds before it."""
    import pickle
    import subprocess
    import sys

    from iotad.models.keras_setup import reset_state

    for model, params in (
        ("deep_ae", {"epochs": 3, "max_train_rows": 6000}),
        ("mdae", {"epochs": 2, "max_train_rows": 4000, "classifiers": ["perceptron"]}),
    ):
        job(matrices, model, params, seed=3)
        reset_state()
        in_loop = job(matrices, model, params, seed=4).scores
        reset_state()
        pickle.dump((*matrices, model, params, 4), open(tmp_path / "job.pkl", "wb"))
        subprocess.run(
            [sys.executable, "-c", FRESH_PROCESS_JOB, str(tmp_path / "job.pkl"), str(tmp_path / "fresh.parquet")],
            check=True,
        )
        pd.testing.assert_frame_equal(in_loop, pd.read_parquet(tmp_path / "fresh.parquet"))


def test_a_run_scoring_every_record_alike_is_flagged_degenerate(matrices):
    """Two test splits scored by PCA: one of two distinct rows (two scores: fine), one of a single
    repeated row labelled normal and attack (one score for all: degenerate)."""
    from iotad.runs import degenerate_reasons

    train, val, test = matrices
    normal, attack = int(np.flatnonzero(~test.labels("binary"))[0]), int(np.flatnonzero(test.labels("binary"))[0])
    two = test.take(np.r_[[normal] * 50, [attack] * 50])
    one = test.take([normal] * 60 + [attack] * 40)
    one = Matrix(np.repeat(test.X[[normal]], 100, axis=0), one.rows)  # attack rows with a normal row's features
    result = run_job("pca", {}, seed=0, threads=2, train=train, val=val, tests={"two": two, "one": one})
    assert result.metrics["detectors"]["pca"]["degenerate"] == ["constant score on one"]
    # the other criteria, on hand-made inputs
    frame = pd.DataFrame({"split": "test", "score": [0.1, 0.2]})
    assert degenerate_reasons({"test": {"false_alarm_rate": 1.0}}, [frame], {}, None) == [
        "every normal record flagged on test"
    ]
    stuck = {"val_accuracy": [0.253, 0.253, 0.253]}
    assert degenerate_reasons({"test": {"false_alarm_rate": 0.2}}, [frame], stuck, 0.2531) == [
        "validation accuracy constant at the majority family's share (0.253)"
    ]
    assert degenerate_reasons({"test": {"false_alarm_rate": 0.2}}, [frame], {"val_accuracy": [0.25, 0.6]}, 0.25) == []
    assert degenerate_reasons({"test": {"false_alarm_rate": 0.2}}, [frame], {"val_accuracy": [1.0, 1.0]}, 1.0) == []


def test_a_cross_dataset_run_is_checked_for_degeneracy_on_its_own_splits():
    from iotad.runs import cross_job

    class Constant:  # a fitted detector that scores every record alike
        threshold_ = 0.5

        def decision_function(self, X):
            return np.full(len(X), 0.7)

    rows = pd.DataFrame(
        {
            "part": "test",
            "record_id": range(4),
            "label": ["normal", "normal", "smurf", "smurf"],
            "family": ["normal", "normal", "dos", "dos"],
            "is_attack": [False, False, True, True],
        }
    )
    test = Matrix(np.arange(8, dtype="float32").reshape(4, 2), rows)
    trained = {"model": "pca", "seed": 0, "detectors": {"pca": {"fit_seconds": 1.0, "degenerate": []}}}
    result = cross_job({"pca": Constant()}, trained, {"test": test}, {"normal", "smurf"})
    assert result.metrics["detectors"]["pca"]["degenerate"] == [
        "constant score on test",
        "every normal record flagged on test",
    ]


@pytest.mark.parametrize(
    ("model", "keep_attacks", "message"),
    [
        (
            "raw",
            False,
            "raw:linear_svc: the training rows are all normal: the linear_svc classifier needs normal and attack rows",
        ),
        ("ae", True, "ae:linear_svc: the training rows are all attacks"),
        ("deep_ae", True, "deep_ae: no normal rows to train on"),
    ],
)
def test_a_training_split_with_one_class_names_the_job_and_detector(matrices, model, keep_attacks, message):
    train, val, test = matrices
    one_class = train.take(np.flatnonzero(train.rows["is_attack"].to_numpy(bool) == keep_attacks)[:500])
    with pytest.raises(ValueError, match=f"^nsl-kdd/{model}/seed3: {message}"):
        run_job(
            model,
            {"epochs": 1} if model != "raw" else {},
            seed=3,
            threads=2,
            train=one_class,
            val=val,
            tests={"test": test},
            dataset="nsl-kdd",
        )


def test_a_latent_job_fits_one_encoder_per_seed_for_its_classifiers(matrices, tmp_path):
    """The job trains one encoder and hands it, fitted, to every classifier of the model (not one
    encoder per classifier); saved, it is written once."""
    from iotad.models import save_detectors

    result = job(matrices, "mae", {"epochs": 1, "max_train_rows": 3000, "classifiers": ["perceptron", "linear_svc"]}, 0)
    first, second = result.detectors.values()
    assert first.encoder_ is second.encoder_
    assert first.encoder_.estimator.history_ == result.histories["mae:perceptron"]
    save_detectors(result.detectors, tmp_path)
    assert len(list(tmp_path.glob("*.keras"))) == 2  # the training network and its encoder, once


def test_a_detector_without_random_steps_is_fitted_once_for_seeds_on_the_same_rows(matrices, monkeypatch):
    """ECOD takes no random step: seeds that train on the same rows (an official test split, no
    subsample) share one fit and its scores, and each seed's outputs equal a job of that seed alone.
    KNN on a seeded subsample of the normal rows is fitted once per seed."""
    from pyod.models.ecod import ECOD
    from pyod.models.knn import KNN

    from iotad.runs import run_jobs

    fits = []
    for cls in (ECOD, KNN):
        monkeypatch.setattr(
            cls, "fit", lambda self, X, y=None, _fit=cls.fit: (fits.append(type(self).__name__), _fit(self, X, y))[1]
        )
    train, val, test = matrices
    views = [(train, val, {"test": test})] * 3

    def run(name, params, seeds):
        fits.clear()
        return list(run_jobs(name, params, seeds=seeds, threads=1, views=views[: len(seeds)]))

    ecod = {"model": "pyod", "class": "ECOD"}
    together = run("ecod", ecod, [0, 1, 2])
    assert fits == ["ECOD"]
    alone = run("ecod", ecod, [2])[0]
    pd.testing.assert_frame_equal(together[2].scores, alone.scores)
    assert together[2].metrics["detectors"]["ecod"].pop("fit_of_seed") == 0
    assert without_times(together[2].metrics) == without_times(alone.metrics)
    assert together[2].metrics["seed"] == 2 and together[2].detectors["ecod"].seed == 2

    # Scoring another dataset: the seeds sharing seed 0's fit take its scores there too; seed 2's
    # cross-dataset result equals a job scoring seed 2 alone.
    from iotad.runs import cross_job

    together = run("ecod", ecod, [0, 1, 2])
    scored = []
    monkeypatch.setattr(
        ECOD, "decision_function", lambda self, X, _f=ECOD.decision_function: (scored.append(len(X)), _f(self, X))[1]
    )
    shared, crossed = {}, []
    for result in together:
        crossed.append(cross_job(result.detectors, result.metrics, {"test": test}, {"normal"}, None, train, "", shared))
    assert len(scored) == 1
    lone = cross_job(together[2].detectors, together[2].metrics, {"test": test}, {"normal"}, None, train)
    pd.testing.assert_frame_equal(crossed[2].scores, lone.scores)
    assert without_times(crossed[2].metrics) == without_times(lone.metrics)

    run("knn", {"model": "pyod", "class": "KNN", "max_normal_rows": 1000}, [0, 1])
    assert fits == ["KNN", "KNN"]
