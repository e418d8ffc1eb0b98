"""Batch selection from scores and vectors: what to put in front of the expert, in what order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np

from labeler.config import KMEANS_ITERATIONS, NEAR_DUPLICATE_COSINE

KMEANS_RESTARTS = 10  # k-means runs from different random starts; the lowest-error one is kept
KMEANS_PARALLEL_MIN = 20_000  # below this many points OpenMP threads cost more than they save


def top_k_diverse(
    scores: np.ndarray, vectors: np.ndarray, n: int, *, max_cosine: float = NEAR_DUPLICATE_COSINE
) -> np.ndarray:
    """Indices of the n highest scores, skipping near-duplicates of those already taken.

    Args:
        scores: (N,) float, higher first.
        vectors: (N, D) float32, L2-normalised.
    Returns:
        (≤ n,) int64 indices into scores, best first.
    """
    taken: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(taken) == n:
            break
        if taken and float((vectors[taken] @ vectors[i]).max()) >= max_cosine:
            continue
        taken.append(int(i))
    return np.asarray(taken, dtype=np.int64)


@contextmanager
def _faiss_threads(n_points: int) -> Iterator[None]:
    """One OpenMP thread for small inputs (seconds saved on a busy 2-core laptop)."""
    threads = faiss.omp_get_max_threads()
    if n_points < KMEANS_PARALLEL_MIN:
        faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def cluster_representatives(
    vectors: np.ndarray, n: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """k-means with k = n; for each cluster the member closest to its centre, biggest cluster first.

    Args:
        vectors: (N, D) float32, L2-normalised.
    Returns:
        indices (k,) int64 into vectors, and the sizes (k,) int64 of their clusters; k ≤ n
        (empty clusters and exact duplicates give fewer).
    """
    n = min(n, len(vectors))
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    # One random start often puts two centres in one big group and none in a small one; keep the
    # best of several starts (faiss trains on at most 256 points per centre, so this is cheap).
    km = faiss.Kmeans(
        vectors.shape[1],
        n,
        niter=KMEANS_ITERATIONS,
        nredo=KMEANS_RESTARTS,
        seed=seed,
        spherical=True,
    )
    with _faiss_threads(len(vectors)):
        km.train(vectors)
        _, assign = km.index.search(vectors, 1)
    assign = assign[:, 0]
    sizes = np.bincount(assign, minlength=n)
    sims = (vectors * km.centroids[assign]).sum(axis=1)
    picks, picked_sizes = [], []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(assign == cluster)
        if len(members):
            picks.append(members[np.argmax(sims[members])])
            picked_sizes.append(sizes[cluster])
    return np.asarray(picks, dtype=np.int64), np.asarray(picked_sizes, dtype=np.int64)
