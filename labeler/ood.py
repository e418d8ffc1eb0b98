"""Out-of-distribution flags: images that fit no class, rather than forced into one.

Score: an image's highest cosine similarity, in the heads' feature space (`FeatureMap`), to any
class prototype or any labeled image. Threshold: conformal (Vovk et al. 2005; Bates et al. 2023,
"Testing for outliers with conformal p-values"): each labeled image gets the same score held out
(against the other labeled images and prototypes rebuilt without it), and an image is flagged
when fewer than a share `alpha` of those held-out scores are as low as its own. Images like the
labeled ones are then wrongly flagged at most `alpha` of the time; with fewer than 1/alpha − 1
labels nothing can be flagged at that level, and nothing is.
"""

from __future__ import annotations

import numpy as np

from labeler.errors import LabelerError
from labeler.heads.features import FeatureMap, pool_features
from labeler.index.faiss_index import l2_normalize

OOD_ALPHA = 0.02  # false-flag rate allowed for images like the labeled ones
_CHUNK = 8192  # pool rows scored at a time


class OodDetector:
    """Attributes after fit: threshold_ (float, -inf when too few labels), references_ (R, D)."""

    def __init__(self, *, alpha: float = OOD_ALPHA) -> None:
        if not 0.0 < alpha < 1.0:
            raise LabelerError(f"the OOD rate alpha must be between 0 and 1, got {alpha}")
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray, *, X_pool: np.ndarray | None = None) -> OodDetector:
        """X (N, D) float32 labeled vectors, y (N,) class labels; X_pool (M, D) for the centring."""
        X = np.asarray(X, dtype=np.float32)
        _, y = np.unique(np.asarray(y, dtype=object), return_inverse=True)
        self._pool = X_pool if X_pool is not None and len(X_pool) else None
        if self._pool is None:
            self.features_ = FeatureMap.fit(X)
        else:
            self.features_ = pool_features(self._pool)[0]
        Z = self.features_.transform(X)
        sums = np.zeros((y.max() + 1, Z.shape[1]), dtype=np.float32)
        np.add.at(sums, y, Z)
        self.references_ = np.concatenate([Z, l2_normalize(sums)])
        self.threshold_ = self._conformal_threshold(self._held_out_scores(Z, y, sums))
        return self

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M,) float32: highest similarity to a prototype or labeled image (higher:
        more in-distribution)."""
        return self._best(self.features_.transform(np.asarray(X, dtype=np.float32)))

    def flags(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M,) bool, True for out-of-distribution."""
        return self.scores(X) < self.threshold_

    def pool_flags(self) -> np.ndarray:
        """(M,) bool flags of the X_pool given to fit, from its shared transform."""
        if self._pool is None:
            raise LabelerError("the OOD detector was fitted without X_pool; pass X_pool to fit")
        return self._best(pool_features(self._pool)[1]) < self.threshold_

    def _best(self, Z: np.ndarray) -> np.ndarray:
        out = np.empty(len(Z), dtype=np.float32)
        for start in range(0, len(Z), _CHUNK):
            out[start : start + _CHUNK] = (Z[start : start + _CHUNK] @ self.references_.T).max(1)
        return out

    @staticmethod
    def _held_out_scores(Z: np.ndarray, y: np.ndarray, sums: np.ndarray) -> np.ndarray:
        """(N,) each labeled row's score against the other rows and prototypes without it."""
        sims = Z @ Z.T
        np.fill_diagonal(sims, -np.inf)
        best = sims.max(axis=1) if len(Z) > 1 else np.full(len(Z), -np.inf, dtype=np.float32)
        proto = Z @ l2_normalize(sums).T  # (N, C) against the full prototypes
        counts = np.bincount(y, minlength=len(sums))
        own = sums[y] - Z  # own class's sum without the row; zero for a singleton
        own_sim = (Z * l2_normalize(own)).sum(axis=1)
        proto[np.arange(len(y)), y] = np.where(counts[y] > 1, own_sim, -np.inf)
        return np.maximum(best, proto.max(axis=1))

    def _conformal_threshold(self, held_out: np.ndarray) -> float:
        """Flag a score s when #{held-out ≤ s} + 1 ≤ alpha (n + 1): below the k-th lowest."""
        k = int(np.floor(self.alpha * (len(held_out) + 1)))
        if k < 1:
            return float("-inf")
        return float(np.sort(held_out)[k - 1])
