"""Feature statistics adapted to the expert's images: power transform, centring, L2 normalisation.

Hu et al. 2021 (PT-MAP): a power transform x ** 0.5 makes the skewed, non-negative features of a
ReLU network more Gaussian. Wang et al. 2019 (SimpleShot, "CL2N"): subtract the mean, then
L2-normalise. The mean is that of the project's own pool, so the statistics adapt to these images
rather than to ImageNet's (domain adaptation of the first moment; Li et al. 2016, AdaBN, do the
same inside the network). Features with negative values (e.g. CLIP, DINOv2) skip the power
transform: it is only defined for non-negative ones.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from labeler.heads.base import Head
from labeler.index.faiss_index import l2_normalize

POWER = 0.5  # exponent of the power transform of non-negative features
_CHUNK = 16_384  # rows transformed at a time: bounds the temporary memory on big pools


@dataclass(frozen=True)
class FeatureMap:
    """x → normalise(x ** power − centre), fitted on a pool.

    Attributes:
        power: the exponent, or None where the pool had negative values (no transform).
        center: (D,) float32, the mean of the transformed pool.
    """

    power: float | None
    center: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, *, power: float | None = POWER) -> FeatureMap:
        """Fit on (N, D) float32 vectors, N ≥ 1 (the pool, or the labeled rows without one)."""
        if power is not None and bool((X < 0).any()):
            power = None
        total = np.zeros(X.shape[1], dtype=np.float64)
        for start in range(0, len(X), _CHUNK):
            total += power_transform(X[start : start + _CHUNK], power).sum(axis=0, dtype=np.float64)
        return cls(power=power, center=(total / len(X)).astype(np.float32))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, D) → (N, D) float32 with unit rows (a row equal to the centre stays zero)."""
        out = np.empty(X.shape, dtype=np.float32)
        for start in range(0, len(X), _CHUNK):
            block = power_transform(X[start : start + _CHUNK], self.power) - self.center
            out[start : start + _CHUNK] = l2_normalize(block)
        return out


def pool_features(
    X_pool: np.ndarray, *, power: float | None = POWER
) -> tuple[FeatureMap, np.ndarray]:
    """The FeatureMap fitted on (M, D) float32 X_pool, and X_pool transformed (M, D) float32.

    Remembered for the last pool seen (by identity): the heads of one `predict`, their held-out
    refits and the OOD detector share one pass over a big pool instead of one each.
    """
    with _LOCK:
        key = (X_pool.shape, power)
        if _LAST and _LAST[0]() is X_pool and _LAST[1] == key:
            return _LAST[2], _LAST[3]
    if power is not None and bool((X_pool < 0).any()):
        power = None
    out = np.empty(X_pool.shape, dtype=np.float32)
    total = np.zeros(X_pool.shape[1], dtype=np.float64)
    for start in range(0, len(X_pool), _CHUNK):
        block, source = out[start : start + _CHUNK], X_pool[start : start + _CHUNK]
        if power == 0.5:
            np.sqrt(source, out=block)  # the pool is non-negative: no clipping pass
        else:
            block[:] = power_transform(source, power)
        total += block.sum(axis=0, dtype=np.float64)
    fmap = FeatureMap(power=power, center=(total / max(len(X_pool), 1)).astype(np.float32))
    for start in range(0, len(X_pool), _CHUNK):
        block = out[start : start + _CHUNK]
        block -= fmap.center
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        block *= (1.0 / np.maximum(norms, 1e-12))[:, None]
    with _LOCK:
        _LAST[:] = [weakref.ref(X_pool), key, fmap, out]
    return fmap, out


_LOCK = threading.Lock()
_LAST: list = []  # [weakref to the pool, (shape, power), FeatureMap, transformed pool]


def forget_pool_features() -> None:
    """Drop the remembered pool transform (frees its memory; benchmarks time a cold pass)."""
    with _LOCK:
        _LAST.clear()


def power_transform(X: np.ndarray, power: float | None) -> np.ndarray:
    """(N, D) → (N, D): max(X, 0) ** power, or X itself where power is None."""
    if power is None:
        return X
    return np.sqrt(np.maximum(X, 0)) if power == 0.5 else np.maximum(X, 0) ** power


class FeatureHead(Head):
    """A head on `FeatureMap` features: fitted on the pool when there is one (shared through
    `pool_features`), else on the labeled rows. Subclasses set `power` and implement
    `_scores_of`; pool predictions reuse the pool's transform."""

    power: float | None = POWER

    def _fit_features(self, X: np.ndarray, X_pool: np.ndarray | None) -> None:
        if X_pool is not None and len(X_pool):
            self.features_ = pool_features(X_pool, power=self.power)[0]
        else:
            self.features_ = FeatureMap.fit(X, power=self.power)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """(N, D) → (N, D) float32 in the space the head scores in."""
        return self.features_.transform(X)

    def _embed_pool(self, X_pool: np.ndarray) -> np.ndarray:
        return pool_features(X_pool, power=self.power)[1]

    def _scores_of(self, Z: np.ndarray) -> np.ndarray:
        """Embedded rows (N, D) → (N, C) float32 logits."""
        raise NotImplementedError

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return self._scores_of(self._embed(X))

    def _pool_logits(self, X_pool: np.ndarray) -> np.ndarray:
        return self._scores_of(self._embed_pool(X_pool))
