"""DBSCAN on weighted distinct rows against scikit-learn on the raw rows; LOF against the seed
paper's literal procedure."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.neighbors import LocalOutlierFactor

from iotad.outliers import LofCanonicalizer, chunked_dbscan, dbscan_distinct, distinct_rows


def blobs_with_repeats(seed=0, n=600):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(5, 3))
    points = np.vstack([c + rng.normal(scale=0.35, size=(n // 5, 3)) for c in centres])
    points = np.vstack([points, rng.uniform(-6, 6, size=(60, 3))])  # scattered noise
    # Exact repeats, like the intrusion datasets (continuous values: no ties at distance eps).
    repeats = rng.integers(1, 5, size=len(points))
    return np.repeat(points, repeats, axis=0)


def same_partition(a, b):
    """Equal up to relabelling of clusters."""
    pairs = set(zip(a, b))
    return len(pairs) == len(set(a)) == len(set(b))


def test_distinct_rows_round_trip():
    X = blobs_with_repeats()
    unique, row_to_unique, counts = distinct_rows(X)
    assert len(unique) < len(X) and counts.sum() == len(X)
    np.testing.assert_array_equal(unique[row_to_unique], X)


@pytest.mark.parametrize("eps, min_samples, chunk_rows", [(0.5, 5, 97), (0.3, 8, 1000), (0.8, 20, 13)])
def test_weighted_distinct_dbscan_equals_sklearn_on_raw_rows(eps, min_samples, chunk_rows):
    X = blobs_with_repeats()
    raw = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    raw_core = np.zeros(len(X), dtype=bool)
    raw_core[raw.core_sample_indices_] = True

    labels, core, n_distinct = dbscan_distinct(X, eps, min_samples, chunk_rows=chunk_rows)
    assert n_distinct < len(X)
    print(f"eps={eps} min_samples={min_samples}: noise {np.sum(labels == -1)} (sklearn raw: {np.sum(raw.labels_ == -1)}), "
          f"clusters {labels.max() + 1}, {len(X)} rows, {n_distinct} distinct")
    np.testing.assert_array_equal(core, raw_core)
    np.testing.assert_array_equal(labels == -1, raw.labels_ == -1)  # the same noise set
    assert same_partition(labels[core], raw.labels_[core])  # the same clusters of core points


def test_chunked_dbscan_matches_sklearn_with_sample_weight():
    X = blobs_with_repeats(seed=1)
    unique, _, counts = distinct_rows(X)
    ref = DBSCAN(eps=0.5, min_samples=6).fit(unique, sample_weight=counts)
    labels, core = chunked_dbscan(unique, 0.5, 6, counts, chunk_rows=50)
    np.testing.assert_array_equal(labels == -1, ref.labels_ == -1)
    assert same_partition(labels[core], ref.labels_[core])


def test_lof_test_labels_agree_with_the_literal_refit_procedure():
    """The seed paper adds each test record to the training set and refits; novelty LOF is the fast
    stand-in. On distinct rows the labels must agree on at least 99 % of records."""
    rng = np.random.default_rng(7)
    train = np.vstack([rng.normal(size=(300, 4)), rng.normal(loc=3, size=(100, 4))])
    test = np.vstack([rng.normal(size=(150, 4)), rng.uniform(-6, 6, size=(50, 4))])
    lof = LofCanonicalizer(n_neighbors=20, contamination=0.1)
    lof.train(train)
    _, fast = lof.test(test)

    literal = np.empty(len(test), dtype=int)
    for i, record in enumerate(test):
        refit = LocalOutlierFactor(n_neighbors=20).fit(np.vstack([train, record]))
        literal[i] = lof.label(np.array([-refit.negative_outlier_factor_[-1]]))[0]
    agreement = float(np.mean(fast == literal))
    print(f"LOF novelty vs literal refit: {agreement:.2%} agreement on {len(test)} test records "
          f"({np.sum(literal == -1)} literal outliers)")
    assert agreement >= 0.99


def test_lof_outline_score_keeps_the_top_share_of_training_rows():
    X = blobs_with_repeats(seed=3)
    lof = LofCanonicalizer(n_neighbors=10, contamination=0.1)
    scores = lof.train(X)
    share = np.mean(scores >= lof.outline_score_)
    assert 0.1 <= share < 0.15  # ties at the threshold can only add rows
    assert lof.label(scores).tolist().count(-1) == np.sum(scores >= lof.outline_score_)


def test_training_keep_mask_drops_outliers_and_noise_once():
    import pandas as pd

    from iotad.outliers import training_keep_mask

    rows = pd.DataFrame({"part": ["train"] * 5, "record_id": [10, 11, 12, 13, 14]})
    lof = pd.DataFrame({"part": "train", "record_id": [14, 13, 12, 11, 10, 10], "split": ["train"] * 5 + ["test"],
                        "lof_label": [-1, 1, 1, -1, 1, -1]})
    dbscan = pd.DataFrame({"part": "train", "record_id": [10, 11, 12, 13, 14], "split": "train", "cluster": [0, -1, -1, 2, 0]})
    keep, removed = training_keep_mask(rows, lof, dbscan)
    assert keep.tolist() == [True, False, False, True, False]
    assert removed == {"lof_outliers": 2, "dbscan_noise": 1}  # row 11 counted once, by LOF
    assert training_keep_mask(rows)[0].all()


def test_lof_with_fewer_distinct_rows_than_neighbours_uses_them_all():
    X = np.repeat(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [5.0, 5.0]]), 50, axis=0)
    lof = LofCanonicalizer(n_neighbors=20)
    scores = lof.train(X)
    assert lof.n_neighbors_ == 3 and np.isfinite(scores).all()
    labels = lof.label(scores)
    assert set(scores[labels == -1]) == {scores.max()} and scores.max() > 1  # the one corner with LOF > 1


def test_lof_of_one_is_never_an_outlier():
    lof = LofCanonicalizer()
    lof.outline_score_ = 1.0  # e.g. two distinct rows: every score is 1
    assert lof.label(np.array([1.0, 1.0, 1.2])).tolist() == [1, 1, -1]
