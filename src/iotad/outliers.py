"""The seed paper's canonicalization (LOF) and normalization (DBSCAN), at full scale.

Both work on *distinct* rows: intrusion datasets repeat rows massively (kddcup99's 494,021 training
rows hold 145,584 distinct ones), so every neighbourhood query is answered once per distinct row.
Neighbours come from ``iotad.neighbours.BlockIndex``: exact Euclidean searches (decided on direct
float64 distances; float32 matrix products only filter pairs, within a proven error bound).

- DBSCAN with the repeat counts as ``sample_weight`` is exactly DBSCAN on the raw rows (a repeated
  row lies at distance 0 from its copies, so it counts them all); labels and core flags equal
  scikit-learn's ``DBSCAN`` on the raw rows, cluster numbers included. Memory stays bounded: no
  neighbourhood is ever held whole.
- LOF is ill-defined on raw rows when more than k copies coincide (zero reachability distances):
  ``LofCanonicalizer`` fits novelty LOF on the distinct rows and maps scores back to every row.
  Its formulas are scikit-learn's ``LocalOutlierFactor``'s; neighbours tied at the k-th distance
  are taken by lowest row index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .neighbours import BlockIndex


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct rows in first-seen order, index of each row's distinct row, repeat counts)."""
    matrix = np.ascontiguousarray(matrix)
    as_bytes = matrix.view(np.dtype((np.void, matrix.dtype.itemsize * matrix.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(as_bytes, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first)  # first-seen order, so the result does not depend on byte sorting
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return matrix[first[order]], rank[inverse.ravel()], counts[order]


# ---------------------------------------------------------------------------------------------
# DBSCAN


def chunked_dbscan(
    X: np.ndarray, eps: float, min_samples: float, sample_weight: np.ndarray | None = None, chunk_rows: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """DBSCAN labels (-1 = noise) and core flags, with bounded memory, equal to scikit-learn's.

    Same definition as scikit-learn's: a point is core when the weights within ``eps`` (itself
    included, distance ``<= eps``) sum to at least ``min_samples``; core points within ``eps``
    share a cluster; clusters are numbered in the order of their lowest core point; a non-core
    point within ``eps`` of core points joins the lowest-numbered of their clusters (where
    scikit-learn's depth-first labelling puts it); others are noise. ``chunk_rows`` is the
    number of rows per block of the search (see ``iotad.neighbours``).
    """
    return BlockIndex(X, block_rows=chunk_rows).dbscan(eps, min_samples, sample_weight)


def dbscan_distinct(X: np.ndarray, eps: float, min_samples: float, chunk_rows: int = 1000):
    """DBSCAN on the distinct rows of X weighted by their counts; labels and core flags per row of X."""
    unique, row_to_unique, counts = distinct_rows(X)
    labels, core = chunked_dbscan(unique, eps, min_samples, counts, chunk_rows)
    return labels[row_to_unique], core[row_to_unique], len(unique)


# ---------------------------------------------------------------------------------------------
# LOF canonicalization


@dataclass
class LofCanonicalizer:
    """The seed paper's canonicalization: ``train`` fits LOF and takes the top ``contamination``
    share of training outlier scores; the *outline score* is the lowest of them. ``test`` scores
    records against the training data (novelty LOF) and labels them 1 (inlier) or -1 (outlier).

    Scores are LOF values (higher = more anomalous, ~1 for inliers), computed on distinct rows
    and mapped back; the outline score is a quantile over all training rows (repeats counted).
    scikit-learn's ``LocalOutlierFactor(novelty=True)`` formulas, in float64, on exact k nearest
    neighbours (ties at the k-th distance: lowest row index first).
    """

    n_neighbors: int = 20
    contamination: float = 0.1
    block_rows: int = 1024

    def train(self, X: np.ndarray) -> np.ndarray:
        """Fit on the training matrix; return its per-row scores."""
        unique, row_to_unique, _ = distinct_rows(X)
        if len(unique) < 2:
            raise ValueError(f"LOF needs at least 2 distinct training rows, got {len(unique)}")
        # A few telemetry devices have fewer distinct rows than neighbours asked for (garage door: 4).
        self.n_neighbors_ = min(self.n_neighbors, len(unique) - 1)
        self.index_ = BlockIndex(unique, block_rows=self.block_rows)
        self.n_distinct_ = len(unique)
        sq, self.neighbors_ = self.index_.knn(self.n_neighbors_)
        dist = np.sqrt(sq)
        self.k_distance_ = dist[:, -1]
        self.lrd_ = self._local_reachability_density(dist, self.neighbors_)
        # Training LOF (scikit-learn's negative_outlier_factor_, sign flipped).
        self.lof_ = np.mean(self.lrd_[self.neighbors_] / self.lrd_[:, None], axis=1)
        scores = self.lof_[row_to_unique]
        # The top `contamination` share of rows are outliers; the outline score is the lowest of those.
        self.outline_score_ = float(np.quantile(scores, 1 - self.contamination, method="higher"))
        return scores

    def _local_reachability_density(self, dist: np.ndarray, neighbors: np.ndarray) -> np.ndarray:
        reach = np.maximum(dist, self.k_distance_[neighbors])
        return 1.0 / (np.mean(reach, axis=1) + 1e-10)  # scikit-learn's 1e-10 against duplicates

    def score(self, X: np.ndarray) -> np.ndarray:
        """Novelty LOF of each row against the training rows (scikit-learn's ``score_samples``, sign flipped)."""
        unique, row_to_unique, _ = distinct_rows(X)
        sq, neighbors = self.index_.knn(self.n_neighbors_, unique)
        lrd = self._local_reachability_density(np.sqrt(sq), neighbors)
        return np.mean(self.lrd_[neighbors] / lrd[:, None], axis=1)[row_to_unique]

    def test(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, labels) for new records: -1 where the score reaches the outline score (and exceeds 1), else 1."""
        scores = self.score(X)
        return scores, self.label(scores)

    def label(self, scores: np.ndarray) -> np.ndarray:
        # An LOF of 1 or less means a density at least that of its neighbours: never an outlier,
        # even when (as on the 2-4 distinct rows of some telemetry devices) it reaches the outline score.
        return np.where((scores >= self.outline_score_) & (scores > 1), -1, 1)


def outlier_summary(frame, flag_column: str, outlier) -> dict:
    """Records, outliers and their percentage per split, overall and per family."""

    def counts(group):
        total, hits = len(group), int((group[flag_column] == outlier).sum())
        return {"records": total, "outliers": hits, "percent": round(100 * hits / total, 4) if total else 0.0}

    return {
        "splits": {
            split: {"overall": counts(g), "families": {f: counts(fg) for f, fg in g.groupby("family", observed=True)}}
            for split, g in frame.groupby("split", sort=False)
        }
    }


def score_auroc(frame, score_column: str) -> dict:
    """AUROC of an outlier score against ``is_attack`` per split (None, JSON null, where a split has one class)."""
    from sklearn.metrics import roc_auc_score

    result = {}
    for split, rows in frame.groupby("split", sort=False):
        y = rows["is_attack"].to_numpy(bool)
        result[split] = float(roc_auc_score(y, rows[score_column])) if 0 < y.sum() < len(y) else None
    return result


def training_keep_mask(rows, lof_scores=None, dbscan_labels=None) -> tuple[np.ndarray, dict]:
    """Rows of the training split that models train on: without LOF outliers and/or DBSCAN noise
    when those frames are given (aligned on ``part`` and ``record_id``), and how many each removed."""
    keep = np.ones(len(rows), dtype=bool)
    removed = {}
    key = ["part", "record_id"]
    for name, frame, flag, outlier in (
        ("lof_outliers", lof_scores, "lof_label", -1),
        ("dbscan_noise", dbscan_labels, "cluster", -1),
    ):
        if frame is None:
            continue
        flags = rows[key].merge(frame[frame["split"] == "train"][[*key, flag]], on=key, how="left")[flag]
        if flags.isna().any():
            raise ValueError(f"{name}: {int(flags.isna().sum())} training rows have no {flag}; stale inputs?")
        hit = (flags == outlier).to_numpy()
        removed[name] = int((hit & keep).sum())
        keep &= ~hit
    return keep, removed
