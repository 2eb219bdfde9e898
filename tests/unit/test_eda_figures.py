"""Content of the seed paper's Figures 2-5: no blank figure, no part counted twice, no overlapping
labels (bounding boxes of the drawn text, after a canvas draw)."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import iotad.eda as eda
import iotad.figures as figures

# NSL-KDD's records per label and part (the cleaned parts of a default run); train20 is a subset of train.
NSL_PARTS = ["train", "test", "test21", "train20"]
NSL_LABELS = {
    ("normal", "normal"): [67343, 9711, 2152, 13449],
    ("dos", "neptune"): [41214, 4657, 1579, 8282],
    ("dos", "smurf"): [2646, 665, 627, 529],
    ("dos", "back"): [956, 359, 359, 196],
    ("dos", "teardrop"): [892, 12, 12, 188],
    ("dos", "pod"): [201, 41, 41, 38],
    ("dos", "land"): [18, 7, 7, 1],
    ("dos", "apache2"): [0, 737, 737, 0],
    ("dos", "processtable"): [0, 685, 685, 0],
    ("dos", "mailbomb"): [0, 293, 293, 0],
    ("dos", "udpstorm"): [0, 2, 2, 0],
    ("probe", "satan"): [3633, 735, 727, 691],
    ("r2l", "guess_passwd"): [53, 1231, 1231, 10],
}
DOS_TYPES = {label for family, label in NSL_LABELS if family == "dos"}


def long_counts(table, parts):
    rows = [
        {"part": part, "label": label, "family": family, "is_attack": family != "normal", "records": n}
        for (family, label), records in table.items()
        for part, n in zip(parts, records)
        if n
    ]
    return pd.DataFrame(rows)


@pytest.fixture
def nsl_counts():
    return long_counts(NSL_LABELS, NSL_PARTS)


@pytest.fixture
def iot23_counts():  # the default iot-23 captures: no DDoS records although the family map has DDoS
    return long_counts({("normal", "-"): [4872], ("cnc", "C&C"): [3], ("filedownload", "FileDownload"): [3]}, ["all"])


@pytest.fixture
def drawn(monkeypatch):
    """The figures the code under test saves, drawn instead of written: {png name: figure}."""
    saved = {}

    def capture(fig, png, svg):
        fig.canvas.draw()
        saved[str(png)] = fig

    monkeypatch.setattr(eda, "save_figure", capture)
    monkeypatch.setattr(figures, "save_figure", capture)
    return saved


def out_paths(tmp_path):
    names = {"fig3": "fig3_dos_attack_types", "fig4": "fig4_normal_vs_dos", "fig5": "fig5_dos_vs_all"}
    return {f"{key}_{ext}": str(tmp_path / f"{name}.{ext}") for key, name in names.items() for ext in ("png", "svg")}


def extents(artists, renderer):
    return [a.get_window_extent(renderer) for a in artists if a.get_visible() and a.get_text()]


def overlapping(boxes):
    return [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]


def test_dos_figures_are_skipped_for_a_dataset_without_dos_records(iot23_counts, tmp_path, drawn):
    families = eda.distribution_table(iot23_counts, ["family"])
    try:
        eda.dos_figures(iot23_counts, "iot-23", ["dos", "ddos"], out_paths(tmp_path))
    except ValueError as exc:  # the workflow does not ask for them (eda checkpoint)
        assert "no records in the DoS families" in str(exc)
    assert drawn == {}  # no blank figure
    assert not list(tmp_path.iterdir())
    assert not eda.has_dos_records(families, ["dos", "ddos"])


def test_dos_records_only_in_a_subset_part_do_not_call_for_figures(nsl_counts):
    nsl = eda.distribution_table(nsl_counts, ["family"])
    assert eda.has_dos_records(nsl, ["dos", "ddos"])
    only_train20 = nsl_counts[(nsl_counts["family"] != "dos") | (nsl_counts["part"] == "train20")]
    assert not eda.has_dos_records(eda.distribution_table(only_train20, ["family"]), ["dos", "ddos"])


def test_dos_figures_leave_out_the_subset_parts(nsl_counts, tmp_path, drawn):
    eda.dos_figures(nsl_counts, "nsl-kdd", ["dos", "ddos"], out_paths(tmp_path))
    assert len(drawn) == 3
    for fig in drawn.values():
        (ax,) = fig.axes
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]  # not test21, train20
    fig4 = drawn[out_paths(tmp_path)["fig4_png"]].axes[0]
    heights = sorted(round(p.get_height()) for p in fig4.patches if p.get_height() > 0)
    assert heights == sorted(
        [
            67343,
            9711,
            41214 + 2646 + 956 + 892 + 201 + 18,  # train, test: normal, DoS
            4657 + 665 + 359 + 12 + 41 + 7 + 737 + 685 + 293 + 2,
        ]
    )


def test_fig3_type_names_and_counts_do_not_overlap(nsl_counts, tmp_path, drawn):
    eda.dos_figures(nsl_counts, "nsl-kdd", ["dos", "ddos"], out_paths(tmp_path))
    fig = drawn[out_paths(tmp_path)["fig3_png"]]
    (ax,) = fig.axes
    renderer = fig.canvas.get_renderer()
    names = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text() in DOS_TYPES]
    assert sorted(t.get_text() for t in names) == sorted(DOS_TYPES)  # every type named once
    ticks = extents(ax.get_xticklabels(), renderer) + extents(ax.get_yticklabels(), renderer)
    assert overlapping(ticks) == []
    counts = extents(ax.texts, renderer)  # the bar labels
    assert overlapping(counts) == []
    assert overlapping(counts + ticks) == []
    assert len(counts) == sum(
        1 for (family, _), records in NSL_LABELS.items() if family == "dos" for n in records[:2] if n
    )  # one per bar, test21 and train20 left out


def test_confusion_matrix_true_label_clears_tick_labels_and_histogram(tmp_path, drawn):
    rng = np.random.default_rng(0)
    is_attack = np.r_[np.zeros(900, bool), np.ones(600, bool)]
    score = np.where(is_attack, rng.lognormal(-2.5, 0.5, 1500), rng.lognormal(-4.5, 0.5, 1500))
    scores = pd.DataFrame({"score": score, "is_attack": is_attack, "prediction": score > 0.05})
    with plt.style.context("default"):  # as the figure's own job draws it (no seaborn theme left by other tests)
        figures.loss_distribution_figure(
            scores, 0.05, "deep_ae on nsl-kdd (test, seed 0)", tmp_path / "f.png", tmp_path / "f.svg"
        )
    (fig,) = drawn.values()
    left, right = fig.axes
    renderer = fig.canvas.get_renderer()
    true_label = right.yaxis.label
    assert true_label.get_text() == "True label"
    box = true_label.get_window_extent(renderer)
    assert [t.get_text() for t in right.get_yticklabels()] == ["normal", "attack"]
    assert not any(box.overlaps(tick) for tick in extents(right.get_yticklabels(), renderer))
    assert not box.overlaps(left.get_tightbbox(renderer))  # the histogram, its ticks and labels


def test_figure2_threshold_line_and_confusion_counts_follow_the_scores(tmp_path, drawn):
    """The dashed line stands at the threshold given, and the matrix counts what the predictions say
    (hand-counted: 2 normals flagged, 1 attack missed)."""
    scores = pd.DataFrame(
        {
            "score": [0.01, 0.02, 0.03, 0.2, 0.3, 0.04, 0.5, 0.6],
            "is_attack": [False, False, False, False, False, True, True, True],
        }
    )
    scores["prediction"] = scores["score"] > 0.1
    figures.loss_distribution_figure(scores, 0.1, "t", tmp_path / "f.png", tmp_path / "f.svg")
    (fig,) = drawn.values()
    left, right = fig.axes
    dashed = [line for line in left.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_xdata()) == [0.1, 0.1]
    cells = [t.get_text() for t in right.texts]
    assert cells == ["3", "2", "1", "2"]  # [[TN, FP], [FN, TP]]
