"""The k-nearest-neighbour graph of a pool, and label propagation over it.

Zhou et al. 2004, "Learning with local and global consistency": with W the symmetric kNN affinity
and S = D^-1/2 W D^-1/2, the scores F = (I − αS)^-1 Y spread each labeled node's class along the
data manifold. Affinities are cosine similarities cubed (Iscen et al. 2019), which keeps the
strongest edges. The linear system is solved by conjugate gradients, all classes at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import scipy.sparse as sp

from labeler.errors import LabelerError

GRAPH_NEIGHBOURS = 10  # k of the kNN graph
AFFINITY_POWER = 3  # edge weight = max(cosine, 0) ** this
PROPAGATION_ALPHA = 0.99  # weight of the neighbours against the seed labels
CG_TOLERANCE = 1e-4  # relative residual at which conjugate gradients stop
CG_MAX_ITERATIONS = 200
_QUERY_BLOCK = 256  # queries scored at a time by neighbours_in: bounds a (block, M) temporary
EXACT_GRAPH_MAX = 20_000  # bigger pools get an approximate kNN graph (FAISS IVF)
IVF_PROBES = 16  # clusters searched per query
IVF_TRAIN_PER_LIST = 40  # training rows per cluster for the IVF k-means


@dataclass(frozen=True)
class KnnGraph:
    """Each node's nearest other nodes, by cosine similarity, most similar first.

    Attributes:
        neighbours: (M, k) int64 node indices, -1 where a node has fewer than k others.
        similarities: (M, k) float32 cosine similarities, 0 where neighbours is -1.
    """

    neighbours: np.ndarray
    similarities: np.ndarray

    def __len__(self) -> int:
        return len(self.neighbours)

    def check(self, n_nodes: int) -> None:
        """Raise unless this graph has one row per node of an n_nodes pool and valid indices."""
        nb, sims = self.neighbours, self.similarities
        if nb.ndim != 2 or nb.shape != sims.shape or len(nb) != n_nodes:
            raise LabelerError(
                f"the kNN graph has neighbours {nb.shape} and similarities {sims.shape}, but the "
                f"pool has {n_nodes} rows; rebuild it with knn_graph() on this pool"
            )
        if nb.size and (nb.min() < -1 or nb.max() >= n_nodes):
            raise LabelerError("the kNN graph refers to rows outside the pool; rebuild it")


def knn_graph(
    Z: np.ndarray, k: int = GRAPH_NEIGHBOURS, *, exact_max: int = EXACT_GRAPH_MAX
) -> KnnGraph:
    """The kNN graph of (M, D) float32 unit rows by inner product, self excluded.

    Exact (FAISS flat) up to `exact_max` rows; above, approximate (FAISS IVF: 4·√M clusters,
    IVF_PROBES of them searched), which cuts the build on 100 000 images from minutes to seconds.
    """
    found = min(k + 1, len(Z))
    sims, ids = _search(Z, Z, found) if len(Z) <= exact_max else _search_ivf(Z, found)
    not_self = ids != np.arange(len(Z))[:, None]
    # Each row drops its own entry, or its last one where duplicates pushed itself out.
    first = np.arange(found) < found - 1
    keep = np.where(not_self.all(axis=1, keepdims=True), first, not_self)
    return _padded(ids[keep].reshape(len(Z), -1), sims[keep].reshape(len(Z), -1), k)


def neighbours_in(base: np.ndarray, queries: np.ndarray, k: int) -> KnnGraph:
    """The k rows of (M, D) `base` nearest to each of (Q, D) `queries` (unit rows): Q graph rows.

    Exact, by blocks of queries against the whole base (few queries: a matrix product beats
    building an index over a big base).
    """
    k_found = min(k, len(base))
    if k_found == 0:
        return _padded(np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0)), k)
    nb = np.empty((len(queries), k_found), dtype=np.int64)
    sims = np.empty((len(queries), k_found), dtype=np.float32)
    for start in range(0, len(queries), _QUERY_BLOCK):
        block = queries[start : start + _QUERY_BLOCK] @ base.T
        top = np.argpartition(-block, k_found - 1, axis=1)[:, :k_found]
        order = np.argsort(-np.take_along_axis(block, top, 1), axis=1, kind="stable")
        nb[start : start + _QUERY_BLOCK] = np.take_along_axis(top, order, 1)
        sims[start : start + _QUERY_BLOCK] = np.take_along_axis(
            block, nb[start : start + _QUERY_BLOCK], 1
        )
    return _padded(nb, sims, k)


def spread_to(nodes: np.ndarray, values: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Node values at new points: (Q, R) float64, for each of (Q, D) unit `queries` the sum of
    `values` (M, R) over its k nearest of the (M, D) unit `nodes`, weighted like the graph's
    edges, max(cosine, 0) ** AFFINITY_POWER (callers normalise as they need)."""
    nb = neighbours_in(nodes, queries, k)
    weights = np.maximum(nb.similarities, 0.0).astype(np.float64) ** AFFINITY_POWER
    weights[nb.neighbours < 0] = 0.0
    return np.einsum("rk,rkc->rc", weights, values[np.maximum(nb.neighbours, 0)])


def _search(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return sims, ids.astype(np.int64)


def _search_ivf(Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    nlist = max(1, min(int(4 * np.sqrt(len(Z))), len(Z) // IVF_TRAIN_PER_LIST))
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(Z.shape[1]), Z.shape[1], nlist, faiss.METRIC_INNER_PRODUCT
    )
    sample = np.random.default_rng(0).choice(
        len(Z), min(len(Z), IVF_TRAIN_PER_LIST * nlist), replace=False
    )
    index.train(np.ascontiguousarray(Z[np.sort(sample)], dtype=np.float32))
    index.add(np.ascontiguousarray(Z, dtype=np.float32))
    index.nprobe = IVF_PROBES
    sims, ids = index.search(np.ascontiguousarray(Z, dtype=np.float32), k)
    return sims, ids.astype(np.int64)


def _padded(nb: np.ndarray, sims: np.ndarray, k: int) -> KnnGraph:
    """Pad (R, j ≤ k) neighbours with -1 (similarity 0) up to k columns."""
    missing = k - nb.shape[1]
    if missing > 0:
        nb = np.pad(nb, ((0, 0), (0, missing)), constant_values=-1)
        sims = np.pad(sims, ((0, 0), (0, missing)))
    return KnnGraph(nb.astype(np.int64), np.where(nb >= 0, sims, 0.0).astype(np.float32))


def normalized_affinity(graph: KnnGraph, extra: KnnGraph | None = None) -> sp.csr_matrix:
    """S = D^-1/2 W D^-1/2 over the pool's nodes, then `extra`'s rows as further nodes.

    `extra` holds the neighbours *in the pool* of further nodes (the labeled images); W is made
    symmetric, so those nodes also become neighbours of the pool nodes they point to.
    Returns (M + L, M + L) float32 CSR.
    """
    nb, sims = graph.neighbours, graph.similarities
    if extra is not None:
        nb, sims = (
            np.concatenate([nb, extra.neighbours]),
            np.concatenate([sims, extra.similarities]),
        )
    n = len(nb)
    rows = np.repeat(np.arange(n), nb.shape[1])
    valid = nb.ravel() >= 0
    weights = np.maximum(sims.ravel()[valid], 0.0).astype(np.float64) ** AFFINITY_POWER
    W = sp.csr_matrix((weights, (rows[valid], nb.ravel()[valid])), shape=(n, n))
    W = W + W.T
    degree = np.asarray(W.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    return sp.csr_matrix(sp.diags(inv_sqrt) @ W @ sp.diags(inv_sqrt), dtype=np.float32)


def propagate(S: sp.csr_matrix, Y: np.ndarray, *, alpha: float = PROPAGATION_ALPHA) -> np.ndarray:
    """Solve (I − αS) F = Y for every column of Y (N, R) by conjugate gradients; (N, R) float32.

    I − αS is symmetric positive definite for 0 ≤ α < 1 (S's eigenvalues lie in [−1, 1]).
    """
    Y = np.asarray(Y, dtype=np.float32)
    F = np.zeros_like(Y)
    R = Y.copy()  # residual Y − A F
    P = R.copy()
    rr = _column_dots(R, R)  # float64 scalars per column
    stop = (CG_TOLERANCE**2) * rr
    for _ in range(CG_MAX_ITERATIONS):
        active = rr > stop
        if not active.any():
            break
        AP = P - alpha * (S @ P)
        step = np.zeros_like(rr)
        step[active] = rr[active] / _column_dots(P, AP)[active]
        F += step.astype(np.float32) * P
        R -= step.astype(np.float32) * AP
        rr_new = _column_dots(R, R)
        beta = np.zeros_like(rr)
        beta[active] = rr_new[active] / rr[active]
        P = R + beta.astype(np.float32) * P
        rr = rr_new
    return F


def _column_dots(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(R,) float64 dot products of the columns of two (N, R) arrays."""
    return np.einsum("ij,ij->j", A, B, dtype=np.float64)
