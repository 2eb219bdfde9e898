"""Exact Euclidean neighbour searches with float32 matrix products: k nearest neighbours and
radius neighbourhoods (for LOF and DBSCAN on whole training files).

**Exact** means decided on the float64 distance computed directly, ``sum((a - b) ** 2)`` over the
features, never on an approximation: the float32 products only *filter* pairs, with a rigorous
error bound, and every pair whose fate the bound leaves open is recomputed directly in float64.
k nearest neighbours are ordered by that exact squared distance, ties by row index (lowest
first: what scikit-learn's stable ``sort_graph_by_row_values`` gives on a precomputed graph);
scikit-learn's own brute search breaks ties by the accidents of a heap and of float64 rounding.

How the work is cut
-------------------
- The rows are ordered by a partition tree (split at the median of the top principal direction,
  down to *blocks* of at most ``block_rows`` rows, then *cells* of at most ``cell_rows``), so
  a block, and a cell more so, holds nearby rows. Blocks and cells have a centre (their mean)
  and cells a radius (the largest distance of a row from the centre).
- A *tile* is a set of query rows against (some cells of) one block: one float32 matrix product
  of ``[a', (1 + c) |a|^2, 1]`` by ``[-2 b', 1, (1 + c) |b|^2]`` gives ``hi``, an upper bound of
  every squared distance in the tile; ``lo = hi - 2 c (|a|^2 + |b|^2)`` is a lower bound.
  ``a``, ``b`` are the rows minus the block's centre (float64), ``a'``, ``b'`` the same rounded
  to float32: local centring keeps the bound proportional to the block's own size, not to the
  data's distance from the origin.
- A query row meets a cell only when the cell's ball may hold a row that matters:
  ``|q - centre| - radius <= t`` (t = eps for DBSCAN; for k nearest neighbours the square root
  of an upper bound of the k-th squared distance, first from the blocks with the nearest
  centres, then tightened tile by tile). ``|q - centre|`` is bounded below by the same kind of
  float32 product (with ``1 - c``) about the data's mean.
- Tiles run on as many threads as BLAS would use, BLAS itself limited to one thread each.

The error bound
---------------
With ``u = 2^-24`` (float32 unit roundoff), ``m = d + 2`` terms per dot product and
``S = |a|^2 + |b|^2``: the float32 dot product of m terms, in any order and with or without
FMA, errs by at most ``gamma_m * sum|terms| <= 1.01 m u * 2 S (1 + u)`` (about ``2.03 m u S``);
the norms, taken in float64 before rounding the coordinates, differ from ``|a'|^2 + |b'|^2`` by
at most ``2.02 u S`` and are rounded to float32 (``u (1 + c) S``); rounding the coordinates to
float32 moves the distance by at most ``u (|a| + |b|)``, the squared distance by at most
``4.1 u S``; the direct float64 sum differs from the real one by about ``(d + 1) 2^-53 * 2 S``.
Altogether below ``(2.1 m + 8) u S``; the filter uses ``c = 2 (2.1 m + 11) u`` (3.1e-5 for
d = 118), more than twice that, and an absolute ``2^-100`` against underflow. Data whose float32
squares could overflow are scaled by a power of two first (exact); query rows farther out than
float32 can square are searched directly in float64.

Near-duplicates
---------------
The bound grows with the block's size, not with the distances asked for: where rows lie closer
than it (min-max scaled counters of huge range: ton-iot-network has most distinct rows' 20th
neighbour below 1e-14 in squared distance, its blocks' bounds near 1e-10), every row of such a
cluster stayed a candidate of every other, all recomputed directly (1,250 per row there, 6.7
GiB). So a tile row with more than ``2 k + REFINE_FROM`` candidates gets float64 products for
the tile's cells that hold them, each about the cell's own centre (``refine``): error below
``(4.02 d + 11) 2^-53 S`` with S now the squared distances to the cell's centre (products and
norms ``1.01 d u S`` each, rounding the coordinates ``4.1 u S``, the direct sum ``2 (d + 1) u S``,
the rest ``4 u S``), ``c64 = 2 (4.1 m + 11) 2^-53`` used; the k-th smallest of these upper bounds
tightens the row's bound, and only pairs whose float64 lower bound is within it are recomputed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_info, threadpool_limits

U32 = 2.0**-24
U64 = 2.0**-53
TINY = 2.0**-100
SEED_BLOCKS = 3  # blocks with the nearest centres that bound each row's k-th distance first
QUERY_ROWS = 1024  # query rows per tile (a tile's float32 products stay a few MiB)
EXACT_PAIRS = 1 << 15  # pairs per chunk of direct float64 distances
REFINE_FROM = 8  # a tile row with more candidates than 2 k + REFINE_FROM is refined in float64


def default_workers() -> int:
    """As many threads as BLAS would use (OPENBLAS_NUM_THREADS and the like, which Snakemake sets
    to a job's threads, are respected), at most the CPUs this process may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    blas = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(1, min([cpus, *blas]))


def exact_sq(A: np.ndarray, ia: np.ndarray, B: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """sum((A[ia] - B[ib]) ** 2) per pair, directly in float64 (pairwise summation per row)."""
    out = np.empty(len(ia))
    for s in range(0, len(ia), EXACT_PAIRS):
        diff = A[ia[s : s + EXACT_PAIRS]] - B[ib[s : s + EXACT_PAIRS]]
        np.square(diff, out=diff)
        out[s : s + EXACT_PAIRS] = diff.sum(axis=1)
    return out


def _round_up32(x: np.ndarray) -> np.ndarray:
    """float32 values not below x (thresholds compared against float32 products)."""
    x = np.asarray(x, dtype=np.float64)
    y = x.astype(np.float32)
    low = y.astype(np.float64) < x
    y[low] = np.nextafter(y[low], np.float32(np.inf))
    return y


def _tree_blocks(
    X: np.ndarray, leaf: int, seed: int = 0, split_radius: float = np.inf, min_rows: int = 16
) -> list[np.ndarray]:
    """Row indices per block: split at the median of the top principal direction (estimated on
    at most 2,048 rows of the node), depth first, until nodes hold at most ``leaf`` rows. Works
    on a float32 copy kept in node order, so each node is a contiguous slice."""
    rng = np.random.default_rng(seed)
    W = (X - X.mean(axis=0)).astype(np.float32)
    ids = np.arange(len(X))
    blocks, stack = [], [(0, len(X))]
    while stack:
        s, e = stack.pop()
        node = W[s:e]
        if e - s <= leaf and (e - s <= min_rows or not _wider_than(node, split_radius)):
            blocks.append(ids[s:e])
            continue
        pick = np.arange(e - s) if e - s <= 2048 else np.sort(rng.choice(e - s, 2048, replace=False))
        sample = node[pick].astype(np.float64)
        sample -= sample.mean(axis=0)
        v = rng.standard_normal(X.shape[1])
        for _ in range(4 if e - s > 4096 else 2):  # a rough direction does for small nodes
            v = sample.T @ (sample @ v)
            norm = np.linalg.norm(v)
            if norm == 0:  # all rows alike in the sample: any direction
                v = rng.standard_normal(X.shape[1])
                break
            v /= norm
        half = (e - s) // 2
        part = np.argpartition(node @ v.astype(np.float32), half)
        W[s:e] = node[part]
        ids[s:e] = ids[s:e][part]
        stack.append((s + half, e))
        stack.append((s, s + half))
    return blocks


def _wider_than(node: np.ndarray, radius: float) -> bool:
    if not np.isfinite(radius):
        return False
    centred = node - node.mean(axis=0)
    return bool(np.einsum("ij,ij->i", centred, centred).max() > radius * radius)


class BlockIndex:
    """Rows ordered in blocks (tiles' columns) split into cells (pruning), with float32 operands
    for the filter and float64 rows for exact distances. Positions (0..n-1) are in block order;
    ``order[p]`` is the original row of position p."""

    def __init__(
        self,
        X: np.ndarray,
        block_rows: int = 512,
        cell_rows: int = 64,
        cell_radius: float = np.inf,
        workers: int | None = None,
        seed: int = 0,
    ):
        X64 = np.ascontiguousarray(X, dtype=np.float64)
        if X64.ndim != 2 or len(X64) == 0:
            raise ValueError(f"expected a non-empty 2-D matrix, got shape {X64.shape}")
        if not np.isfinite(X64).all():
            raise ValueError("neighbour search needs finite values")
        self.n, self.d = X64.shape
        self.workers = workers or default_workers()
        block_rows = max(1, int(block_rows))
        cells, cell_block = [], []
        for b, rows in enumerate(_tree_blocks(X64, block_rows, seed)):
            parts = _tree_blocks(X64[rows], min(block_rows, max(1, int(cell_rows))), seed, cell_radius)
            cells += [rows[p] for p in parts]
            cell_block += [b] * len(parts)
        self.order = np.concatenate(cells)
        self.rank = np.empty_like(self.order)
        self.rank[self.order] = np.arange(self.n)
        cell_sizes = np.array([len(c) for c in cells])
        self.cell_starts = np.concatenate([[0], np.cumsum(cell_sizes)])
        self.cell_block = np.array(cell_block)
        self.cell_of = np.repeat(np.arange(len(cells)), cell_sizes)
        self.n_blocks = int(self.cell_block[-1]) + 1
        self.block_cells = np.searchsorted(self.cell_block, np.arange(self.n_blocks + 1))
        self.starts = self.cell_starts[self.block_cells]
        sizes = np.diff(self.starts)
        self.block_of = np.repeat(np.arange(self.n_blocks), sizes)
        self.data = X64[self.order]
        self.centres = np.add.reduceat(self.data, self.starts[:-1], axis=0) / sizes[:, None]
        cell_centres = np.add.reduceat(self.data, self.cell_starts[:-1], axis=0) / cell_sizes[:, None]
        self.cell_centres = cell_centres
        local = self.data - cell_centres[self.cell_of]
        self.cell_radius = np.maximum.reduceat(np.sqrt(np.einsum("ij,ij->i", local, local)), self.cell_starts[:-1])
        self.cell_radius = self.cell_radius * (1 + 1e-12) + TINY
        self.g = self.data.mean(axis=0)
        spread = 2 * np.abs(self.data - self.g).max()  # bounds |row - centre| and |row - g|
        # A power of two so that float32 squares and their sums stay far from overflow.
        self.scale = 2.0 ** -max(0, int(np.ceil(np.log2(spread))) - 40) if spread > 0 else 1.0
        local = self.data - self.centres[self.block_of]
        self.radius = np.maximum.reduceat(np.sqrt(np.einsum("ij,ij->i", local, local)), self.starts[:-1])
        self.radius = self.radius * (1 + 1e-12) + TINY
        m = self.d + 2
        self.c = 2 * (2.1 * m + 11) * U32
        self.c64 = 2 * (4.1 * m + 11) * U64
        self.exact_pairs = 0  # pairs recomputed directly in float64 by the last knn
        if self.scale != 1:
            local *= self.scale
        self.col_norm = np.einsum("ij,ij->i", local, local)
        self.cols = np.empty((self.n, m), dtype=np.float32)
        self.cols[:, : self.d] = local
        del local
        self.cols[:, : self.d] *= -2
        self.cols[:, self.d] = 1
        self.cols[:, self.d + 1] = (1 + self.c) * self.col_norm
        self.block_norm_max = np.maximum.reduceat(self.col_norm, self.starts[:-1])
        # centre operands (about the data's mean) for lower bounds of row-to-centre distances
        self.cell_op = self._centre_operand(cell_centres)
        self.block_op = self._centre_operand(self.centres)

    # -----------------------------------------------------------------------------------------
    # lower bounds of distances from query rows to cells and blocks

    def _centre_operand(self, centres):
        c64 = (centres - self.g) * self.scale
        cn = np.einsum("ij,ij->i", c64, c64)
        C = np.empty((len(centres), self.d + 2), dtype=np.float32)
        C[:, : self.d] = -2 * c64
        C[:, self.d] = 1
        C[:, self.d + 1] = (1 - self.c) * cn
        return C

    def query_operand(self, Q: np.ndarray) -> np.ndarray:
        """[q', (1 - c)|q'|^2, 1] about the data's mean: with a centre operand, a float32 product
        that is a lower bound of the squared distance (the tiles' error bound, with 1 - c)."""
        A = np.empty((len(Q), self.d + 2), dtype=np.float32)
        for s in range(0, len(Q), 8192):
            q64 = (Q[s : s + 8192] - self.g) * self.scale
            A[s : s + 8192, : self.d] = q64
            A[s : s + 8192, self.d] = (1 - self.c) * np.einsum("ij,ij->i", q64, q64)
        A[:, self.d + 1] = 1
        return A

    def _centre_bounds(self, C: np.ndarray, A: np.ndarray) -> np.ndarray:
        """float32 lower bounds (centres x queries) of the distances."""
        out = C @ A.T
        np.maximum(out, 0, out=out)
        np.sqrt(out, out=out)
        out *= np.float32((1 - 4 * U32) / self.scale)  # float32 root and product: stay below
        return out

    def reach(self, A: np.ndarray, t, blocks: range) -> np.ndarray:
        """bool (cells of ``blocks`` x queries): may a row of the cell lie within distance t
        (a number, or one per query) of the query? ``A = query_operand(Q)``."""
        c0, c1 = self.block_cells[blocks.start], self.block_cells[blocks.stop]
        radius = _round_up32(self.cell_radius[c0:c1] * (1 + 16 * U32))
        t = _round_up32(np.broadcast_to(np.asarray(t, dtype=np.float64), (len(A),)) * (1 + 16 * U32))
        out = np.empty((c1 - c0, len(A)), dtype=bool)

        def part(s, e):
            dist = self._centre_bounds(self.cell_op[c0:c1], A[s:e])
            np.less_equal(dist, radius[:, None] + t[None, s:e], out=out[:, s:e])

        self._map(part, [(s, min(s + 16384, len(A))) for s in range(0, len(A), 16384)])
        return out

    def _groups(self, cells_per_group: int = 256):
        """Consecutive blocks with at most ~cells_per_group cells together."""
        b = 0
        while b < self.n_blocks:
            e = int(np.searchsorted(self.block_cells, self.block_cells[b] + cells_per_group, side="right")) - 1
            e = max(e, b + 1)
            yield range(b, min(e, self.n_blocks))
            b = min(e, self.n_blocks)

    def _block_reach(self, reach: np.ndarray, group: range) -> np.ndarray:
        """bool (blocks of the group x queries): reaches any of the block's cells."""
        c0 = self.block_cells[group.start]
        return np.logical_or.reduceat(reach, self.block_cells[group.start : group.stop] - c0, axis=0)

    def _tasks(self, reach, block_reach, group, b, rowmask=None, limit=None):
        """Tasks (block, query rows, columns or None) of block b: the query rows (indices into
        reach's columns; the first ``limit`` only, where ``rowmask``) that reach one of its cells,
        in chunks, each against the cells that any row of the chunk reaches."""
        sel = block_reach[b - group.start]
        if limit is not None:
            sel = sel[:limit]
        if rowmask is not None:
            sel = sel & rowmask[: len(sel)]
        rows = np.flatnonzero(sel)
        c0 = self.block_cells[group.start]
        cells = reach[self.block_cells[b] - c0 : self.block_cells[b + 1] - c0]
        tasks = []
        for s in range(0, len(rows), QUERY_ROWS):
            chunk = rows[s : s + QUERY_ROWS]
            hit = np.flatnonzero(cells[:, chunk].any(axis=1)) + self.block_cells[b]
            if len(hit) == len(cells):
                cols = None
            else:
                cols = np.concatenate([np.arange(self.cell_starts[c], self.cell_starts[c + 1]) for c in hit])
            tasks.append((b, chunk, cols))
        return tasks

    # -----------------------------------------------------------------------------------------
    # one tile

    def _operand(self, Q: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Query operand [a', (1 + c)|a|^2, 1] against a block, and |a|^2 (float64, before the
        coordinates are rounded to float32)."""
        diff = Q - self.centres[block]
        if self.scale != 1:
            diff *= self.scale
        norm = np.einsum("ij,ij->i", diff, diff)
        A = np.empty((len(Q), self.d + 2), dtype=np.float32)
        A[:, : self.d] = diff
        A[:, self.d] = (1 + self.c) * norm
        A[:, self.d + 1] = 1
        return A, norm

    def products(self, Q: np.ndarray, block: int, cols=None) -> tuple[np.ndarray, np.ndarray]:
        """The tile's float32 products ``hi`` (upper bounds of the squared distances, in scaled
        units, less TINY) against the block's rows (or its positions ``cols``), and the query
        rows' squared norms about the block's centre."""
        A, qnorm = self._operand(Q, block)
        B = self.cols[self.starts[block] : self.starts[block + 1]] if cols is None else self.cols[cols]
        return A @ B.T, qnorm

    def sure_cut(self, thr: float) -> np.float32:
        """The largest float32 h with h + TINY <= thr (scaled): hi <= it means within thr for sure."""
        x = thr * self.scale * self.scale - TINY
        y = np.float32(x)
        return np.nextafter(y, np.float32(-np.inf)) if float(y) > x else y

    def cut(self, qnorm, block, thr):
        """float32 thresholds of a tile's hi, one per row: pairs above can be left out."""
        return _round_up32(thr * self.scale * self.scale + 2 * self.c * (qnorm + self.block_norm_max[block]) + TINY)

    def pairs(self, hi, qnorm, block, thr, cols=None, mask=None, rows=None, flat=None):
        """Pairs of a tile (row of hi, position) whose lo <= thr (float64, one per row; original
        units), with lo and hi in original units. ``mask`` (shaped like hi) leaves pairs out;
        ``rows`` restricts to some rows of hi (r then indexes ``rows``); ``flat``: the flat
        indices of hi where ``hi <= cut(qnorm, block, thr)``, found already (some left out)."""
        if rows is not None:
            hi, qnorm = hi[rows], qnorm[rows]
            if mask is not None:
                mask = mask[rows]
        s2 = self.scale * self.scale
        if flat is None:
            keep = hi <= self.cut(qnorm, block, thr)[:, None]
            if mask is not None:
                keep &= mask
            flat = np.flatnonzero(keep)
        r, j = np.divmod(flat, hi.shape[1])
        j = j + self.starts[block] if cols is None else cols[j]
        h = hi.ravel()[flat].astype(np.float64)
        lo = h - 2 * self.c * (qnorm[r] + self.col_norm[j]) - TINY
        keep = lo <= thr[r] * s2
        return r[keep], j[keep], lo[keep] / s2, (h[keep] + TINY) / s2

    def own_column(self, rows: np.ndarray, block: int, cols=None) -> tuple[np.ndarray, np.ndarray]:
        """(indices into rows, columns of the tile) where an indexed row (a position) meets itself
        in a tile of the block (or of its positions cols)."""
        start, stop = self.starts[block], self.starts[block + 1]
        mine = np.flatnonzero((rows >= start) & (rows < stop))
        if cols is None:
            return mine, rows[mine] - start
        at = np.minimum(np.searchsorted(cols, rows[mine]), max(len(cols) - 1, 0))
        hit = cols[at] == rows[mine]
        return mine[hit], at[hit]

    def tile(self, Q: np.ndarray, block: int, thr: np.ndarray, cols=None):
        """Pairs (query row, position) of Q x block (or its positions cols) whose squared
        distance may be at most thr (one per query row), with lo <= exact squared distance <= hi."""
        hi, qnorm = self.products(Q, block, cols)
        return self.pairs(hi, qnorm, block, thr, cols)

    def refine(self, Q: np.ndarray, block: int, cols, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) bounds of the squared distances of the rows Q against the tile's columns (the
        block's positions, or ``cols``) in ``cells`` (inf elsewhere), from float64 products about
        each cell's centre: a bound as tight as the cell and the rows' distances to it are small,
        where the tiles' float32 bound is as loose as the block is wide (rows apart by less than
        that: near-duplicates)."""
        start = self.starts[block]
        n_cols = self.starts[block + 1] - start if cols is None else len(cols)
        lo = np.full((len(Q), n_cols), np.inf)
        hi = np.full((len(Q), n_cols), np.inf)
        s2 = self.scale * self.scale
        for c in cells:
            s, e = self.cell_starts[c], self.cell_starts[c + 1]
            at = s - start if cols is None else int(np.searchsorted(cols, s))  # whole cells in cols
            a = Q - self.cell_centres[c]
            b = self.data[s:e] - self.cell_centres[c]
            if self.scale != 1:
                a *= self.scale
                b *= self.scale
            norm = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :]
            est = norm - 2 * (a @ b.T)
            err = self.c64 * norm + TINY
            lo[:, at : at + e - s] = (est - err) / s2
            hi[:, at : at + e - s] = (est + err) / s2
        return lo, hi

    def _map(self, fn, tasks):
        if self.workers == 1 or len(tasks) <= 1:
            return [fn(*t) for t in tasks]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda t: fn(*t), tasks))

    # -----------------------------------------------------------------------------------------
    # k nearest neighbours

    def knn(self, k: int, Q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest neighbours, (squared distances, original row indices), each row sorted
        by (squared distance, index). Without ``Q``: of every indexed row among the others
        (itself excluded, like scikit-learn's ``kneighbors()``), in original row order."""
        with threadpool_limits(1, user_api="blas"):
            return self._knn(int(k), Q)

    def _knn(self, k, Q):
        train = Q is None
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if train:
            Q, m = self.data, self.n
            if k > self.n - 1:
                raise ValueError(f"k = {k} needs at least {k + 1} rows, got {self.n}")
        else:
            Q = np.ascontiguousarray(Q, dtype=np.float64)
            if Q.ndim != 2 or Q.shape[1] != self.d or not np.isfinite(Q).all():
                raise ValueError(f"queries must be finite, with {self.d} columns")
            if k > self.n:
                raise ValueError(f"k = {k} needs at least {k} indexed rows, got {self.n}")
            far = np.abs(Q - self.g).max(axis=1) * self.scale > 2.0**56
            if far.any():  # float32 cannot square these: direct float64 distances to every row
                sq = np.empty((len(Q), k))
                idx = np.empty((len(Q), k), dtype=np.intp)
                near = np.flatnonzero(~far)
                if len(near):
                    sq[near], idx[near] = self._knn(k, Q[near])
                for i in np.flatnonzero(far):
                    d = exact_sq(self.data, np.arange(self.n), Q, np.full(self.n, i))
                    pick = np.lexsort((self.order, d))[:k]
                    sq[i], idx[i] = d[pick], self.order[pick]
                return sq, idx
            m = len(Q)
        s2 = self.scale * self.scale
        A = self.query_operand(Q)

        # 1. Seed: each query row against the SEED_BLOCKS blocks with the nearest centres (its own
        # block among them when it is indexed): the k-th smallest upper bound there, T, is at
        # least the k-th exact squared distance.
        n_seed = min(SEED_BLOCKS, self.n_blocks)
        near_d = np.full((n_seed, m), np.inf, dtype=np.float32)
        near_b = np.zeros((n_seed, m), dtype=np.intp)
        for g in range(0, self.n_blocks, 256):
            dist = np.concatenate([near_d, self._centre_bounds(self.block_op[g : g + 256], A)])
            ids = np.concatenate([near_b, np.arange(g, min(g + 256, self.n_blocks))[:, None].repeat(m, 1)])
            pick = (
                np.argpartition(dist, n_seed - 1, axis=0)[:n_seed]
                if len(dist) > n_seed
                else np.arange(n_seed)[:, None].repeat(m, 1)
            )
            near_d, near_b = np.take_along_axis(dist, pick, 0), np.take_along_axis(ids, pick, 0)
        seeds = near_b
        if train:  # the own block among them, instead of the farthest
            own = self.block_of
            has = (seeds == own[None, :]).any(axis=0)
            far = np.argmax(near_d, axis=0)
            seeds[far[~has], np.flatnonzero(~has)] = own[~has]
        del near_d, near_b
        flat = seeds.ravel()
        order = np.argsort(flat, kind="stable")
        bounds = np.searchsorted(flat[order], np.arange(self.n_blocks + 1))
        tasks = []
        for b in range(self.n_blocks):
            rows = np.sort(order[bounds[b] : bounds[b + 1]] % m)
            for s in range(0, len(rows), QUERY_ROWS):
                tasks.append((b, rows[s : s + QUERY_ROWS]))

        def seed(b, rows):
            start, stop = self.starts[b], self.starts[b + 1]
            hi, _ = self.products(Q[rows], b)
            if train:
                mine = (rows >= start) & (rows < stop)
                hi[np.flatnonzero(mine), rows[mine] - start] = np.inf
            take = min(k, stop - start)
            best = np.full((len(rows), k), np.inf, dtype=np.float32)
            best[:, :take] = np.partition(hi, take - 1, axis=1)[:, :take] if take < stop - start else hi
            return rows, best

        best = np.full((m, n_seed * k), np.inf, dtype=np.float32)
        filled = np.zeros(m, dtype=np.intp)
        for rows, part in self._map(seed, tasks):
            best[rows[:, None], filled[rows][:, None] * k + np.arange(k)] = part
            filled[rows] += 1
        T = (np.partition(best, k - 1, axis=1)[:, k - 1].astype(np.float64) + TINY) / s2
        del best, filled, seeds

        # 2. Every cell that may hold a row within sqrt(T): pairs with lo <= T. Each tile also
        # tightens T (the k-th smallest hi of a row's products there, itself left out) and
        # drops the pairs that the tighter bound leaves out; later batches see the tighter T.
        # Rows still left with many pairs (the float32 bound, as wide as the block, wider than
        # their neighbours' distances: near-duplicates) get float64 bounds about the cells'
        # centres for those pairs, and the k-th smallest of these tightens T again.
        refine_from = 2 * k + REFINE_FROM

        def visit(b, rows, cols):
            hi_m, qnorm = self.products(Q[rows], b, cols)
            if train:  # itself left out
                hi_m[self.own_column(rows, b, cols)] = np.inf
            thr = T[rows]
            flat = np.flatnonzero(hi_m <= self.cut(qnorm, b, thr)[:, None])
            width = hi_m.shape[1]
            count = np.diff(np.searchsorted(flat, np.arange(len(rows) + 1) * width))
            dense = np.flatnonzero(count > refine_from)
            if len(dense):
                positions = np.arange(self.starts[b], self.starts[b + 1]) if cols is None else cols
                crowded = count[flat // width] > refine_from
                cells = np.unique(self.cell_of[positions[flat[crowded] % width]])
                flat = flat[~crowded]
            r, j, lo, hi = self.pairs(hi_m, qnorm, b, thr, cols, flat=flat)
            del hi_m, flat
            if train:
                keep = j != rows[r]
                r, j, lo, hi = r[keep], j[keep], lo[keep], hi[keep]
            # the k-th smallest hi of each row's pairs (inf under k pairs); r is sorted
            order = np.lexsort((hi, r))
            r, j, lo, hi = r[order], j[order], lo[order], hi[order]
            first = np.searchsorted(r, np.arange(len(rows)))
            full = np.diff(np.append(first, len(r))) >= k
            bound = np.full(len(rows), np.inf)
            bound[full] = hi[first[full] + k - 1]
            if len(dense):
                lo_d, hi_d = self.refine(Q[rows[dense]], b, cols, cells)
                if train:
                    own = self.own_column(rows[dense], b, cols)
                    lo_d[own], hi_d[own] = np.inf, np.inf
                bound[dense] = np.partition(hi_d, k - 1, axis=1)[:, k - 1]
                rd, at = np.nonzero(lo_d <= np.minimum(thr[dense], bound[dense])[:, None])
                r = np.concatenate([r, dense[rd]])
                j = np.concatenate([j, positions[at]])
                lo = np.concatenate([lo, lo_d[rd, at]])
                del lo_d, hi_d
            keep = lo <= bound[r]
            return rows, bound, rows[r[keep]], j[keep], lo[keep]

        found = []
        step = 2 * self.workers
        for group in self._groups():
            reach = self.reach(A, np.sqrt(T), group)
            block_reach = self._block_reach(reach, group)
            for batch in range(group.start, group.stop, step):
                tasks = []
                for b in range(batch, min(batch + step, group.stop)):
                    tasks += self._tasks(reach, block_reach, group, b)
                for rows, bound, r, j, lo in self._map(visit, tasks):
                    T[rows] = np.minimum(T[rows], bound)
                    found.append((r, j, lo))
            del reach
        del A
        r = np.concatenate([f[0] for f in found])
        j = np.concatenate([f[1] for f in found])
        lo = np.concatenate([f[2] for f in found])
        del found
        # 3. Pairs whose lo is within the final T (the k-th smallest hi of all of a row's pairs,
        # at least its k-th exact squared distance): exact distances, (distance, index) order,
        # the first k.
        keep = lo <= T[r]
        r, j = r[keep], j[keep]
        self.exact_pairs = len(r)
        sq = np.empty(len(r))
        chunk = max(EXACT_PAIRS, -(-len(r) // (4 * self.workers)))

        def exact(s):
            sq[s : s + chunk] = exact_sq(Q, r[s : s + chunk], self.data, j[s : s + chunk])

        self._map(exact, [(s,) for s in range(0, len(r), chunk)])
        orig = self.order[j]
        order = np.lexsort((orig, sq, r))
        r, sq, orig = r[order], sq[order], orig[order]
        first = np.searchsorted(r, np.arange(m))
        if (np.diff(np.append(first, len(r))) < k).any():  # cannot happen: T bounds k kept pairs
            raise AssertionError("neighbour filter lost candidates")
        take = first[:, None] + np.arange(k)[None, :]
        sq, idx = sq[take], orig[take]
        if train:  # back to the original row order
            sq, idx = sq[self.rank], idx[self.rank]
        return sq, idx

    # -----------------------------------------------------------------------------------------
    # DBSCAN

    def dbscan(self, eps: float, min_samples: float, sample_weight: np.ndarray | None = None):
        """scikit-learn's DBSCAN on the indexed rows, exactly: (labels, core flags) in original
        row order. A row is core when the weights within ``eps`` (itself included, distance
        ``<= eps``) sum to at least ``min_samples``; clusters are numbered by their lowest core
        row, and a border row takes the lowest-numbered cluster among its core neighbours
        (scikit-learn's depth-first labelling does both)."""
        with threadpool_limits(1, user_api="blas"):
            return self._dbscan(float(eps), min_samples, sample_weight)

    def _dbscan(self, eps, min_samples, sample_weight):
        n = self.n
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[self.order]
        if (w < 0).any():
            raise ValueError("negative sample weights are not supported")
        e2 = eps * eps
        X = self.data
        comp = np.arange(n)  # component of each core row: the name of one of its rows

        def within(r, j, lo, hi):
            """Pairs decided exactly: sure when hi <= eps^2, else by the direct float64 distance."""
            sure = hi <= e2
            unsure = np.flatnonzero(~sure)
            if len(unsure):
                sure[unsure] = exact_sq(X, r[unsure], X, j[unsure]) <= e2
            return r[sure], j[sure]

        def merge(ca, cb):
            """Join the components named in the pairs (ca[i], cb[i])."""
            nonlocal comp
            differ = ca != cb
            if not differ.any():
                return
            ca, cb = ca[differ], cb[differ]
            names = np.unique(np.concatenate([ca, cb]))
            a, b = np.searchsorted(names, ca), np.searchsorted(names, cb)
            link = coo_matrix((np.ones(len(a), dtype=np.float32), (a, b)), shape=(len(names), len(names)))
            _, joined = connected_components(link, directed=False)
            lowest = np.full(joined.max() + 1, n)
            np.minimum.at(lowest, joined, names)
            rename = np.arange(n)
            rename[names] = lowest[joined]
            comp = rename[comp]

        # 1. Each block against itself: weighted counts (sure pairs counted by a product, the
        # few unsure ones decided exactly); rows core on their own block's counts are core for
        # good (weights are not negative); components of those within the block; all pairs of
        # the other rows, kept for later.
        sure_cut = self.sure_cut(e2)

        def diagonal(b):
            s, e = self.starts[b], self.starts[b + 1]
            hi, qnorm = self.products(X[s:e], b)
            sure = hi <= sure_cut
            count = sure.astype(np.float64) @ w[s:e]
            r, j, lo, h = self.pairs(hi, qnorm, b, np.full(e - s, e2), mask=~sure)
            r, j = within(r + s, j, lo, h)
            r -= s
            count += np.bincount(r, weights=w[j], minlength=e - s)
            core = count >= min_samples
            graph = csr_matrix(sure & core[:, None] & core[None, :])
            both = core[r] & core[j - s]
            graph = graph + csr_matrix(
                (np.ones(int(both.sum()), dtype=bool), (r[both], j[both] - s)), shape=graph.shape
            )
            _, local = connected_components(graph, directed=False)
            lowest = np.full(local.max() + 1, e - s)
            np.minimum.at(lowest, local, np.arange(e - s))
            open_ = np.flatnonzero(~core)
            sr, sj = np.nonzero(sure[open_])
            band = ~core[r]
            pr = np.concatenate([open_[sr], r[band]]) + s
            pj = np.concatenate([sj + s, j[band]])
            return count, core, lowest[local] + s, pr, pj

        count = np.zeros(n)
        core = np.zeros(n, dtype=bool)
        pending = []  # (row, neighbour) pairs of rows not core after step 1
        for b, (cnt, cor, name, r, j) in enumerate(self._map(diagonal, [(b,) for b in range(self.n_blocks)])):
            s, e = self.starts[b], self.starts[b + 1]
            count[s:e], core[s:e] = cnt, cor
            comp[s:e][cor] = name[cor]
            pending.append((r, j))

        # 2. Rows not yet core against every other block their cells may reach, until core.
        open_rows = np.flatnonzero(~core)
        if len(open_rows):
            A = self.query_operand(X[open_rows])
            step = 2 * self.workers

            def visit(b, rows, cols):
                r, j, lo, hi = self.tile(X[rows], b, np.full(len(rows), e2), cols)
                return within(rows[r], j, lo, hi)

            for group in self._groups():
                reach = self.reach(A, eps, group)
                block_reach = self._block_reach(reach, group)
                for batch in range(group.start, group.stop, step):
                    tasks = []
                    todo = ~core[open_rows]
                    for b in range(batch, min(batch + step, group.stop)):
                        mask = todo & (self.block_of[open_rows] != b)
                        tasks += [(b, open_rows[t], c) for b, t, c in self._tasks(reach, block_reach, group, b, mask)]
                    for r, j in self._map(visit, tasks):
                        count += np.bincount(r, weights=w[j], minlength=n)
                        pending.append((r, j))
                    core = count >= min_samples
            del A, reach
        pr = np.concatenate([p[0] for p in pending])
        pj = np.concatenate([p[1] for p in pending])
        del pending
        both = core[pr] & core[pj]
        merge(comp[pr[both]], comp[pj[both]])  # edges of rows that became core after step 1
        border = ~core[pr] & core[pj]
        border_r, border_j = pr[border], pj[border]
        del pr, pj

        # 3. Core rows against core rows of later blocks: join components. Rows of a block's
        # one component are left out; per component of the block, a row joins it when its
        # nearest row there is surely within eps, or, for the few unsure ones, exactly.
        core_pos = np.flatnonzero(core)
        if len(core_pos):
            A = self.query_operand(X[core_pos])
            core_block = self.block_of[core_pos]
            step = 2 * self.workers

            def connect(b, rows, cols, snapshot):
                s, e = self.starts[b], self.starts[b + 1]
                hi, qnorm = self.products(X[rows], b, cols)
                cols = np.arange(s, e) if cols is None else cols
                col_core = core[cols]
                names = snapshot[cols]
                row_name = snapshot[rows]
                cut = _round_up32(e2 * self.scale * self.scale + 2 * self.c * (qnorm + self.block_norm_max[b]) + TINY)
                ea, eb = [np.zeros(0, dtype=np.intp)], [np.zeros(0, dtype=np.intp)]
                for name in np.unique(names[col_core]):
                    sel = col_core & (names == name)
                    sub = hi if sel.all() else hi[:, sel]
                    nearest = sub.min(axis=1)
                    other = row_name != name
                    linked = other & (nearest <= sure_cut)
                    maybe = np.flatnonzero(other & ~linked & (nearest <= cut))
                    if len(maybe):
                        mask = np.broadcast_to(sel, hi.shape)
                        r, j, lo, h = self.pairs(hi, qnorm, b, np.full(len(maybe), e2), cols, mask=mask, rows=maybe)
                        r, _ = within(rows[maybe][r], j, lo, h)
                        linked[np.searchsorted(rows, np.unique(r))] = True
                    ea.append(row_name[linked])
                    eb.append(np.full(int(linked.sum()), name))
                return np.concatenate(ea), np.concatenate(eb)

            for group in self._groups():
                # only rows of earlier blocks query a block: the reach of those alone
                reach = self.reach(A[: int(np.searchsorted(core_block, group.stop - 1))], eps, group)
                block_reach = self._block_reach(reach, group)
                for batch in range(group.start, group.stop, step):
                    tasks = []
                    snapshot = comp.copy()
                    core_names = snapshot[core_pos]
                    for b in range(max(batch, 1), min(batch + step, group.stop)):
                        s, e = self.starts[b], self.starts[b + 1]
                        names = snapshot[s:e][core[s:e]]
                        if not len(names):
                            continue
                        limit = int(np.searchsorted(core_block, b))  # rows of earlier blocks
                        mask = core_names[:limit] != names[0] if names.min() == names.max() else None
                        tasks += [
                            (b, core_pos[t], c, snapshot)
                            for b, t, c in self._tasks(reach, block_reach, group, b, mask, limit)
                        ]
                    found = self._map(connect, tasks)
                    if found:
                        merge(np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found]))
            del A, reach

        labels = np.full(n, -1)
        if core.any():
            # clusters numbered by their lowest core row in original order
            names, inverse = np.unique(comp[core], return_inverse=True)
            lowest = np.full(len(names), n)
            np.minimum.at(lowest, inverse, self.order[core])
            rank = np.empty(len(names), dtype=np.intp)
            rank[np.argsort(lowest)] = np.arange(len(names))
            labels[core] = rank[inverse]
            if len(border_r):
                best = np.full(n, n)
                np.minimum.at(best, border_r, labels[border_j])
                hit = best < n
                labels[hit] = best[hit]
        return labels[self.rank], core[self.rank]
