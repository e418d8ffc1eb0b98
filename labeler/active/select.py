"""Batch selection from scores and vectors: what to put in front of the expert, in what order."""

from __future__ import annotations

import faiss
import numpy as np

from labeler.config import KMEANS_ITERATIONS, NEAR_DUPLICATE_COSINE


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
    km = faiss.Kmeans(vectors.shape[1], n, niter=KMEANS_ITERATIONS, seed=seed, spherical=True)
    km.train(np.ascontiguousarray(vectors, dtype=np.float32))
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
