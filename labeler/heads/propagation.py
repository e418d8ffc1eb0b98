"""Transductive label propagation over the kNN graph of the whole pool.

The idea behind TPN (Liu et al. 2019), EGNN and LaplacianShot, on frozen features: the labels
spread along the pool's own neighbourhood structure (`labeler.heads.graph`). Robust to class
imbalance: each class's scores are divided by the class's total mass over the graph ("class mass
normalisation", Zhu et al. 2003), which removes the advantage of a seed sitting in a dense region
without assuming equal class sizes in the decision itself (unlike the balanced transport of
PT-MAP); the propagated mass still follows the pool's real class sizes.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from labeler.folds import held_out_folds
from labeler.heads.base import Head
from labeler.heads.features import POWER, FeatureMap, pool_features
from labeler.heads.graph import (
    GRAPH_NEIGHBOURS,
    PROPAGATION_ALPHA,
    KnnGraph,
    knn_graph,
    neighbours_in,
    normalized_affinity,
    propagate,
    spread_to,
)

SCORE_FLOOR = 1e-6  # added to the normalised scores before the log: logits stay finite


def pool_graph(
    X_pool: np.ndarray, *, k: int = GRAPH_NEIGHBOURS, power: float | None = POWER
) -> KnnGraph:
    """The kNN graph LabelPropagation builds on (M, D) float32 X_pool: cache it, pass it to fit.

    Remembered for the last pool seen (by identity), so that refits on one pool (held-out
    folds, committees) search it once; `remember_pool_graph` seeds it with a cached graph.
    """
    with _LOCK:
        if _LAST and _LAST[0]() is X_pool and _LAST[1] == (X_pool.shape, k, power):
            return _LAST[2]
    graph = knn_graph(pool_features(X_pool, power=power)[1], k)
    remember_pool_graph(X_pool, graph, k=k, power=power)
    return graph


def remember_pool_graph(
    X_pool: np.ndarray, graph: KnnGraph, *, k: int = GRAPH_NEIGHBOURS, power: float | None = POWER
) -> None:
    """Make `pool_graph(X_pool)` answer `graph` (e.g. one loaded from a project's cache)."""
    graph.check(len(X_pool))
    with _LOCK:
        _LAST[:] = [weakref.ref(X_pool), (X_pool.shape, k, power), graph]


_LOCK = threading.Lock()
_LAST: list = []  # [weakref to the pool, (shape, k, power), its graph]


class LabelPropagation(Head):
    """Scores F = (I − αS)^-1 Y over the pool's kNN graph plus the labeled images as nodes.

    Rows not in the pool are predicted from their k nearest nodes (weighted mean of the nodes'
    scores), so `predict_proba` works on any vectors; `predict_pool_proba` gives the pool's own.

    Attributes after fit:
        node_scores_: (M + N, C) float64 propagated scores, pool nodes first (without a pool:
            the N labeled nodes only).
    """

    name = "labelprop"
    transductive = True

    def __init__(
        self,
        *,
        neighbours: int = GRAPH_NEIGHBOURS,
        alpha: float = PROPAGATION_ALPHA,
        balance: bool = True,
        power: float | None = POWER,
    ) -> None:
        self.neighbours = neighbours
        self.alpha = alpha
        self.balance = balance
        self.power = power

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        if X_pool is not None and len(X_pool):
            self.features_, Zp = pool_features(X_pool, power=self.power)
            Z = self.features_.transform(X)
            if graph is None:
                graph = pool_graph(X_pool, k=self.neighbours, power=self.power)
            self._nodes = (Zp, Z)  # pool nodes, then labeled ones; joined only when needed
            self._seeds = len(Zp) + np.arange(len(Z))
            self._S = normalized_affinity(graph, neighbours_in(Zp, Z, graph.neighbours.shape[1]))
        else:
            self.features_ = FeatureMap.fit(X, power=self.power)
            Z = self.features_.transform(X)
            self._nodes, self._seeds = (Z,), np.arange(len(Z))
            self._S = normalized_affinity(knn_graph(Z, self.neighbours))
        self.node_scores_ = self._propagate(y, [np.ones(len(y), dtype=bool)])[0]
        self._mass = self._class_mass(self.node_scores_)

    def _propagate(self, y: np.ndarray, seeded: list[np.ndarray]) -> list[np.ndarray]:
        """Scores (nodes, C) for each mask of labeled rows used as seeds, in one solve."""
        n_classes = len(self.classes_)
        Y = np.zeros((self._S.shape[0], n_classes * len(seeded)))
        for i, mask in enumerate(seeded):
            Y[self._seeds[mask], i * n_classes + y[mask]] = 1.0
        F = np.maximum(propagate(self._S, Y, alpha=self.alpha), 0.0)
        return np.split(F, len(seeded), axis=1)

    def _class_mass(self, F: np.ndarray) -> np.ndarray:
        """(C,) divisor of each class's scores: its total mass (1 where none, or balance off)."""
        mass = F.sum(axis=0)
        return np.where(mass > 0, mass, 1.0) if self.balance else np.ones_like(mass)

    @staticmethod
    def _log_scores(F: np.ndarray, mass: np.ndarray) -> np.ndarray:
        """(R, C) scores → (R, C) float32 logits: log of the mass-normalised row distribution."""
        q = F / mass
        total = q.sum(axis=1, keepdims=True)
        q = np.where(total > 0, q / np.where(total > 0, total, 1.0), 1.0 / q.shape[1])
        return np.log(q + SCORE_FLOOR).astype(np.float32)

    def _pool_logits(self, X_pool: np.ndarray) -> np.ndarray:
        return self._log_scores(self.node_scores_[: len(X_pool)], self._mass)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        nodes = np.concatenate(self._nodes) if len(self._nodes) > 1 else self._nodes[0]
        F = spread_to(nodes, self.node_scores_, self.features_.transform(X), self.neighbours)
        return self._log_scores(F, self._mass)

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Out-of-fold: each fold's labeled nodes unseeded, all folds propagated in one solve."""
        split = held_out_folds(y)
        if split is None or len(self.classes_) < 2:
            return None
        fold, keep = split
        folds = np.unique(fold[keep])
        scores = self._propagate(y, [fold != f for f in folds])
        logits = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        for f, F in zip(folds, scores, strict=True):
            rows = fold == f
            logits[rows] = self._log_scores(F[self._seeds[rows]], self._class_mass(F))
        rows = np.flatnonzero(keep)
        return rows, logits[rows]
