"""Tidy results table, report tables, statistics and figures on hand-made metrics documents."""

import json

import numpy as np
import pandas as pd
import pytest

from iotad import figures, report
from iotad.results import COLUMNS, collect, tidy_job


def document(dataset, model, seed, auroc, detectors=None):
    detection = [
        {"level": "family", "name": "dos", "rate": 0.8, "unseen_in_training": False},
        {"level": "label", "name": "apache2", "rate": 0.5, "unseen_in_training": True},
    ]
    split = {
        "unseen_attack_records": 4,
        "unseen_attack_detection_rate": 0.5,
        "seen_attack_detection_rate": 0.9,
        "accuracy": auroc - 0.1,
        "precision": 0.9,
        "recall": 0.8,
        "f1": 0.85,
        "auroc": auroc,
        "auprc": 0.9,
        "hard_auc": 0.8,
        "false_alarm_rate": 0.05,
        "tp": 8,
        "detection": detection,
    }
    return {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "detectors": {
            name: {"fit_seconds": 1.0, "n_params": 10, "threshold": 0.5, "epochs": 3, "splits": {"test": split}}
            for name in (detectors or [model])
        },
    }


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


def test_ranks_friedman_and_nemenyi(tidy):
    average, friedman, nemenyi = report.rank_tests(tidy)
    # LOF (fitted on every training row, attacks included) is a preparation statistic: never ranked
    assert average.set_index("detector")["average_rank"].to_dict() == {
        "mae:linear_svc": 1.5,
        "mae:perceptron": 1.5,
        "pca": 3.0,
        "deep_ae": 4.0,
    }
    assert friedman["preparation_statistics"] == ["lof"]
    assert friedman["blocks"] == 3 and friedman["detectors"] == 4 and 0 < friedman["p_value"] < 0.05
    assert nemenyi.shape == (4, 4) and list(nemenyi.index) == list(average["detector"])


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
    scores = pd.DataFrame(
        {
            "detector": np.repeat(["x", "y"], 200),
            "is_attack": np.tile(np.arange(200) % 2 == 0, 2),
            "score": rng.random(400),
        }
    )
    scores["prediction"] = (scores["score"] > 0.5).astype("int8")
    figures.curves_figure(scores, "t", tmp_path / "c.png", tmp_path / "c.svg")
    figures.loss_distribution_figure(
        scores[scores["detector"] == "x"], 0.5, "t", tmp_path / "f.png", tmp_path / "f.svg"
    )
    figures.rank_figure(*report.rank_tests(tidy), "auroc", tmp_path / "r.png", tmp_path / "r.svg")
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


def test_robustness_orders_numeric_values(tmp_path):
    from iotad.config import sweep_variants

    runs = [
        {"model": "mae", "parameter": "code", "values": [30, 5]},
        {"model": "mae", "parameter": "layer_options.dropout", "values": [0.4]},
    ]
    variants = sweep_variants({"runs": runs}, {"mae": {"epochs": 3}})
    assert variants["mae__code_30"] == {
        "epochs": 3,
        "model": "mae",
        "code": 30,
        "sweep": {"model": "mae", "parameter": "code", "value": 30},
    }
    assert variants["mae__layer_options_dropout_0p4"]["layer_options"] == {"dropout": 0.4}
    docs = []
    for name, params in variants.items():
        for seed, auroc in ((0, 0.8), (1, 0.9)):
            doc = document("a", name, seed, auroc, [f"{name}:perceptron"])
            docs.append(tidy_job({**doc, "base_model": "mae", "sweep": params["sweep"]}, experiment="sweep"))
    tidy = pd.concat(docs)
    table = report.robustness_table(tidy)
    assert table["value"].tolist() == ["5", "30", "0.4"] and table["parameter"].tolist() == [
        "code",
        "code",
        "layer_options.dropout",
    ]
    assert table["mean"].tolist() == pytest.approx([0.85] * 3) and (table["seeds"] == 2).all()
    assert set(table["detector"]) == {"mae:perceptron"} and set(table["metric"]) == {
        "auroc"
    }  # one line across the variants


def test_sweeps_join_the_grid_runs_at_the_default_and_thresholds_show_what_they_trade(tmp_path):
    """The swept model's grid runs are each sweep's default point (so a two-value sweep has three
    points, in value order); a threshold sweep plots detection rate, false-alarm rate and F1, which a
    threshold moves, instead of AUROC, which it cannot."""
    from iotad.config import sweep_defaults, sweep_variants

    hyperparameters = {"mvae": {"epochs": 3}, "deep_ae": {"percentile": 99}}
    sweeps = {
        "runs": [
            {"model": "mvae", "parameter": "latent_weight", "values": [10.0, 0.1]},
            {"model": "deep_ae", "parameter": "percentile", "values": [95.0, 99.9]},
        ]
    }
    defaults = sweep_defaults(sweeps, hyperparameters)
    assert defaults == [
        {"model": "mvae", "parameter": "latent_weight", "value": 1000.0},  # the paper's, declared in latent.py
        {"model": "deep_ae", "parameter": "percentile", "value": 99},
    ]
    docs = []
    for name, params in {**sweep_variants(sweeps, hyperparameters), "mvae": {}, "deep_ae": {}}.items():
        base = params.get("model", name)
        value = params.get("sweep", {}).get("value", 1000.0 if base == "mvae" else 99)
        for seed in (0, 1):
            detectors = [f"{name}:perceptron"] if base == "mvae" else [name]
            doc = {**document("a", name, seed, 0.9, detectors), "base_model": base}
            for detector in doc["detectors"].values():
                detector["splits"]["test"].update(
                    auroc=0.5 + value / 4000 if base == "mvae" else 0.9,
                    recall=value / 100,
                    false_alarm_rate=1 - value / 100,
                )
            if "sweep" in params:
                doc["sweep"] = params["sweep"]
            docs.append(tidy_job(doc, experiment="sweep" if "sweep" in params else "grid"))
    tidy = pd.concat(docs)
    table = report.robustness_table(tidy, "auroc", "test", defaults)
    mvae = table[table["model"] == "mvae"]
    assert mvae["value"].tolist() == ["0.1", "10.0", "1000.0"] and mvae["default"].tolist() == [False, False, True]
    assert mvae["mean"].tolist() == pytest.approx([0.5 + v / 4000 for v in (0.1, 10.0, 1000.0)])
    percentile = table[table["model"] == "deep_ae"]
    assert set(percentile["metric"]) == {"recall", "false_alarm_rate", "f1"}
    fig = figures.robustness_figure(tidy, "auroc", "test", tmp_path / "r.png", tmp_path / "r.svg", defaults)
    panels = {ax.get_title(): ax for ax in fig.axes}
    weight = panels["a: mvae latent_weight"]
    assert [t.get_text() for t in weight.get_xticklabels()] == ["0.1", "10.0", "1000.0\n(default)"]
    assert weight.lines[0].get_ydata() == pytest.approx([0.5 + v / 4000 for v in (0.1, 10.0, 1000.0)])
    threshold = panels["a: deep_ae percentile"]
    lines = {line.get_label(): line.get_ydata() for line in threshold.lines if not line.get_label().startswith("_")}
    assert set(lines) == {"deep_ae detection rate", "deep_ae false-alarm rate", "deep_ae F1"}
    assert lines["deep_ae detection rate"] == pytest.approx([0.95, 0.99, 0.999])
    assert [t.get_text() for t in threshold.get_xticklabels()] == ["95.0", "99\n(default)", "99.9"]


def test_preparation_sweep_table_names_the_changed_parameter(tmp_path):
    lof = {
        "dataset": "d",
        "n_neighbors": 10,
        "contamination": 0.1,
        "outline_score": 1.5,
        "swept": "n_neighbors",
        "score_auroc": {"train": 0.6, "test": 0.7},
        "splits": {"train": {"overall": {"percent": 10.0023}}},
    }
    lof50 = {
        **lof,
        "n_neighbors": 50,
        "score_auroc": {"test": 0.75},
        "splits": {"train": {"overall": {"percent": 10.0004}}},
    }
    dbscan = {
        "dataset": "d",
        "eps": 0.25,
        "min_samples": 5,
        "clusters": 7,
        "swept": "eps",
        "splits": {"train": {"overall": {"percent": 3.5}}},
    }
    table = report.preparation_sweep_table([lof, lof50, dbscan])
    assert table[["stage", "parameter", "value", "train_outlier_percent"]].values.tolist() == [
        ["lof", "n_neighbors", 10, 10.0023],
        ["lof", "n_neighbors", 50, 10.0004],
        ["dbscan", "eps", 0.25, 3.5],
    ]
    assert table.loc[0, "auroc_test"] == 0.7 and "auroc_train" not in table.columns


def test_preparation_sweep_includes_the_default_point_and_plots_plain_values(tmp_path):
    """Each sweep shows the stage's own run at the configured value, in value order; the LOF panel plots
    the score's AUROC (the outlier share is the contamination by construction) without an axis offset
    (it drew 10.0023 % vs 10.0004 % as "+1e1")."""

    def lof(k, auroc, swept="n_neighbors"):
        return {
            "dataset": "d",
            "n_neighbors": k,
            "contamination": 0.1,
            "outline_score": 1.5,
            "swept": swept,
            "score_auroc": {"test": auroc},
            "splits": {"train": {"overall": {"percent": 10.0 + k / 1e4}}},
        }

    dbscan = {
        "dataset": "d",
        "eps": 1.0,
        "min_samples": 5,
        "clusters": 7,
        "swept": "eps",
        "splits": {"train": {"overall": {"percent": 3.5}}},
    }
    default_lof = {k: v for k, v in lof(20, 10.5).items() if k != "swept"}
    default_dbscan = {
        **{k: v for k, v in dbscan.items() if k != "swept"},
        "eps": 0.5,
        "splits": {"train": {"overall": {"percent": 9.0}}},
    }
    table = report.preparation_sweep_table([lof(50, 10.75), lof(10, 10.25), dbscan], [default_lof, default_dbscan])
    assert table[["stage", "parameter", "value", "default"]].values.tolist() == [
        ["lof", "n_neighbors", 10, False],
        ["lof", "n_neighbors", 20, True],
        ["lof", "n_neighbors", 50, False],
        ["dbscan", "eps", 0.5, True],
        ["dbscan", "eps", 1.0, False],
    ]
    fig = figures.preparation_sweep_figure(table, tmp_path / "p.png", tmp_path / "p.svg")
    lof_ax, dbscan_ax = fig.axes
    line = lof_ax.lines[0]
    assert line.get_ydata().tolist() == [10.25, 10.5, 10.75] and lof_ax.get_ylabel().startswith("LOF score AUROC")
    assert [t.get_text() for t in lof_ax.get_xticklabels()] == ["10", "20\n(default)", "50"]
    assert lof_ax.lines[1].get_ydata().tolist() == [10.5]  # the default's marker
    fig.canvas.draw()
    assert lof_ax.yaxis.get_offset_text().get_text() == ""
    assert dbscan_ax.lines[0].get_ydata().tolist() == [9.0, 3.5]


def test_lofo_table_compares_held_out_with_trained_on_all(tidy):
    doc = {**document("a", "mae", 0, 0.7, ["mae:perceptron"]), "excluded_family": "dos"}
    doc["detectors"]["mae:perceptron"]["splits"]["test"]["detection"][0]["rate"] = 0.25
    doc["detectors"]["mae:perceptron"]["splits"]["test"]["false_alarm_rate"] = 0.12  # what the held-out run paid
    lofo = tidy_job(doc, experiment="lofo")
    assert set(lofo["setting"]) == {"held_out_family"}
    # A grid seed the held-out runs lack (rate 0.4) stays out of the comparison.
    other_seed = document("a", "mae", 1, 0.9, ["mae:perceptron"])
    other_seed["detectors"]["mae:perceptron"]["splits"]["test"]["detection"][0]["rate"] = 0.4
    table = report.lofo_table(pd.concat([tidy, tidy_job(other_seed), lofo])).set_index(
        ["dataset", "detector", "family"]
    )
    assert table.loc[("a", "mae:perceptron", "dos"), "held_out"] == "0.2500"
    assert table.loc[("a", "mae:perceptron", "dos"), "trained_on_all"] == "0.8000"
    assert table.loc[("a", "mae:perceptron", "dos"), "held_out_false_alarm_rate"] == "0.1200"
    assert table.loc[("a", "mae:perceptron", "dos"), "trained_on_all_false_alarm_rate"] == "0.0500"
    assert report.lofo_table(tidy).empty


def test_latent_figure_projects_each_representations_codes(tmp_path):
    rng = np.random.default_rng(0)
    attack = rng.random(300) < 0.4
    codes = {"ae": rng.random((300, 15)), "mae": rng.random((300, 15)) + attack[:, None]}
    figures.latent_figure(codes, attack, "t", tmp_path / "l.png", tmp_path / "l.svg", max_points=200)
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (tmp_path / "l.svg").read_bytes()[:500]


# --- issue 13: undefined metrics, novel rows, the paper's threshold rule, variance notes, statistics


def tidy_rows(records):
    """A tidy table built by hand: records are (dataset, split, detector, seed, metric, value[, group])."""
    rows = []
    for dataset, split, detector, seed, metric, value, *group in records:
        model, _, classifier = detector.partition(":")
        rows.append(
            {
                "experiment": "grid",
                "train_dataset": dataset,
                "test_dataset": dataset,
                "model": model,
                "base_model": model,
                "detector": detector,
                "representation": model,
                "classifier": classifier,
                "setting": "",
                "setting_value": "",
                "seed": seed,
                "split": split,
                "metric": metric,
                "group": group[0] if group else "",
                "value": value,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def cells(text, header_marker, row_marker, sep):
    """The cells of the header line and of the first line holding ``row_marker`` in a md/tex table."""
    lines = text.splitlines()
    header = next(line for line in lines if header_marker in line)
    row = next(line for line in lines if row_marker in line)
    split = (
        (lambda line: [c.strip() for c in line.strip().strip("|").split(sep)])
        if sep == "|"
        else (lambda line: [c.strip() for c in line.replace("\\\\", "").split(sep)])
    )
    return dict(zip(split(header), split(row)))


def test_undefined_metric_is_an_empty_cell_in_csv_md_and_tex(tmp_path):
    # pca never flags anything on kdd: precision undefined in both seeds; lof's is undefined in one seed.
    records = []
    for seed in (0, 1):
        for detector, precision in (("pca", np.nan), ("lof", 0.5 if seed else np.nan)):
            records += [
                ("kdd", "test", detector, seed, "precision", precision),
                ("kdd", "test", detector, seed, "auroc", 0.7 + 0.1 * seed),
            ]
    summary = report.summary_table(tidy_rows(records))
    report.write_table(summary, tmp_path / "s")
    csv = (tmp_path / "s.csv").read_text()
    md, tex = (tmp_path / "s.md").read_text(), (tmp_path / "s.tex").read_text()
    assert "pca" in csv and pd.read_csv(tmp_path / "s.csv").set_index("detector")["precision"].isna()["pca"]
    assert cells(md, "| dataset", "| pca", "|")["precision"] == ""
    assert cells(tex, "dataset &", "pca &", "&")["precision"] == ""
    for text in (csv, md, tex):
        assert "n/a" not in text and "nan" not in text.lower().replace("novel", "")
    # Defined for one seed of two: the mean of that seed, saying so.
    assert cells(md, "| dataset", "| lof", "|")["precision"] == "0.5000 (1 of 2 seeds)"


def test_numeric_nan_is_empty_in_markdown_and_latex(tmp_path):
    table = pd.DataFrame({"detector": ["a", "b"], "accuracy": [0.9, np.nan]})
    report.write_table(table, tmp_path / "t")
    assert cells((tmp_path / "t.md").read_text(), "| detector", "| b", "|")["accuracy"] == ""
    assert cells((tmp_path / "t.tex").read_text(), "detector &", "b &", "&")["accuracy"] == ""


def novel_fixture():
    records = []
    for seed, (auroc, novel) in enumerate(((0.9, 0.6), (0.8, 0.7))):
        records += [
            ("kdd", "test", "pca", seed, "auroc", auroc),
            ("kdd", "test", "pca", seed, "novel.auroc", novel),
            ("kdd", "test", "pca", seed, "auprc", 0.95),
            ("kdd", "test", "pca", seed, "auprc_baseline", 0.8),
            ("kdd", "test", "pca", seed, "novel.auprc", np.nan),  # novel rows without normals
            ("kdd", "test", "pca", seed, "overlap_records", 60.0),
            ("kdd", "test", "pca", seed, "overlap_share", 0.6),
            ("kdd", "test", "pca", seed, "novel.records", 40.0),
        ]
    return tidy_rows(records)


def test_summary_shows_auprc_baseline_overlap_and_novel_rows():
    summary = report.summary_table(novel_fixture())
    columns = list(summary.columns)
    assert columns.index("auprc_baseline") == columns.index("auprc") + 1
    row = summary.iloc[0]
    assert row["auprc_baseline"] == "0.8000 ± 0.0000" and row["overlap_share"] == "0.6000 ± 0.0000"
    assert row["novel.auroc"] == f"0.6500 ± {np.std([0.6, 0.7], ddof=1):.4f}" and row["novel.auprc"] == ""


def test_novel_rows_table_puts_all_rows_beside_novel_rows(tmp_path):
    table = report.novel_rows_table(novel_fixture()).set_index(["dataset", "split", "detector"])
    row = table.loc[("kdd", "test", "pca")]
    assert row["overlap_records"] == "60" and row["novel_records"] == "40"
    assert row["auroc (all)"] == f"0.8500 ± {np.std([0.9, 0.8], ddof=1):.4f}"
    assert row["auroc (novel)"] == f"0.6500 ± {np.std([0.6, 0.7], ddof=1):.4f}"
    # per-seed change novel - all: -0.3 and -0.1
    assert row["auroc change"] == pytest.approx(-0.2)
    report.write_table(table.reset_index(), tmp_path / "n")
    assert cells((tmp_path / "n.md").read_text(), "| dataset", "| kdd", "|")["auprc (novel)"] == ""


def test_seed_paper_table_shows_the_notebooks_threshold_rule_beside_the_configured_one():
    records = []
    for seed in (0, 1):
        records += [
            ("nsl", "test", "deep_ae", seed, "accuracy", 0.72),
            ("nsl", "test", "deep_ae", seed, "f1", 0.7),
            ("nsl", "test", "deep_ae", seed, "detection_rate", 0.6, "dos"),
            ("nsl", "test", "deep_ae", seed, "last_loss.accuracy", 0.88 + 0.02 * seed),
            ("nsl", "test", "deep_ae", seed, "last_loss.f1", 0.9),
            ("nsl", "test", "deep_ae", seed, "last_loss.threshold", 0.01),
            ("nsl", "test", "deep_ae", seed, "last_loss.detection_rate", 0.95, "dos"),
            ("nsl", "train", "deep_ae", seed, "threshold", 0.05),
            ("nsl", "train", "deep_ae", seed, "train_mse", 0.004),
            ("nsl", "test", "cnn_lstm", seed, "accuracy", 0.8),
        ]
    table = report.seed_paper_table(tidy_rows(records)).set_index(["detector", "threshold_rule"])
    assert table.index.tolist() == [("cnn_lstm", "configured"), ("deep_ae", "configured"), ("deep_ae", "last_loss")]
    assert table.loc[("deep_ae", "last_loss"), "accuracy"] == f"0.8900 ± {np.std([0.88, 0.9], ddof=1):.4f}"
    assert table.loc[("deep_ae", "configured"), "accuracy"] == "0.7200 ± 0.0000"
    assert table.loc[("deep_ae", "last_loss"), "DR dos"] == "0.9500 ± 0.0000"
    assert table.loc[("deep_ae", "configured"), "DR dos"] == "0.6000 ± 0.0000"
    assert table.loc[("deep_ae", "last_loss"), "threshold"] == "0.0100 ± 0.0000"
    assert table.loc[("deep_ae", "configured"), "threshold"] == "0.0500 ± 0.0000"
    assert table.loc[("deep_ae", "last_loss"), "train_mse"] == "0.0040 ± 0.0000"
    assert "precision" not in table.columns  # recorded for no row


def test_markdown_tables_say_which_variance_the_plus_minus_covers(tmp_path):
    note = report.variance_note(["kdd", "unsw"], resampled=["unsw", "iot"])
    report.write_table(pd.DataFrame({"dataset": ["kdd"], "auroc": ["0.9 ± 0.1"]}), tmp_path / "v", note=note)
    first = (tmp_path / "v.md").read_text().splitlines()[0]
    assert "initialisation" in first and "split draw" in first and "unsw" in first
    assert "iot" not in first  # not in this table
    assert "initialisation only" in report.variance_note(["kdd"], resampled=["unsw"])
    assert (tmp_path / "v.tex").read_text().startswith("%")  # a LaTeX comment, the table still compiles
    assert pd.read_csv(tmp_path / "v.csv").columns.tolist() == ["dataset", "auroc"]


def rank_fixture():
    """AUROC of three detectors; kdd's primary split is ``test``, its ``test21`` subset ranks them the
    other way round and must not count as a block; ``empty`` has no attacks (AUROC undefined)."""
    values = {
        ("kdd", "test"): (0.9, 0.8, 0.7),
        ("kdd", "test21"): (0.7, 0.8, 0.9),
        ("unsw", "test"): (0.8, 0.6, 0.75),
        ("iot", "test"): (0.85, 0.9, 0.5),
        ("empty", "test"): (np.nan, np.nan, np.nan),
    }
    records = []
    for (dataset, split), scores in values.items():
        for detector, auroc in zip("ABC", scores):
            for seed, noise in ((0, 0.001), (1, -0.001)):
                records.append((dataset, split, detector, seed, "auroc", auroc + noise))
        # E is undefined on unsw only: it cannot take part in a complete block design
        records.append((dataset, split, "E", 0, "auroc", np.nan if dataset in ("unsw", "empty") else 0.5))
    return tidy_rows(records)


def test_ranks_use_one_block_per_dataset_on_its_primary_split():
    primary = {"kdd": "test", "unsw": "test", "iot": "test", "empty": "test"}
    average, friedman, nemenyi = report.rank_tests(rank_fixture(), primary_splits=primary)
    # ranks per block: kdd A1 B2 C3, unsw A1 C2 B3, iot B1 A2 C3
    assert average.set_index("detector")["average_rank"].to_dict() == pytest.approx({"A": 4 / 3, "B": 2.0, "C": 8 / 3})
    assert friedman["blocks"] == 3 and friedman["detectors"] == 3
    assert friedman["block_splits"] == {"iot": "test", "kdd": "test", "unsw": "test"}
    assert friedman["excluded_detectors"] == ["E"]
    # chi2_F = 12N/(k(k+1)) * (sum R_j^2 - k(k+1)^2/4) = 3 * (116/9 - 12) = 8/3; df 2: p = exp(-chi2/2)
    assert friedman["statistic"] == pytest.approx(8 / 3) and friedman["p_value"] == pytest.approx(np.exp(-4 / 3))
    # Demšar (2006) Table 5a: q_0.05 = 2.343 for k = 3; CD = q sqrt(k(k+1)/(6N))
    assert friedman["critical_difference"] == pytest.approx(2.343 * np.sqrt(12 / 18), rel=1e-3)
    # Perfectly concordant rankings give chi2_F = N(k-1) = 6: p = exp(-3) < 0.05, so 3 blocks can reject.
    assert friedman["friedman_min_p_value"] == pytest.approx(np.exp(-3)) and friedman["friedman_can_reject"]
    assert list(nemenyi.index) == ["A", "B", "C"] == list(nemenyi.columns)
    assert nemenyi.loc["A", "C"] < nemenyi.loc["A", "B"]  # the larger rank difference, the smaller p


def test_too_few_blocks_are_stated_in_json_table_and_figure(tmp_path):
    tidy = rank_fixture()
    tidy = tidy[tidy["train_dataset"].isin(["kdd", "unsw"])]
    average, friedman, nemenyi = report.rank_tests(tidy, primary_splits={"kdd": "test", "unsw": "test"})
    assert friedman["blocks"] == 2
    # two blocks, three detectors: the smallest chi2_F p-value is exp(-N(k-1)/2) = exp(-2) > 0.05
    assert friedman["friedman_min_p_value"] == pytest.approx(np.exp(-2))
    assert not friedman["friedman_can_reject"] and not friedman["posthoc_can_reject"]
    assert "too few blocks" in friedman["verdict"]
    report.write_table(average, tmp_path / "r", note=friedman["verdict"])
    assert "too few blocks" in (tmp_path / "r.md").read_text().splitlines()[0]
    fig = figures.rank_figure(average, friedman, nemenyi, "auroc", tmp_path / "r.png", tmp_path / "r.svg")
    texts = " ".join(
        [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts + [ax.title]]
    )
    assert "too few blocks" in texts
    markers = [c for ax in fig.axes for c in ax.collections]
    assert sum(len(c.get_offsets()) for c in markers) == 3  # one rank marker per detector


def test_rank_figure_draws_the_critical_difference(tmp_path):
    average, friedman, nemenyi = report.rank_tests(
        rank_fixture(), primary_splits={"kdd": "test", "unsw": "test", "iot": "test"}
    )
    fig = figures.rank_figure(average, friedman, nemenyi, "auroc", tmp_path / "r.png", tmp_path / "r.svg")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("CD = 1.9") for t in texts)
    assert {"A", "B", "C"} <= {word for t in texts for word in t.replace("(", " ").replace(")", " ").split()}


def test_robustness_figure_leaves_a_gap_where_a_metric_is_undefined(tmp_path):
    records = []
    for auroc in (0.6, np.nan, 0.8):  # setting values "1", "2", "3" (assigned below)
        for seed in (0, 1):
            records.append(("a", "test", "mae", seed, "auroc", auroc))
    tidy = tidy_rows(records)
    tidy = tidy.assign(experiment="sweep", setting="code", setting_value=np.repeat(["1", "2", "3"], 2))
    fig = figures.robustness_figure(tidy, "auroc", "test", tmp_path / "r.png", tmp_path / "r.svg")
    line = next(line for ax in fig.axes for line in ax.lines if line.get_label() == "mae")
    y = np.asarray(line.get_ydata(), dtype=float)
    assert len(y) == 3 and np.isnan(y[1]) and y[0] == pytest.approx(0.6) and y[2] == pytest.approx(0.8)


def test_degenerate_runs_are_set_apart_from_means_and_ranks(tmp_path):
    """Seed 1 of pca on dataset a is degenerate (AUROC 0.2): the summary averages seed 0 alone (0.7,
    one seed), the ranks see 0.7, and the set-apart table names the run."""
    paths = []
    for seed, auroc, flag in ((0, 0.7, []), (1, 0.2, ["every normal record flagged on test"])):
        doc = document("a", "pca", seed, auroc)
        doc["detectors"]["pca"]["degenerate"] = flag
        paths.append(tmp_path / f"pca{seed}.json")
        paths[-1].write_text(json.dumps(doc))
    for seed in (0, 1):
        doc = document("a", "deep_ae", seed, 0.6)
        doc["detectors"]["deep_ae"]["degenerate"] = []
        paths.append(tmp_path / f"ae{seed}.json")
        paths[-1].write_text(json.dumps(doc))
    tidy = collect(paths)
    assert tidy.loc[tidy["metric"] == "degenerate", "value"].tolist() == [0.0, 1.0, 0.0, 0.0]
    kept, apart = report.set_apart_degenerate(tidy)
    assert apart[["dataset", "detector", "degenerate_seeds"]].values.tolist() == [["a", "pca", "1"]]
    assert "degenerate" not in set(kept["metric"]) and not ((kept["detector"] == "pca") & (kept["seed"] == 1)).any()
    summary = report.summary_table(kept).set_index("detector")
    assert summary.loc["pca", "auroc"] == "0.7000" and summary.loc["pca", "seeds"] == 1
    average, _, _ = report.rank_tests(kept, primary_splits={"a": "test"})
    assert average.set_index("detector")["mean_auroc"].to_dict() == pytest.approx({"pca": 0.7, "deep_ae": 0.6})


def test_a_dataset_with_too_few_attacks_is_a_negative_control_not_a_rank_block(tmp_path):
    """Dataset "iot" has 2 attacks among 1,000 records: not a block; its false alarms form their own table."""
    paths = []
    for dataset, attacks, base in (("kdd", 400, 0.9), ("unsw", 300, 0.8), ("nsl", 500, 0.85), ("iot", 2, 0.99)):
        for d, detector in enumerate(["A", "B", "C"]):
            doc = document(dataset, detector, 0, base - 0.05 * d if dataset != "iot" else base - 0.3 * (2 - d))
            doc["detectors"][detector]["splits"]["test"].update(
                attacks=attacks, records=1000, fp=3 * d, false_alarm_rate=3 * d / (1000 - attacks)
            )
            paths.append(tmp_path / f"{dataset}{detector}.json")
            paths[-1].write_text(json.dumps(doc))
    tidy = collect(paths)
    average, result, _ = report.rank_tests(tidy, primary_splits={d: "test" for d in ("kdd", "unsw", "nsl", "iot")})
    assert result["blocks"] == 3 and list(result["uninformative_blocks"]) == ["iot"]
    assert "2 attack and 998 normal records" in result["uninformative_blocks"]["iot"] and "iot" in result["verdict"]
    # without iot, A ranks first in every block (iot alone would rank C first)
    assert average.set_index("detector")["average_rank"].to_dict() == pytest.approx({"A": 1.0, "B": 2.0, "C": 3.0})
    controls = report.negative_control_table(tidy, ["iot"]).set_index("detector")
    assert controls.loc["C", "flagged_normals"] == "6" and controls.loc["C", "false_alarm_rate"] == f"{6 / 998:.4f}"
    assert controls.loc["A", "attacks"] == "2"


def test_cross_dataset_tables_label_near_in_domain_pairs_and_show_false_alarms(tmp_path):
    rows = []
    for test_dataset, fa in (("nsl", 0.02), ("iot", 0.4)):
        doc = {**document("kdd", "deep_ae", 0, 0.8), "test_dataset": test_dataset}
        doc["detectors"]["deep_ae"]["splits"]["test"]["false_alarm_rate"] = fa
        rows.append(tidy_job(doc, "cross", test_dataset))
    rows.append(tidy_job(document("kdd", "deep_ae", 0, 0.9)))
    tidy = pd.concat(rows)
    auroc = report.cross_dataset_table(tidy, "auroc", near_in_domain=[["kdd", "nsl"]]).set_index("detector")
    assert list(auroc.columns) == ["kdd -> iot test", "kdd -> kdd test", "kdd -> nsl test (near in-domain)"]
    alarms = report.cross_dataset_table(tidy, "false_alarm_rate", near_in_domain=[["kdd", "nsl"]]).set_index("detector")
    assert alarms.loc["deep_ae"].tolist() == [0.4, 0.05, 0.02]


def test_curves_show_the_best_of_each_model_with_chance_lines_and_the_legend_outside(tmp_path, monkeypatch):
    """Twelve detectors of five models: the figure draws the best classifier of each latent model
    (by AUROC, computed here by ranking), at most four curves, plus the two chance lines."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300, bool), np.ones(100, bool)]
    quality = {
        "mae:a": 3.0,
        "mae:b": 0.5,
        "mae:c": 1.0,
        "ae:a": 0.3,
        "ae:b": 2.2,
        "pca": 0.6,
        "lof": 0.1,
        "vae:a": 1.6,
        "vae:b": 0.2,
        "raw:a": 0.7,
        "raw:b": 1.1,
        "raw:c": 0.4,
    }  # attack score shifts
    scores = pd.concat(
        [
            pd.DataFrame({"detector": d, "is_attack": y, "score": rng.normal(size=400) + q * y})
            for d, q in quality.items()
        ]
    )
    captured = {}
    monkeypatch.setattr(figures, "save_figure", lambda fig, png, svg: captured.setdefault("fig", fig))
    drawn = figures.curves_figure(scores, "x, test", tmp_path / "c.png", tmp_path / "c.svg", limit=4)
    assert drawn == ["mae:a", "ae:b", "vae:a", "raw:b"]  # one per model, best four, best first
    roc, pr = captured["fig"].axes
    assert len(roc.lines) == 4 + 1 and len(pr.lines) == 4 + 1  # curves + a chance line each
    assert roc.lines[-1].get_xydata().tolist() == [[0, 0], [1, 1]]
    assert pr.lines[-1].get_ydata()[0] == pytest.approx(0.25)  # the attack share
    legend = roc.get_legend()
    assert len(legend.get_texts()) == 5 and legend.get_texts()[0].get_text().startswith("mae:a (AUROC")
    assert legend.get_bbox_to_anchor().y1 < roc.get_window_extent().y0 + 1  # below the axes, not over the curves
    assert (roc.get_xlabel(), roc.get_ylabel()) == ("False-alarm rate", "Detection rate")


def test_headline_table_is_detectors_by_datasets_with_the_best_in_bold(tidy, tmp_path):
    table, bold = report.headline_table(tidy)
    # fixture AUROC = 0.6 + 0.1 m + 0.01 d + 0.001 seed; lof (m 2) best everywhere, mae 0.9 on seed 0 only
    assert list(table.columns) == ["detector", "a", "b", "c"]
    row = table.set_index("detector").loc["lof (preparation statistic: fitted on all training rows)"]
    assert row["a"] == f"{np.mean([0.8, 0.801]):.3f} ± {np.std([0.8, 0.801], ddof=1):.3f}"
    assert table["detector"].iloc[-1].startswith("lof (") and not bold.iloc[-1, 1:].any()  # last, never bold
    assert table["detector"].tolist()[:2] == ["mae:linear_svc", "mae:perceptron"]  # 0.9 > 0.8005: best first
    assert bold.loc[0, ["a", "b", "c"]].all() and not bold.loc[table["detector"] == "pca", ["a", "b", "c"]].any(
        axis=None
    )
    report.write_table(table, tmp_path / "headline", bold=bold)
    md = (tmp_path / "headline.md").read_text()
    tex = (tmp_path / "headline.tex").read_text()
    assert "| **0.900** " in md and md.count("**") == 2 * 2 * 3  # two mae detectors tie at 0.9 in 3 datasets
    assert r"\textbf{0.900}" in tex and r"mae:linear\_svc" in tex
    assert "**" not in (tmp_path / "headline.csv").read_text()


def test_runtime_table_averages_fit_time_and_throughput_over_seeds():
    docs = []
    for seed, fit, rate in ((0, 2.0, 1000.0), (1, 4.0, 3000.0)):
        doc = document("a", "pca", seed, 0.7)
        doc["detectors"]["pca"].update(fit_seconds=fit)
        doc["detectors"]["pca"]["splits"]["test"]["records_per_second"] = rate
        docs.append(tidy_job(doc))
    table = report.runtime_table(pd.concat(docs)).set_index(["dataset", "detector"])
    assert table.loc[("a", "pca")].to_dict() == {"fit_seconds": 3.0, "records_per_second": 2000.0}


def test_headline_bold_follows_the_printed_precision_and_an_empty_table_is_empty():
    docs = [
        tidy_job(document("a", name, 0, auroc)) for name, auroc in (("pca", 0.9004), ("iforest", 0.9001), ("ae", 0.8))
    ]
    table, bold = report.headline_table(pd.concat(docs))
    marked = dict(zip(table["detector"], bold["a"]))
    assert marked == {"pca": True, "iforest": True, "ae": False}  # both print as 0.900
    empty, _ = report.headline_table(pd.DataFrame(columns=COLUMNS))
    assert empty.empty


# --- issue 14: dataset statistics, the seed paper's table per dataset with its spread, no empty columns


def test_dataset_statistics_reads_split_encoding_and_cleaning_reports(tmp_path):
    splits = {
        "kdd": {
            "dataset": "kdd",
            "feature_columns": 3,
            "splits": {
                "train": {"rows": 10, "attack_rows": 4, "distinct_vectors": 7, "families": {}},
                "val": {"rows": 5, "attack_rows": 1, "distinct_vectors": 5, "rows_in_train": 0, "families": {}},
                "test": {"rows": 8, "attack_rows": 6, "distinct_vectors": 6, "rows_in_train": 3, "families": {}},
                # drawn from test (KDDTest-21 from KDDTest+): not counted again in the total
                "test21": {"rows": 4, "attack_rows": 4, "distinct_vectors": 4, "rows_in_train": 1, "families": {}},
            },
        }
    }
    cleaning = {
        "kdd": [
            {"dataset": "kdd", "part": "train", "duplicate_rows": 9, "duplicates_removed": True},
            {"dataset": "kdd", "part": "test", "duplicate_rows": 4, "duplicates_removed": False},
            {"dataset": "kdd", "part": "train20", "duplicate_rows": 2, "duplicates_removed": True},
        ]
    }
    table = report.dataset_statistics_table(splits, {"kdd": 12}, cleaning)
    report.write_table(table, tmp_path / "s")
    read = pd.read_csv(tmp_path / "s.csv").set_index("split")
    assert list(read.index) == ["all", "train", "val", "test", "test21"] and (read["features"] == 12).all()
    assert read["rows"].tolist() == [23, 10, 5, 8, 4] and read["attack_rows"].tolist() == [11, 4, 1, 6, 4]
    assert read["attack_share"].tolist() == pytest.approx([11 / 23, 0.4, 0.2, 0.75, 1.0])
    assert read.loc["train", "duplicate_rows"] == 3 and read.loc["test", "duplicate_rows"] == 2
    assert read.loc["test", "duplicate_share"] == pytest.approx(0.25) and read.loc["test", "rows_in_train"] == 3
    assert np.isnan(read.loc["train", "rows_in_train"]) and np.isnan(read.loc["all", "duplicate_rows"])
    assert (
        read.loc["all", "duplicates_removed_in_cleaning"] == 9
    )  # the part whose duplicates were dropped, not its subset
    row = cells((tmp_path / "s.md").read_text(), "| dataset", "| train", "|")
    assert row["rows"] == "10" and row["rows_in_train"] == ""


def test_seed_paper_table_shows_the_spread_and_only_the_families_a_dataset_has(tmp_path):
    records = []
    for seed, (f1, dos) in enumerate([(0.6, 0.5), (0.8, 0.7)]):
        records += [
            ("nsl", "test", "deep_ae", seed, "f1", f1),
            ("nsl", "test", "deep_ae", seed, "detection_rate", dos, "dos"),
            ("nsl", "test", "deep_ae", seed, "detection_rate", 0.1, "u2r"),
            ("nsl", "test", "deep_ae", seed, "detection_rate", 0.02, "normal"),
            ("nsl", "train", "deep_ae", seed, "threshold", 0.04 + 0.02 * seed),
            ("iot", "test", "deep_ae", seed, "f1", 0.3),
            ("iot", "test", "deep_ae", seed, "detection_rate", 1.0, "cnc"),
        ]
    both = report.seed_paper_table(tidy_rows(records)).set_index("dataset")
    # precision, recall ... were never recorded: no column; "DR normal" is the false-alarm rate
    assert list(both.columns) == [
        "split",
        "detector",
        "threshold_rule",
        "threshold",
        "f1",
        "DR cnc",
        "DR dos",
        "DR u2r",
    ]
    assert both.loc["nsl", "f1"] == f"0.7000 ± {np.std([0.6, 0.8], ddof=1):.4f}"
    assert both.loc["nsl", "DR dos"] == f"0.6000 ± {np.std([0.5, 0.7], ddof=1):.4f}"
    assert both.loc["nsl", "threshold"] == f"0.0500 ± {np.std([0.04, 0.06], ddof=1):.4f}"
    assert pd.isna(both.loc["iot", "threshold"])
    iot = report.seed_paper_table(tidy_rows(records), "iot")
    assert list(iot.columns) == ["dataset", "split", "detector", "threshold_rule", "f1", "DR cnc"]
    assert iot["DR cnc"].tolist() == ["1.0000 ± 0.0000"]
    report.write_table(iot, tmp_path / "p")
    assert "u2r" not in (tmp_path / "p.md").read_text() and "u2r" not in (tmp_path / "p.tex").read_text()


def test_vu_table_drops_a_representation_no_row_has():
    # zeek_mae ran on ton only, where its metric is undefined (null in every seed): an all-empty column
    records = [
        (d, "test", f"{r}:perceptron", seed, "hard_auc", 0.9)
        for d in ("kdd", "ton")
        for r in ("raw", "mae")
        for seed in (0, 1)
    ]
    records += [("ton", "test", "zeek_mae:perceptron", seed, "hard_auc", np.nan) for seed in (0, 1)]
    table = report.vu_table(tidy_rows(records), "hard_auc")
    assert list(table.columns) == ["dataset", "split", "classifier", "raw", "mae"]
    assert table["mae"].tolist() == ["0.9000 ± 0.0000"] * 2
    records[-1] = ("ton", "test", "zeek_mae:perceptron", 1, "hard_auc", 0.7)
    assert (
        report.vu_table(tidy_rows(records), "hard_auc").set_index("dataset").loc["ton", "zeek_mae"]
        == "0.7000 (1 of 2 seeds)"
    )


def test_sweep_of_lists_sorts_by_value_and_a_listed_default_is_not_joined_twice():
    from iotad.config import sweep_defaults, sweep_variants

    sweeps = {
        "runs": [
            {"model": "mae", "parameter": "centres", "values": [[2.0, 5.0], [2.0, 2.5]]},
            {"model": "mae", "parameter": "code", "values": [15, 30]},
        ]
    }  # 15 is mae's default
    defaults = sweep_defaults(sweeps, {"mae": {}})
    assert defaults == [
        {"model": "mae", "parameter": "centres", "value": [2.0, 3.0]},
        {"model": "mae", "parameter": "code", "value": 15},
    ]
    docs = []
    for name, params in {**sweep_variants(sweeps, {"mae": {}}), "mae": {}}.items():
        doc = {**document("a", name, 0, 0.9, [f"{name}:perceptron"]), "base_model": "mae"}
        if "sweep" in params:
            doc["sweep"] = params["sweep"]
        docs.append(tidy_job(doc, experiment="sweep" if "sweep" in params else "grid"))
    table = report.robustness_table(pd.concat(docs), "auroc", "test", defaults)
    centres = table[table["parameter"] == "centres"]
    assert centres["value"].tolist() == ["[2.0, 2.5]", "[2.0, 3.0]", "[2.0, 5.0]"]
    assert centres["default"].tolist() == [False, True, False]
    code = table[table["parameter"] == "code"]
    assert code["value"].tolist() == ["15", "30"] and code["seeds"].tolist() == [1, 1]  # the grid run not joined again


# The answer table: per-seed AUROCs listed by hand (seeds 0..4); expected values worked out by hand below.
ANSWER_AUROC = {
    "kdd": {
        "A": [0.90, 0.91, 0.92, 0.93, 0.94],  # mean 0.92, std sqrt(0.001 / 4)
        "B": [0.85, 0.87, 0.86, 0.88, 0.84],  # mean 0.86; A - B = 0.05 0.04 0.06 0.05 0.10
        "C": [0.70, 0.70, 0.70, 0.70, 0.70],
    },
    "unsw": {
        "A": [0.80, 0.90, 0.70, 0.85, 0.75],  # mean 0.80
        "B": [0.78, 0.79, 0.80, 0.81, 0.77],  # mean 0.79; A - B = 0.02 0.11 -0.10 0.04 -0.02
        "C": [0.60, 0.60, 0.60, 0.60, 0.60],
    },
}


def answer_fixture():
    records = [
        (dataset, "test", detector, seed, "auroc", value)
        for dataset, detectors in ANSWER_AUROC.items()
        for detector, values in detectors.items()
        for seed, value in enumerate(values)
    ]
    # better than A on kdd, but out of the answer: LOF of the preparation stage (fitted on attacks too)
    # and a degenerate run (set apart as the report does before every table)
    records += [("kdd", "test", "lof", seed, "auroc", 0.99) for seed in range(5)]
    records += [("kdd", "test", "D", 0, "auroc", 0.999), ("kdd", "test", "D", 0, "degenerate", 1.0)]
    # unsw's test split holds 10 attacks among 1,000 records: too few to rank on
    for dataset, attacks in (("kdd", 400.0), ("unsw", 10.0)):
        records += [
            (dataset, "test", d, seed, metric, value)
            for d in ("A", "B", "C")
            for seed in range(5)
            for metric, value in (("attacks", attacks), ("records", 1000.0))
        ]
    kept, _ = report.set_apart_degenerate(tidy_rows(records))
    return kept


def paired_t_p_value(mean_difference, variance_difference, n):
    """Two-sided p of the paired t-test from the per-seed differences' mean and variance (ddof 1)."""
    from scipy import stats

    t = mean_difference / np.sqrt(variance_difference / n)
    return 2 * stats.t.sf(abs(t), df=n - 1)


def test_answer_names_best_and_runner_up_and_tests_the_gap_over_seeds():
    answer = report.answer_table(answer_fixture()).set_index("dataset")
    kdd, unsw = answer.loc["kdd"], answer.loc["unsw"]
    assert list(answer.index) == ["kdd", "unsw"] and set(answer["split"]) == {"test"}
    assert (kdd["best"], kdd["runner_up"], kdd["detectors"]) == ("A", "B", 3)  # neither lof nor the degenerate D
    assert kdd["best_mean"] == pytest.approx(0.92) and kdd["best_std"] == pytest.approx(np.sqrt(0.001 / 4))
    assert kdd["runner_up_mean"] == pytest.approx(0.86) and kdd["runner_up_std"] == pytest.approx(np.sqrt(0.001 / 4))
    assert kdd["gap"] == pytest.approx(0.06) and kdd["paired_seeds"] == 5 and kdd["best_seeds"] == 5
    # differences 0.05 0.04 0.06 0.05 0.10: mean 0.06, variance (1 + 4 + 0 + 1 + 16)e-4 / 4 = 5.5e-4
    assert kdd["p_value"] == pytest.approx(paired_t_p_value(0.06, 5.5e-4, 5)) and kdd["p_value"] < 0.01
    assert kdd["verdict"] == "significant" and kdd["caveat"] == ""
    # within seed noise: differences 0.02 0.11 -0.10 0.04 -0.02, mean 0.01, variance 240e-4 / 4 = 60e-4
    assert (unsw["best"], unsw["runner_up"]) == ("A", "B") and unsw["gap"] == pytest.approx(0.01)
    assert unsw["p_value"] == pytest.approx(paired_t_p_value(0.01, 60e-4, 5)) and unsw["p_value"] > 0.7
    assert unsw["verdict"] == "not significant"
    assert unsw["caveat"].startswith("10 attacks, 990 normals")


def test_answer_with_one_matched_seed_is_not_testable():
    records = [("kdd", "test", "A", 0, "auroc", 0.9), ("kdd", "test", "B", 0, "auroc", 0.8)]
    # on nsl A and B share one seed of their two (A: seeds 0, 1; B: seeds 1, 2)
    records += [("nsl", "test", "A", s, "auroc", v) for s, v in ((0, 0.95), (1, 0.93))]
    records += [("nsl", "test", "B", s, "auroc", v) for s, v in ((1, 0.90), (2, 0.91))]
    answer = report.answer_table(tidy_rows(records)).set_index("dataset")
    assert answer["verdict"].tolist() == ["not testable", "not testable"] and answer["p_value"].isna().all()
    assert answer.loc["kdd", "best_std"] != answer.loc["kdd", "best_std"]  # one seed: no std (NaN)
    assert answer.loc["nsl", "best_seeds"] == 2 and answer.loc["nsl", "paired_seeds"] == 1
    assert answer.loc["nsl", "best_mean"] == pytest.approx(0.94) and answer.loc["nsl", "runner_up_mean"] == 0.905
    # a dataset with one detector: no runner-up, nothing to test
    alone = report.answer_table(tidy_rows([("kdd", "test", "A", s, "auroc", 0.9) for s in range(3)]))
    assert alone["runner_up"].isna().all() and alone["verdict"].tolist() == ["not testable"]
    # a split where AUROC is undefined for every detector (no attacks): its row stays, saying so
    empty = report.answer_table(tidy_rows([("kdd", "test", d, 0, "auroc", np.nan) for d in "AB"]))
    assert empty["best"].isna().all() and empty["caveat"].tolist() == ["auroc undefined for every detector"]


def test_answer_primary_split_first_and_ties_not_significant():
    records = [
        (split, d, s, v)
        for split in ("test21", "test")
        for d, v in (("A", 0.9), ("B", 0.9), ("C", 0.5))
        for s in range(3)
    ]
    answer = report.answer_table(tidy_rows([("kdd", sp, d, s, "auroc", v) for sp, d, s, v in records]))
    assert answer["split"].tolist() == ["test", "test21"]
    # equal in every seed: no gap, no p-value, not beyond noise; the tie goes to the first name
    assert answer["verdict"].tolist() == ["not significant"] * 2 and answer["p_value"].isna().all()
    assert answer["best"].tolist() == ["A", "A"] and answer["gap"].tolist() == [0.0, 0.0]


def test_answer_files_hold_numbers_in_csv_and_mean_std_in_markdown(tmp_path):
    answer = report.answer_table(answer_fixture())
    report.write_table(report.answer_cells(answer), tmp_path / "answer", note=report.answer_note(), numbers=answer)
    csv = pd.read_csv(tmp_path / "answer.csv").set_index("dataset")
    assert csv.loc["kdd", "best_mean"] == pytest.approx(0.92) and csv.loc["kdd", "runner_up"] == "B"
    assert csv["best_std"].dtype == float and csv["p_value"].dtype == float
    md = (tmp_path / "answer.md").read_text()
    row = cells(md, "| dataset", "| kdd", "|")
    assert row["AUROC"] == f"0.9200 ± {np.sqrt(0.001 / 4):.4f}" and row["beyond seed noise"] == "significant"
    assert "Wilcoxon" in md and "0.0625" in md
    assert cells(md, "| dataset", "| unsw", "|")["caveat"].startswith("10 attacks")
    html = (tmp_path / "answer.html").read_text()
    assert html.index("<table") < html.index("Wilcoxon") and "0.9200 ± 0.0158" in html


def test_summary_csv_holds_mean_and_std_as_numbers(tidy, tmp_path):
    summary = report.summary_table(tidy)
    numbers = report.summary_table(tidy, numbers=True)
    report.write_table(summary, tmp_path / "summary", numbers=numbers)
    csv = pd.read_csv(tmp_path / "summary.csv").set_index(["dataset", "detector"])
    assert "auroc" not in csv.columns and not csv.apply(lambda c: c.astype(str).str.contains("±")).any().any()
    assert csv.loc[("a", "pca"), "auroc_mean"] == pytest.approx(np.mean([0.7, 0.701]))
    assert csv.loc[("a", "pca"), "auroc_std"] == pytest.approx(np.std([0.7, 0.701], ddof=1))
    assert csv.loc[("a", "pca"), "auroc_seeds"] == 2 and csv.loc[("a", "pca"), "seeds"] == 2
    assert np.isnan(csv.loc[("a", "mae:perceptron"), "auroc_std"])  # one seed: no std
    # Markdown keeps "mean ± std"
    md = (tmp_path / "summary.md").read_text()
    assert (
        cells(md, "| dataset", "| pca ", "|")["auroc"]
        == summary.set_index(["dataset", "detector"]).loc[("a", "pca"), "auroc"]
    )


def test_report_landing_page_opens_on_the_answer_table(tmp_path, monkeypatch):
    """workflow/report/workflow.rst as Snakemake renders it (Jinja, then docutils from the working
    directory): the answer table's HTML comes first, the categories are listed after it."""
    from pathlib import Path

    from docutils.core import publish_parts
    from jinja2 import Environment

    rst = (Path(__file__).parents[2] / "workflow/report/workflow.rst").read_text()
    answer = report.answer_table(answer_fixture())
    report.write_table(
        report.answer_cells(answer),
        tmp_path / "results/report/tables/answer",
        note=report.answer_note(),
        numbers=answer,
    )
    monkeypatch.chdir(tmp_path)

    class Category:
        def __init__(self, name):
            self.name = name

    class Snakemake:
        config = {"datasets": ["kdd", "unsw"], "models": ["A", "B", "C"], "seeds": [0, 1, 2, 3, 4]}

    text = (
        Environment(trim_blocks=True, lstrip_blocks=True)
        .from_string(rst + "\n.. _Tables: #t\n.. _Workflow: #w\n.. _Statistics: #s\n")
        .render(snakemake=Snakemake, categories={Category("Tables"): {}}, files=[])
    )
    page = publish_parts(text, writer="html")["html_body"]
    assert "System Message" not in page and page.index("iotad-table") < page.index("This run")
    assert "0.9200 ± 0.0158" in page and "2 datasets (kdd, unsw)" in page and ">Tables</a>" in page
