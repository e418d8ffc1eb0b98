"""Prototypical Networks on frozen embeddings, with SimpleShot centring, and BD-CSPN.

Snell et al. 2017 (prototypes as class means, Euclidean distance); Wang et al. 2019 "SimpleShot"
(centre the features, L2-normalise, then nearest class mean by cosine). Features go through
`FeatureMap` (power transform where defined, centring on the pool). Liu et al. 2020 "BD-CSPN"
rectifies the prototypes with the unlabeled pool images predicted to their class, each weighted
by how close it is to the prototype.
"""

from __future__ import annotations

import numpy as np

from labeler.calibrate import softmax
from labeler.config import PROTONET_TEMPERATURE
from labeler.errors import LabelerError
from labeler.heads.features import POWER, FeatureHead, power_transform
from labeler.heads.graph import KnnGraph
from labeler.index.faiss_index import l2_normalize

METRICS = ("cosine", "euclidean")


class ProtoNet(FeatureHead):
    """Similarity to class prototypes, divided by a temperature.

    metric "cosine": cosine similarity to the L2-normalised mean of the normalised support.
    metric "euclidean": minus the squared distance to the class mean of the centred features,
    in units of their mean squared norm over the pool.

    Attributes after fit:
        center_: (D,) float32, subtracted (after the power transform) before normalisation.
        prototypes_: (C, D) float32 class prototypes in the embedded space.
    """

    name = "protonet"

    def __init__(
        self,
        *,
        metric: str = "cosine",
        temperature: float = PROTONET_TEMPERATURE,
        power: float | None = POWER,
    ) -> None:
        if metric not in METRICS:
            raise LabelerError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        self.metric = metric
        self.base_temperature = temperature
        self.power = power

    @property
    def center_(self) -> np.ndarray:
        return self.features_.center

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """(N, D) → (N, D) float32 in the space prototypes live in."""
        if self.metric == "cosine":
            return self.features_.transform(X)
        raw = power_transform(X, self.features_.power)
        return ((raw - self.center_) / self.scale_).astype(np.float32)

    def _embed_pool(self, X_pool: np.ndarray) -> np.ndarray:
        return super()._embed_pool(X_pool) if self.metric == "cosine" else self._embed(X_pool)

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        self._fit_features(X, X_pool)
        self.scale_ = np.float32(1.0)
        if self.metric == "euclidean":
            pool = X_pool if X_pool is not None and len(X_pool) else X
            self.scale_ = np.float32(np.sqrt(np.mean(self._embed(pool) ** 2) * X.shape[1]) + 1e-12)
        self._set_prototypes(self._embed(X), y)

    def _set_prototypes(
        self, Z: np.ndarray, y: np.ndarray, prior: np.ndarray | None = None
    ) -> None:
        """Class sums (plus an optional (C, D) prior added to them), counts, prototypes."""
        self._sums = np.zeros((len(self.classes_), Z.shape[1]), dtype=np.float32)
        np.add.at(self._sums, y, Z)
        if prior is not None:
            self._sums += prior
        self._counts = np.bincount(y, minlength=len(self.classes_))
        self.prototypes_ = self._prototypes(self._sums, self._counts[:, None])

    def _prototypes(self, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return l2_normalize(sums)
        return (sums / np.maximum(counts, 1)).astype(np.float32)

    def _scores(self, Z: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
        """Embedded rows (N, D) against prototypes (C, D) → (N, C) float32 logits."""
        if self.metric == "cosine":
            return (Z @ prototypes.T) / self.base_temperature
        sq = (Z * Z).sum(axis=1, keepdims=True) - 2 * Z @ prototypes.T
        return -(sq + (prototypes * prototypes).sum(axis=1)) / self.base_temperature

    def _scores_of(self, Z: np.ndarray) -> np.ndarray:
        return self._scores(Z, self.prototypes_)

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Each labeled vector against prototypes made without it; singleton classes left out."""
        keep = self._counts[y] > 1
        if keep.sum() < 2 or len(self.classes_) < 2:
            return None
        rows = np.flatnonzero(keep)
        Z, y = self._embed(X[rows]), y[rows]
        logits = self._scores(Z, self.prototypes_)
        own = self._prototypes(self._sums[y] - Z, self._counts[y][:, None] - 1)  # without the row
        own_scores = self._scores(Z, own)  # (K, K): row i against the K rebuilt prototypes
        logits[np.arange(len(y)), y] = np.diagonal(own_scores)
        return rows, logits


class BDCSPN(ProtoNet):
    """ProtoNet whose prototypes are rectified with the pool images predicted to their class.

    Each class's prototype becomes the weighted mean of its support and of the pool images
    predicted to it, weights softmax(similarity / temperature) over the class's members. Needs
    the pool; without one it is ProtoNet.
    """

    name = "bdcspn"
    transductive = True

    def _fit(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> None:
        super()._fit(X, y, X_pool, graph)
        if X_pool is None or not len(X_pool):
            return
        Zs, Zp = self._embed(X), self._embed_pool(X_pool)
        pred = self._scores(Zp, self.prototypes_).argmax(axis=1)
        members = np.concatenate([Zs, Zp])
        cls = np.concatenate([y, pred])
        sims = self._scores(members, self.prototypes_)[np.arange(len(cls)), cls]
        weights = np.zeros(len(cls), dtype=np.float64)
        for c in range(len(self.classes_)):
            mine = cls == c
            weights[mine] = softmax(sims[mine][None, :].astype(np.float64))[0]
        sums = np.zeros_like(self._sums)
        np.add.at(sums, cls, members * weights[:, None].astype(np.float32))
        self.prototypes_ = self._prototypes(sums, np.ones((len(sums), 1)))

    def _loo_logits(
        self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None, graph: KnnGraph | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return self._refit_oof(X, y, X_pool, graph)
