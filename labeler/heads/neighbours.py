"""Heads that compare a query with each labeled example: kNN and Matching Networks.

Vinyals et al. 2016 (Matching Networks): the prediction is an attention-weighted vote over the
whole support set, attention = softmax of cosine similarities (here on `FeatureMap` features,
without the learned full-context embeddings). kNN votes over the k most similar examples only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labeler.calibrate import softmax
from labeler.heads.graph import KnnGraph
from labeler.heads.similarity import SimilarityHead

KNN_NEIGHBOURS = 5
VOTE_FLOOR = 1e-3  # added to each class's vote share before the log: unseen classes stay finite


class MatchingNetwork(SimilarityHead):
    """Class scores = attention (softmax of similarity / temperature) summed over its examples.

    neighbours=None attends to every labeled example (Matching Networks); an int k keeps only
    the k most similar (a similarity-weighted kNN vote). `options`: temperature and power, as
    in `SimilarityHead`.
    """

    name = "matching"

    def __init__(self, *, neighbours: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.neighbours = neighbours

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        self._fit_features(X, X_pool)
        self.support_ = self._embed(X)
        self._onehot = np.eye(len(self.classes_), dtype=np.float32)[y]

    def _scores_of(self, Z: np.ndarray) -> np.ndarray:
        sims = Z @ self.support_.T / self.base_temperature
        if self.neighbours is not None and self.neighbours < sims.shape[1]:
            cut = -np.partition(-sims, self.neighbours - 1, axis=1)[:, self.neighbours - 1]
            sims = np.where(sims >= cut[:, None], sims, -np.inf)
        votes = softmax(sims) @ self._onehot
        return np.log(votes + VOTE_FLOOR).astype(np.float32)


class KNearestNeighbours(MatchingNetwork):
    """A `MatchingNetwork` voting over the KNN_NEIGHBOURS most similar examples by default."""

    name = "knn"

    def __init__(self, *, neighbours: int = KNN_NEIGHBOURS, **options: Any) -> None:
        super().__init__(neighbours=neighbours, **options)
