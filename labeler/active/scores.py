"""Informativeness scores of images: higher means more worth labeling.

Scores only score; choosing a batch from them is `labeler.active.select`'s job (as in modAL).
Uncertainty scores read predicted probabilities; the others read the geometry of the vectors.
"""

from __future__ import annotations

import faiss
import numpy as np

from labeler.calibrate import top2_scores
from labeler.config import TYPICALITY_NEIGHBOURS

__all__ = [
    "disagreement_score",
    "distance_to_labeled_score",
    "entropy_score",
    "least_confidence_score",
    "margin_score",
    "typicality_score",
]


def margin_score(proba: np.ndarray) -> np.ndarray:
    """(N, C) probabilities → (N,) float32, 1 − (top-1 − top-2): high where two classes tie."""
    return (1.0 - top2_scores(proba)[2]).astype(np.float32)


def entropy_score(proba: np.ndarray) -> np.ndarray:
    """(N, C) → (N,) float32 predictive entropy in nats."""
    return top2_scores(proba)[3]


def least_confidence_score(proba: np.ndarray) -> np.ndarray:
    """(N, C) → (N,) float32, 1 − the top probability."""
    return (1.0 - proba.max(axis=1)).astype(np.float32)


def disagreement_score(committee: np.ndarray) -> np.ndarray:
    """(K, N, C) probabilities of K heads → (N,) float32 mean KL divergence to their consensus.

    Query by committee (McCallum & Nigam 1998): 0 where all heads agree, high where they predict
    different classes, whatever each head's own confidence.
    """
    committee = np.clip(np.asarray(committee, dtype=np.float64), 1e-12, 1.0)
    consensus = committee.mean(axis=0)
    kl = (committee * (np.log(committee) - np.log(consensus))).sum(axis=2)
    return kl.mean(axis=0).astype(np.float32)


def distance_to_labeled_score(vectors: np.ndarray, labeled_vectors: np.ndarray) -> np.ndarray:
    """Cosine distance of each vector to the nearest labeled one: high where nothing is labeled.

    Args:
        vectors: (N, D) float32, L2-normalised.
        labeled_vectors: (L, D) float32, L2-normalised; L may be 0 (then every score is 2).
    Returns:
        (N,) float32 in [0, 2].
    """
    if len(labeled_vectors) == 0:
        return np.full(len(vectors), 2.0, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(labeled_vectors, dtype=np.float32))
    sims, _ = index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return (1.0 - sims[:, 0]).astype(np.float32)


def typicality_score(vectors: np.ndarray, *, k: int = TYPICALITY_NEIGHBOURS) -> np.ndarray:
    """Local density: the inverse mean cosine distance to the k nearest other vectors.

    TypiClust's typicality (Hacohen et al. 2022): high in the dense middle of a group of similar
    images, low for outliers. Exact duplicates count as neighbours at distance 0.

    Args:
        vectors: (N, D) float32, L2-normalised; k is capped at N − 1.
    Returns:
        (N,) float32, positive (all equal when N < 2).
    """
    n = len(vectors)
    k = min(k, n - 1)
    if k < 1:
        return np.ones(n, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    index.add(v)
    sims, _ = index.search(v, k + 1)  # the first neighbour is (usually) the row itself
    mean_distance = (1.0 - sims[:, 1:]).clip(min=0.0).mean(axis=1)
    return (1.0 / (mean_distance + 1e-6)).astype(np.float32)
