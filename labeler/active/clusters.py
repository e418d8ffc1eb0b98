"""Batch selection through clusters: representatives, TypiClust, uncertainty within diversity.

Each function takes scores and vectors and returns indices into them, best first; none scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import faiss
import numpy as np

from labeler.active.scores import typicality_score
from labeler.config import (
    CLUSTER_PREFILTER,
    COVER_KMEANS_RESTARTS,
    KMEANS_ITERATIONS,
    KMEANS_POINTS_PER_CENTROID,
    MAX_CLUSTERS,
    TYPICALITY_MAX_POINTS,
)

KMEANS_RESTARTS = 10  # k-means runs from different random starts; the lowest-error one is kept
KMEANS_PARALLEL_MIN = 20_000  # below this many points OpenMP threads cost more than they save


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


def kmeans(
    vectors: np.ndarray, k: int, *, seed: int = 0, restarts: int = KMEANS_RESTARTS
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means, best of `restarts` seeded starts, trained on a seeded sample of at
    most KMEANS_POINTS_PER_CENTROID points per centre.

    Args:
        vectors: (N, D) float32, L2-normalised; k is capped at N.
    Returns:
        assign (N,) int64 cluster of each row, and centroids (k, D) float32.
    """
    k = min(k, len(vectors))
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    km = faiss.Kmeans(
        vectors.shape[1],
        k,
        niter=KMEANS_ITERATIONS,
        nredo=restarts,
        seed=seed,
        spherical=True,
        min_points_per_centroid=1,  # few points per centre is normal here: no warning on stderr
        max_points_per_centroid=KMEANS_POINTS_PER_CENTROID,
    )
    with _faiss_threads(len(vectors)):
        km.train(vectors)
        _, assign = km.index.search(vectors, 1)
    return assign[:, 0].astype(np.int64), km.centroids


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
    # One random start often puts two centres in one big group and none in a small one; keep the
    # best of several starts (faiss trains on at most 256 points per centre, so this is cheap).
    assign, centroids = kmeans(vectors, n, seed=seed)
    sizes = np.bincount(assign, minlength=n)
    sims = (vectors * centroids[assign]).sum(axis=1)
    picks, picked_sizes = [], []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(assign == cluster)
        if len(members):
            picks.append(members[np.argmax(sims[members])])
            picked_sizes.append(sizes[cluster])
    return np.asarray(picks, dtype=np.int64), np.asarray(picked_sizes, dtype=np.int64)


@dataclass(frozen=True)
class ClusterPicks:
    """One pick per cluster, best cluster first; all arrays (k,)."""

    indices: np.ndarray  # int64 rows of the vectors
    sizes: np.ndarray  # int64 images in the pick's cluster
    labeled: np.ndarray  # int64 labeled images in that cluster (0: the cluster is uncovered)
    priority: np.ndarray  # float64 the order they were taken in, higher first


def typical_clusters(
    vectors: np.ndarray,
    labeled: np.ndarray,
    n: int,
    *,
    uncertainty: np.ndarray | None = None,
    uncertainty_weight: float = 0.0,
    pickable: np.ndarray | None = None,
    seed: int = 0,
) -> ClusterPicks:
    """TypiClust (Hacohen et al. 2022), moving towards uncertainty as `uncertainty_weight` grows.

    All vectors, labeled or not, are clustered into |labeled| + n groups (at most MAX_CLUSTERS), so
    that new groups appear where labels are missing. Groups without labels come first, then the
    others, each in order of size divided by 1 + their labeled members, weighted towards the
    group's mean uncertainty; in each the unlabeled member with the best blend of typicality rank
    and uncertainty rank is picked. With weight 0 this is TypiClust; with weight 1 it is
    "cluster, then the most uncertain of each cluster", most uncertain clusters first.

    Args:
        vectors: (N, D) float32, L2-normalised.
        labeled: (N,) bool.
        uncertainty: (N,) float, higher = more uncertain; required when the weight is above 0.
        uncertainty_weight: in [0, 1].
        pickable: (N,) bool, the rows that may be picked (default: the unlabeled ones).
    Returns:
        at most one pick per cluster with pickable members, so possibly fewer than n.
    """
    pickable = ~labeled if pickable is None else pickable & ~labeled
    k = min(int(labeled.sum()) + n, MAX_CLUSTERS, len(vectors))
    assign, _ = kmeans(vectors, k, seed=seed, restarts=COVER_KMEANS_RESTARTS)
    sizes = np.bincount(assign, minlength=k)
    covered = np.bincount(assign[labeled], minlength=k)
    priority = sizes / (1.0 + covered)
    w = uncertainty_weight if uncertainty is not None else 0.0
    if w > 0:
        mean_unc = np.bincount(assign, weights=uncertainty, minlength=k) / np.maximum(sizes, 1)
        priority = priority * ((1 - w) + w * mean_unc / max(float(uncertainty.mean()), 1e-12))
    rng = np.random.default_rng(seed)
    picks: list[int] = []
    for cluster in np.lexsort((-priority, covered > 0)):  # uncovered first, then by priority
        members = np.flatnonzero((assign == cluster) & pickable)
        if len(members) == 0:
            continue
        if len(members) > TYPICALITY_MAX_POINTS:
            members = np.sort(rng.choice(members, TYPICALITY_MAX_POINTS, replace=False))
        blend = (1 - w) * _ranks(typicality_score(vectors[members]))
        if w > 0:
            blend = blend + w * _ranks(uncertainty[members])
        picks.append(members[np.argmax(blend)])
        if len(picks) == n:
            break
    chosen = assign[picks]
    return ClusterPicks(
        indices=np.asarray(picks, dtype=np.int64),
        sizes=sizes[chosen].astype(np.int64),
        labeled=covered[chosen].astype(np.int64),
        priority=priority[chosen].astype(np.float64),
    )


def best_per_cluster(
    scores: np.ndarray, vectors: np.ndarray, n: int, *, seed: int = 0
) -> np.ndarray:
    """Uncertainty within diversity (Zhdanov 2019): the n × CLUSTER_PREFILTER highest scores are
    clustered into n groups, and the highest score of each group is taken.

    Args:
        scores: (N,) float, higher first.
        vectors: (N, D) float32, L2-normalised.
    Returns:
        (≤ n,) int64 indices into scores, highest score first.
    """
    if len(scores) == 0:
        return np.empty(0, dtype=np.int64)
    top = np.argsort(-scores, kind="stable")[: n * CLUSTER_PREFILTER]
    assign, _ = kmeans(vectors[top], n, seed=seed)
    best = [top[assign == c][0] for c in np.unique(assign)]  # top is sorted: first = best
    return np.asarray(sorted(best, key=lambda i: (-scores[i], i)), dtype=np.int64)


def _ranks(x: np.ndarray) -> np.ndarray:
    """(N,) → (N,) float64 in [0, 1], the rank of each value (ties by position), 1 = highest."""
    r = np.empty(len(x), dtype=np.float64)
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r / max(1, len(x) - 1)
