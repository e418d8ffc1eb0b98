"""Feature statistics adapted to the expert's images: power transform, centring, L2 normalisation.

Hu et al. 2021 (PT-MAP): a power transform x ** 0.5 makes the skewed, non-negative features of a
ReLU network more Gaussian. Wang et al. 2019 (SimpleShot, "CL2N"): subtract the mean, then
L2-normalise. The mean is that of the project's own pool, so the statistics adapt to these images
rather than to ImageNet's (domain adaptation of the first moment; Li et al. 2016, AdaBN, do the
same inside the network). Features with negative values (e.g. CLIP, DINOv2) skip the power
transform: it is only defined for non-negative ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def power_transform(X: np.ndarray, power: float | None) -> np.ndarray:
    """(N, D) → (N, D): max(X, 0) ** power, or X itself where power is None."""
    if power is None:
        return X
    return np.sqrt(np.maximum(X, 0)) if power == 0.5 else np.maximum(X, 0) ** power
