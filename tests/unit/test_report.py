"""Tidy results table, report tables, statistics and figures on hand-made metrics documents."""

import json

import numpy as np
import pandas as pd
import pytest

from iotad import figures, report
from iotad.results import COLUMNS, collect, tidy_job


def document(dataset, model, seed, auroc, detectors=None):
    detection = [{"level": "family", "name": "dos", "rate": 0.8, "unseen_in_training": False},
                 {"level": "label", "name": "apache2", "rate": 0.5, "unseen_in_training": True}]
    split = {"unseen_attack_records": 4, "unseen_attack_detection_rate": 0.5, "seen_attack_detection_rate": 0.9,
             "accuracy": auroc - 0.1, "precision": 0.9, "recall": 0.8, "f1": 0.85, "auroc": auroc, "auprc": 0.9,
             "hard_auc": 0.8, "false_alarm_rate": 0.05, "tp": 8, "detection": detection}
    return {"dataset": dataset, "model": model, "seed": seed,
            "detectors": {name: {"fit_seconds": 1.0, "n_params": 10, "threshold": 0.5, "epochs": 3, "splits": {"test": split}}
                          for name in (detectors or [model])}}


@pytest.fixture
def tidy(tmp_path):
    paths = []
    for d, dataset in enumerate(["a", "b", "c"]):
        for m, model in enumerate(["deep_ae", "pca", "lof"]):
            for seed in (0, 1):
                path = tmp_path / f"{dataset}-{model}-{seed}.json"
                path.write_text(json.dumps(document(dataset, model, seed, 0.6 + 0.1 * m + 0.01 * d + 0.001 * seed)))
                paths.append(path)
        path = tmp_path / f"{dataset}-mae.json"
        path.write_text(json.dumps(document(dataset, "mae", 0, 0.9, ["mae:perceptron", "mae:linear_svc"])))
        paths.append(path)
    return collect(paths)


def test_tidy_rows_are_every_scalar_and_rate(tidy):
    one = tidy_job(document("a", "pca", 0, 0.7))
    assert one.columns.tolist() == COLUMNS
    # 4 fit figures + 12 scalars + 2 detection rates + 1 unseen-label rate
    assert len(one) == 19 and set(one["split"]) == {"train", "test"}
    assert one.loc[one["metric"] == "detection_rate", "group"].tolist() == ["dos"]
    assert one.loc[one["metric"] == "unseen_label_detection_rate", "group"].tolist() == ["apache2"]
    assert set(tidy.loc[tidy["model"] == "mae", "classifier"]) == {"perceptron", "linear_svc"}


def test_summary_shows_mean_and_std_over_seeds(tidy):
    summary = report.summary_table(tidy).set_index(["dataset", "detector"])
    assert summary.loc[("a", "pca"), "auroc"] == f"{np.mean([0.7, 0.701]):.4f} ± {np.std([0.7, 0.701], ddof=1):.4f}"
    assert summary.loc[("a", "pca"), "seeds"] == 2 and summary.loc[("a", "mae:perceptron"), "seeds"] == 1


def test_ranks_friedman_and_wilcoxon(tidy):
    average, friedman, pairwise = report.rank_tests(tidy)
    assert average.set_index("detector")["average_rank"].to_dict() == {
        "mae:linear_svc": 1.5, "mae:perceptron": 1.5, "lof": 3.0, "pca": 4.0, "deep_ae": 5.0}
    assert friedman["blocks"] == 3 and friedman["detectors"] == 5 and 0 < friedman["p_value"] < 0.05
    assert len(pairwise) == 10 and (pairwise["p_adjusted_bh"] >= pairwise["p_value"]).all()


def test_tables_and_figures_are_written(tidy, tmp_path):
    report.write_table(report.vu_table(tidy), tmp_path / "vu")
    vu = pd.read_csv(tmp_path / "vu.csv")
    assert vu["mae"].tolist() == [0.9] * 6 and "\\begin{tabular}" in (tmp_path / "vu.tex").read_text()
    unknown = report.unknown_attack_table(tidy).set_index(["dataset", "detector"])
    assert unknown.loc[("a", "pca"), "unseen_attack_detection_rate"] == "0.5000 ± 0.0000"
    assert unknown.loc[("a", "pca"), "unseen_attack_records"] == "4"
    seed = report.seed_paper_table(tidy)
    assert seed["detector"].unique().tolist() == ["deep_ae"] and "DR dos" in seed.columns
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({"detector": np.repeat(["x", "y"], 200), "is_attack": np.tile(np.arange(200) % 2 == 0, 2),
                           "score": rng.random(400)})
    scores["prediction"] = (scores["score"] > 0.5).astype("int8")
    figures.curves_figure(scores, "t", tmp_path / "c.png", tmp_path / "c.svg")
    figures.loss_distribution_figure(scores[scores["detector"] == "x"], 0.5, "t", tmp_path / "f.png", tmp_path / "f.svg")
    figures.rank_figure(report.rank_tests(tidy)[0], "auroc", tmp_path / "r.png", tmp_path / "r.svg")
    for name in ("c", "f", "r"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (tmp_path / f"{name}.svg").read_bytes()[:500]


def test_cross_dataset_matrix_sits_beside_the_own_dataset_result(tidy, tmp_path):
    cross = tidy_job({**document("a", "pca", 0, 0.55), "test_dataset": "b"}, experiment="cross", test_dataset="b")
    table = report.cross_dataset_table(pd.concat([tidy, cross])).set_index("detector")
    assert table.loc["pca", "a -> b test"] == pytest.approx(0.55)
    assert table.loc["pca", "a -> a test"] == pytest.approx(np.mean([0.7, 0.701]))
    figures.heatmap_figure(table.reset_index(), "detector", "AUROC", tmp_path / "h.png", tmp_path / "h.svg")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert report.cross_dataset_table(tidy).empty


def test_robustness_keeps_the_config_order_of_values(tmp_path):
    from iotad.config import sweep_variants

    runs = [{"model": "mae", "parameter": "code", "values": [30, 5]},
            {"model": "mae", "parameter": "layer_options.dropout", "values": [0.4]}]
    variants = sweep_variants({"runs": runs}, {"mae": {"epochs": 3}})
    assert variants["mae__code_30"] == {"epochs": 3, "model": "mae", "code": 30,
                                        "sweep": {"model": "mae", "parameter": "code", "value": 30}}
    assert variants["mae__layer_options_dropout_0p4"]["layer_options"] == {"dropout": 0.4}
    docs = []
    for name, params in variants.items():
        for seed, auroc in ((0, 0.8), (1, 0.9)):
            doc = document("a", name, seed, auroc, [f"{name}:perceptron"])
            docs.append(tidy_job({**doc, "base_model": "mae", "sweep": params["sweep"]}, experiment="sweep"))
    tidy = pd.concat(docs)
    table = report.robustness_table(tidy)
    assert table["value"].tolist() == ["30", "5", "0.4"] and table["parameter"].tolist() == ["code", "code", "layer_options.dropout"]
    assert table["auroc"].tolist() == pytest.approx([0.85] * 3) and (table["seeds"] == 2).all()
    assert set(table["detector"]) == {"mae:perceptron"}  # one line across the variants
    figures.robustness_figure(tidy, "auroc", "test", tmp_path / "r.png", tmp_path / "r.svg")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_preparation_sweep_table_names_the_changed_parameter(tmp_path):
    lof = {"dataset": "d", "n_neighbors": 10, "contamination": 0.1, "outline_score": 1.5, "swept": "n_neighbors",
           "score_auroc": {"train": 0.6, "test": 0.7}, "splits": {"train": {"overall": {"percent": 10.0}}}}
    dbscan = {"dataset": "d", "eps": 0.25, "min_samples": 5, "clusters": 7, "swept": "eps",
              "splits": {"train": {"overall": {"percent": 3.5}}}}
    table = report.preparation_sweep_table([lof, dbscan])
    assert table[["stage", "parameter", "value", "train_outlier_percent"]].values.tolist() == [
        ["lof", "n_neighbors", 10, 10.0], ["dbscan", "eps", 0.25, 3.5]]
    assert table.loc[0, "auroc_test"] == 0.7 and "auroc_train" not in table.columns
    figures.preparation_sweep_figure(table, tmp_path / "p.png", tmp_path / "p.svg")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_lofo_table_compares_held_out_with_trained_on_all(tidy):
    doc = {**document("a", "mae", 0, 0.7, ["mae:perceptron"]), "excluded_family": "dos"}
    doc["detectors"]["mae:perceptron"]["splits"]["test"]["detection"][0]["rate"] = 0.25
    lofo = tidy_job(doc, experiment="lofo")
    assert set(lofo["setting"]) == {"held_out_family"}
    # A grid seed the held-out runs lack (rate 0.4) stays out of the comparison.
    other_seed = document("a", "mae", 1, 0.9, ["mae:perceptron"])
    other_seed["detectors"]["mae:perceptron"]["splits"]["test"]["detection"][0]["rate"] = 0.4
    table = report.lofo_table(pd.concat([tidy, tidy_job(other_seed), lofo])).set_index(["dataset", "detector", "family"])
    assert table.loc[("a", "mae:perceptron", "dos"), "held_out"] == "0.2500"
    assert table.loc[("a", "mae:perceptron", "dos"), "trained_on_all"] == "0.8000"
    assert report.lofo_table(tidy).empty


def test_latent_figure_projects_each_representations_codes(tmp_path):
    rng = np.random.default_rng(0)
    attack = rng.random(300) < 0.4
    codes = {"ae": rng.random((300, 15)), "mae": rng.random((300, 15)) + attack[:, None]}
    figures.latent_figure(codes, attack, "t", tmp_path / "l.png", tmp_path / "l.svg", max_points=200)
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (tmp_path / "l.svg").read_bytes()[:500]
