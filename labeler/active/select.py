"""Batch selection from scores and vectors: what to put in front of the expert, in what order.

Selection never scores: it takes scores (`labeler.active.scores`) or probabilities and vectors
and returns indices into them, best first. Cluster-based selection is in `labeler.active.clusters`.
"""

from __future__ import annotations

import numpy as np

from labeler.config import NEAR_DUPLICATE_COSINE

__all__ = ["badge", "class_balanced", "k_center_greedy", "top_k_diverse"]


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


def k_center_greedy(
    vectors: np.ndarray,
    centres: np.ndarray,
    n: int,
    *,
    max_cosine: float = NEAR_DUPLICATE_COSINE,
) -> tuple[np.ndarray, np.ndarray]:
    """Core-set selection (Sener & Savarese 2018): repeatedly the vector farthest from every
    centre, which then becomes a centre; never a near-duplicate of an earlier pick.

    Args:
        vectors: (N, D) float32, L2-normalised, the candidates.
        centres: (M, D) float32, L2-normalised, already covered (the labeled images); M may be 0.
        n: number to pick.
    Returns:
        indices (≤ n,) int64 into vectors, and the cosine distance (≤ n,) float32 of each pick to
        its nearest centre when it was picked. With no centres, the first pick is the vector
        farthest from the mean direction, and its distance is inf. Exact copies of centres are
        never picked.
    """
    n = min(n, len(vectors))
    picks: list[int] = []
    distances: list[float] = []
    if len(centres):
        nearest = 1.0 - (vectors @ centres.T).max(axis=1)
    else:
        nearest = np.full(len(vectors), 3.0)  # above any cosine distance: nothing covered yet
        nearest[np.argmin(vectors @ _mean_direction(vectors))] = 4.0  # the first pick
    while len(picks) < n:
        i = int(np.argmax(nearest))
        if nearest[i] <= 0:
            break  # only exact copies of centres and near-duplicates of picks are left
        picks.append(i)
        distances.append(float(nearest[i]) if len(picks) > 1 or len(centres) else np.inf)
        sims = vectors @ vectors[i]
        nearest = np.minimum(nearest, 1.0 - sims)
        nearest[sims >= max_cosine] = -np.inf
    return np.asarray(picks, dtype=np.int64), np.asarray(distances, dtype=np.float32)


def badge(proba: np.ndarray, vectors: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings.

    The gradient embedding of a row is (p − onehot(argmax p)) ⊗ x, the loss gradient of a linear
    head on x if its predicted class were right: long for uncertain rows, and pointing in
    different directions for different images. Distances between outer products factorise,
    ‖a⊗x − b⊗y‖² = ‖a‖²‖x‖² + ‖b‖²‖y‖² − 2(a·b)(x·y), so the (N, C·D) embeddings are never built.

    Args:
        proba: (N, C) probabilities.
        vectors: (N, D) float32, L2-normalised.
    Returns:
        (≤ n,) int64 indices, in the order k-means++ picked them (the longest gradient first).
    """
    a = proba.astype(np.float64).copy()
    a[np.arange(len(a)), a.argmax(axis=1)] -= 1.0
    x = vectors.astype(np.float64)
    sq = (a * a).sum(axis=1) * (x * x).sum(axis=1)
    rng = np.random.default_rng(seed)
    first = int(np.argmax(sq))
    picks = [first]
    d2 = np.full(len(a), np.inf)
    while len(picks) < min(n, len(a)):
        c = picks[-1]
        d2 = np.minimum(d2, np.maximum(sq + sq[c] - 2.0 * (a @ a[c]) * (x @ x[c]), 0.0))
        total = d2.sum()
        if total <= 1e-12:
            break  # every row is a copy of a pick
        picks.append(int(rng.choice(len(a), p=d2 / total)))
    return np.asarray(picks, dtype=np.int64)


def class_balanced(
    scores: np.ndarray,
    groups: np.ndarray,
    n: int,
    *,
    counts: np.ndarray,
    vectors: np.ndarray,
    max_cosine: float = NEAR_DUPLICATE_COSINE,
) -> np.ndarray:
    """Round robin over groups (predicted classes), the least labeled group first.

    Each turn goes to the group with the fewest labels so far (counting this batch's picks) that
    has candidates left, and takes its highest score that is not a near-duplicate of a pick. Rare
    classes thus get their share of every batch instead of none.

    Args:
        scores: (N,) float, higher first.
        groups: (N,) int64 in [0, G), e.g. the predicted class of each candidate.
        counts: (G,) int, labels each group has already.
        vectors: (N, D) float32, L2-normalised.
    Returns:
        (≤ n,) int64 indices into scores, in picking order.
    """
    counts = np.asarray(counts, dtype=np.float64).copy()
    queues = {
        int(g): list(np.flatnonzero(groups == g)[np.argsort(-scores[groups == g], kind="stable")])
        for g in np.unique(groups)
    }
    taken: list[int] = []
    while len(taken) < n and queues:
        g = min(queues, key=lambda g: (counts[g], -scores[queues[g][0]], g))
        i = int(queues[g].pop(0))
        if not queues[g]:
            del queues[g]
        if taken and float((vectors[taken] @ vectors[i]).max()) >= max_cosine:
            continue
        taken.append(i)
        counts[g] += 1
    return np.asarray(taken, dtype=np.int64)


def _mean_direction(vectors: np.ndarray) -> np.ndarray:
    m = vectors.mean(axis=0)
    return m / max(float(np.linalg.norm(m)), 1e-12)
