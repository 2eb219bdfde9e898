import numpy as np
import pandas as pd
import pytest

from iotad.metrics import binary_metrics, detection_rates
from iotad.thresholds import ThresholdError, choose_threshold, predict


def test_binary_metrics_by_hand():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.9, 0.4, 0.8, 0.85, 0.95]
    m = binary_metrics(y, scores, predict(scores, 0.5))
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (3, 1, 1, 3)
    assert m["accuracy"] == 0.75 and m["precision"] == 0.75 and m["recall"] == 0.75 and m["f1"] == 0.75
    assert m["false_alarm_rate"] == 0.25
    assert m["auroc"] == pytest.approx(13 / 16)  # (attack, normal) pairs ranked right: 3 + 3 + 3 + 4 of 16
    assert m["hard_auc"] == pytest.approx(0.75)  # Vu et al.'s "AUC" from 0/1 predictions
    assert m["auroc"] != m["hard_auc"]


def test_single_class_split_gives_null_with_a_reason_not_a_crash():
    m = binary_metrics([1, 1, 1], [0.2, 0.5, 0.9], [False, True, True])
    assert m["auroc"] is m["auprc"] is m["false_alarm_rate"] is None
    assert m["undefined"]["auroc"] == m["undefined"]["false_alarm_rate"] == "no normal records"
    assert m["recall"] == pytest.approx(2 / 3) and m["auprc_baseline"] == 1.0


def test_no_predicted_attack_leaves_precision_undefined_not_zero():
    # 2 attacks among 5 records, nothing flagged: precision 0/0 is undefined, recall 0/2 and F1
    # 2*0/(0+0+2) are honest zeros, AUPRC's no-skill baseline is the attack share 2/5.
    m = binary_metrics([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5], [False] * 5)
    assert m["precision"] is None and m["undefined"] == {"precision": "no record predicted an attack"}
    assert m["recall"] == 0.0 and m["f1"] == 0.0 and m["accuracy"] == 0.6
    assert m["auprc_baseline"] == pytest.approx(0.4) and m["auprc"] == pytest.approx(1.0)


def test_normal_only_split_has_no_recall_or_f1():
    m = binary_metrics([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], [False] * 4)
    assert m["recall"] is m["f1"] is m["precision"] is m["auroc"] is None
    assert m["false_alarm_rate"] == 0.0 and m["accuracy"] == 1.0 and m["auprc_baseline"] == 0.0
    assert set(m["undefined"]) == {
        "precision",
        "recall",
        "f1",
        "auroc",
        "auprc",
        "hard_auc",
        "detection_at_1pct_false_alarms",
        "detection_at_5pct_false_alarms",
    }
    # One false alarm: precision 0/1 is an honest 0, F1 still undefined (there is no attack to find).
    m = binary_metrics([0, 0, 0], [0.1, 0.9, 0.2], [False, True, False])
    assert m["precision"] == 0.0 and m["f1"] is None and m["undefined"]["f1"] == "no attack records"
    assert m["false_alarm_rate"] == pytest.approx(1 / 3)


def test_detection_rates_flag_attack_types_absent_from_training():
    rows = pd.DataFrame(
        {
            "label": ["normal", "normal", "smurf", "smurf", "mailbomb", "mailbomb"],
            "family": ["normal", "normal", "dos", "dos", "dos", "dos"],
        }
    )
    table = detection_rates(rows, [False, True, True, True, True, False], training_labels={"normal", "smurf"})
    by = table.set_index(["level", "name"])
    assert by.loc[("label", "mailbomb"), "rate"] == 0.5 and by.loc[("label", "mailbomb"), "unseen_in_training"]
    assert not by.loc[("label", "smurf"), "unseen_in_training"]
    assert by.loc[("family", "dos"), "rate"] == 0.75 and by.loc[("family", "dos"), "unseen_share"] == 0.5
    assert not by.loc[("family", "dos"), "unseen_in_training"]  # only part of the family is new
    assert by.loc[("family", "normal"), "rate"] == 0.5  # the false-alarm rate


def test_percentile_threshold_uses_validation_normals_only():
    val = np.r_[np.arange(100.0), [1e6, 1e6]]
    attack = np.r_[np.zeros(100, bool), [True, True]]
    assert choose_threshold("percentile", val_scores=val, val_is_attack=attack, percentile=90) == pytest.approx(89.1)


def test_best_f1_threshold_separates_a_separable_validation_split():
    val = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    attack = np.array([False, False, False, True, True])
    t = choose_threshold("best_f1", val_scores=val, val_is_attack=attack)
    assert predict(val, t).tolist() == attack.tolist()


@pytest.mark.parametrize(
    "rule, kwargs, message",
    [
        ("fixed", {}, "needs a value"),
        ("last_loss", {}, "last training loss"),
        ("best_f1", {"val_scores": [0.1, 0.2], "val_is_attack": [False, False]}, "needs normal and attack"),
        ("median", {}, "unknown threshold rule"),
    ],
)
def test_threshold_rules_refuse_what_they_cannot_do(rule, kwargs, message):
    with pytest.raises(ThresholdError, match=message):
        choose_threshold(rule, **kwargs)
    assert (
        choose_threshold("fixed", value=0.3) == 0.3 and choose_threshold("last_loss", last_training_loss=0.02) == 0.02
    )


def test_detection_at_a_fixed_false_alarm_rate_by_hand():
    # 100 normals scored 0..99, 10 attacks scored 95.5..104.5: a cut between 98 and 99 flags one
    # normal (1 %) and the attacks from 98.5 up (7 of 10); a cut between 94 and 95 flags 5 normals
    # (5 %) and all 10 attacks.
    normal, attack = np.arange(100.0), np.arange(95.5, 105.5)
    y = np.r_[np.zeros(100, bool), np.ones(10, bool)]
    m = binary_metrics(y, np.r_[normal, attack], np.zeros(110, bool))
    assert m["detection_at_1pct_false_alarms"] == pytest.approx(0.7)
    assert m["detection_at_5pct_false_alarms"] == pytest.approx(1.0)


def test_detection_at_a_fixed_false_alarm_rate_with_tied_scores():
    # 100 normals and 100 attacks, score k/100 shared by normal k and attack k: every cut lets as many
    # normals as attacks through, so the rate at 5 % false alarms is 0.05 (a ROC curve that drops its
    # collinear points keeps only the corners and reads 0.01 there).
    y = np.r_[np.zeros(100, bool), np.ones(100, bool)]
    scores = np.r_[np.arange(100), np.arange(100)] / 100
    m = binary_metrics(y, scores, np.zeros(200, bool))
    assert m["detection_at_5pct_false_alarms"] == pytest.approx(0.05)
    assert m["detection_at_1pct_false_alarms"] == pytest.approx(0.01)


def test_ranking_metrics_on_repeated_scores_equal_scikit_learn_on_every_row():
    """binary_metrics weights each distinct (class, score) pair by its count; the oracle is scikit-learn
    on every row, with scores repeated as in kddcup99's test split and ties across the classes."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    rng = np.random.default_rng(7)
    values = rng.random(500)
    scores = values[rng.integers(0, 500, 20_000)]
    y = (rng.random(20_000) < 0.3) | (scores > 0.8)
    predictions = scores > 0.6
    m = binary_metrics(y, scores, predictions)
    assert m["auroc"] == roc_auc_score(y, scores)
    assert m["auprc"] == average_precision_score(y, scores)
    assert m["hard_auc"] == roc_auc_score(y, predictions)
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    assert m["detection_at_5pct_false_alarms"] == tpr[fpr <= 0.05].max()
