"""Prototypical Networks on frozen embeddings, with SimpleShot centring.

Snell et al. 2017 (prototypes as class means); Wang et al. 2019 "SimpleShot" (centre the features,
L2-normalise, then nearest class mean). The centre is the mean of the whole pool when it is given,
which adapts the feature statistics to the expert's images rather than to ImageNet.
"""

from __future__ import annotations

import numpy as np

from labeler.config import PROTONET_TEMPERATURE
from labeler.heads.base import Head
from labeler.index.faiss_index import l2_normalize


class ProtoNet(Head):
    """Cosine similarity to class prototypes, divided by a temperature.

    Attributes after fit:
        center_: (D,) float32, subtracted before normalisation.
        prototypes_: (C, D) float32, L2-normalised class means of the normalised support.
    """

    name = "protonet"

    def __init__(self, *, temperature: float = PROTONET_TEMPERATURE) -> None:
        self.base_temperature = temperature

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """(N, D) → (N, D) float32, centred and L2-normalised."""
        return l2_normalize(X - self.center_)

    def _fit(self, X: np.ndarray, y: np.ndarray, X_pool: np.ndarray | None) -> None:
        pool = X_pool if X_pool is not None and len(X_pool) else X
        self.center_ = pool.mean(axis=0, dtype=np.float64).astype(np.float32)
        Z = self._embed(X)
        self._sums = np.zeros((len(self.classes_), Z.shape[1]), dtype=np.float32)
        np.add.at(self._sums, y, Z)
        self._counts = np.bincount(y, minlength=len(self.classes_))
        self.prototypes_ = l2_normalize(self._sums)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return (self._embed(X) @ self.prototypes_.T) / self.base_temperature

    def _loo_logits(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Each labeled vector against prototypes made without it; singleton classes left out."""
        keep = self._counts[y] > 1
        if keep.sum() < 2 or len(self.classes_) < 2:
            return None
        Z, y = self._embed(X[keep]), y[keep]
        logits = Z @ self.prototypes_.T
        own = l2_normalize(self._sums[y] - Z)  # (K, D) the own-class prototype without the row
        logits[np.arange(len(y)), y] = (Z * own).sum(axis=1)
        return logits / self.base_temperature, y
