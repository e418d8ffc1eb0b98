"""Out-of-distribution flags: images that fit no class, rather than forced into one.

Two scores, each turned into a conformal p-value (Vovk et al. 2005; Bates et al. 2023, "Testing
for outliers with conformal p-values") against the same score of the labeled images held out:

- similarity: an image's highest cosine similarity, in the heads' feature space (`FeatureMap`),
  to any class prototype or labeled image. Catches lone odd images.
- seed share (given the pool's kNN graph): the share of an image's mass, propagated over the
  graph as label propagation does, that comes from labeled images rather than from all images,
  (I − αS)⁻¹ 1_labeled / (I − αS)⁻¹ 1. A group of similar images that no label reaches (a class
  nobody labeled) scores low as a whole, even where single images look like a labeled class.

The two p-values combine into one statistic, the smaller of them, which is itself ranked
against the same statistic of the held-out labeled images; an image is flagged when that final
p-value is at most alpha. Images like the labeled ones are then wrongly flagged about `alpha` of
the time (at most, up to ties), and no level is lost to the second score (a Bonferroni split
would need twice the labels). With fewer than 1/alpha − 1 labeled images held out, nothing can
be flagged at that level, and nothing is.
"""

from __future__ import annotations

import math

import numpy as np

from labeler.errors import LabelerError
from labeler.folds import held_out_folds
from labeler.heads.features import FeatureMap, pool_features
from labeler.heads.graph import (
    GRAPH_NEIGHBOURS,
    KnnGraph,
    neighbours_in,
    normalized_affinity,
    propagate,
    spread_to,
)
from labeler.index.faiss_index import l2_normalize

OOD_ALPHA = 0.02  # false-flag rate allowed for images like the labeled ones
_CHUNK = 8192  # pool rows scored at a time
_TINY = 1e-12  # floor of the propagated pool mass (the share's denominator)


class OodDetector:
    """Attributes after fit: references_ (R, D) unit vectors of the similarity score;
    held_out_ (H, P) float64, the P scores of the H labeled images held out by every score."""

    def __init__(self, *, alpha: float = OOD_ALPHA) -> None:
        if not 0.0 < alpha < 1.0:
            raise LabelerError(f"the OOD rate alpha must be between 0 and 1, got {alpha}")
        self.alpha = alpha

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        X_pool: np.ndarray | None = None,
        graph: KnnGraph | None = None,
    ) -> OodDetector:
        """X (N, D) float32 labeled vectors, y (N,) class labels; X_pool (M, D) the pool (for the
        centring); graph: the pool's kNN graph (`pool_graph(X_pool)`, as the project caches it),
        for the seed-share score: without one, the similarity score alone decides."""
        X = np.asarray(X, dtype=np.float32)
        _, y = np.unique(np.asarray(y, dtype=object), return_inverse=True)
        self._pool = X_pool if X_pool is not None and len(X_pool) else None
        if self._pool is None:
            self.features_ = FeatureMap.fit(X)
        else:
            self.features_, Zp = pool_features(self._pool)
        Z = self.features_.transform(X)
        sums = np.zeros((y.max() + 1, Z.shape[1]), dtype=np.float32)
        np.add.at(sums, y, Z)
        self.references_ = np.concatenate([Z, l2_normalize(sums)])
        held = [_held_out_similarity(Z, y, sums)]
        self._share = None
        if graph is not None:
            if self._pool is None:
                raise LabelerError("a kNN graph was given without its pool; pass X_pool too")
            graph.check(len(self._pool))
            self._share = _SeedShare(Zp, Z, y, graph)
            held.append(self._share.held_out)
        held = np.stack(held, axis=1).astype(np.float64)
        self.held_out_ = held[~np.isnan(held).any(axis=1)]
        self._sorted = np.sort(self.held_out_, axis=0)  # (H, P) each score's held-out values
        self._held_statistic = np.sort(self._statistic(self.held_out_, held_out=True))
        return self

    @property
    def labels_short(self) -> int:
        """How many more labeled images must be held out before any image can be flagged at
        level alpha (the smallest p-value is 1 / (H + 1)); 0 once flags are possible."""
        needed = math.ceil(1.0 / self.alpha - 1.0 - 1e-9)
        return max(0, needed - len(self._held_statistic))

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M,) float64 in (0, 1]: the conformal p-value of the images (lower: less
        like the labeled images)."""
        Z = self.features_.transform(np.asarray(X, dtype=np.float32))
        raw = [self._similarity(Z)]
        if self._share is not None:
            raw.append(self._share.at(Z))
        return self._p_value(raw)

    def flags(self, X: np.ndarray) -> np.ndarray:
        """(M, D) → (M,) bool, True for out-of-distribution."""
        return self.scores(X) <= self.alpha

    def pool_parts(self) -> dict[str, np.ndarray]:
        """The raw scores (M,) of the X_pool given to fit, by name (the seed share when fitted
        with a graph); higher: more like the labeled images."""
        if self._pool is None:
            raise LabelerError("the OOD detector was fitted without X_pool; pass X_pool to fit")
        parts = {"similarity": self._similarity(pool_features(self._pool)[1])}
        if self._share is not None:
            parts["seed share"] = self._share.pool
        return parts

    def pool_scores(self) -> np.ndarray:
        """(M,) `scores` of the X_pool given to fit."""
        return self._p_value(list(self.pool_parts().values()))

    def pool_flags(self) -> np.ndarray:
        """(M,) bool flags of the X_pool given to fit."""
        return self.pool_scores() <= self.alpha

    def _similarity(self, Z: np.ndarray) -> np.ndarray:
        out = np.empty(len(Z), dtype=np.float32)
        for start in range(0, len(Z), _CHUNK):
            out[start : start + _CHUNK] = (Z[start : start + _CHUNK] @ self.references_.T).max(1)
        return out

    def _statistic(self, raw: np.ndarray, *, held_out: bool = False) -> np.ndarray:
        """(M, P) scores → (M,) the smallest over scores of (1 + #{held-out ≤ s}) / (H + 1), the
        score's own conformal p-value; a held-out row does not count itself."""
        below = np.stack(
            [np.searchsorted(col, raw[:, j], side="right") for j, col in enumerate(self._sorted.T)],
            axis=1,
        )
        return ((1.0 + below - held_out) / (len(self._sorted) + 1.0)).min(axis=1)

    def _p_value(self, raw: list[np.ndarray]) -> np.ndarray:
        """(M,) p-values of scores (M,) each: their statistic ranked among the held-out ones'."""
        t = self._statistic(np.stack(raw, axis=1).astype(np.float64))
        below = np.searchsorted(self._held_statistic, t, side="left")  # held-out strictly lower
        return (1.0 + below) / (len(self._held_statistic) + 1.0)


def _held_out_similarity(Z: np.ndarray, y: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """(N,) each labeled row's similarity score against the other rows and the prototypes
    rebuilt without it."""
    sims = Z @ Z.T
    np.fill_diagonal(sims, -np.inf)
    best = sims.max(axis=1) if len(Z) > 1 else np.full(len(Z), -np.inf, dtype=np.float32)
    proto = Z @ l2_normalize(sums).T  # (N, C) against the full prototypes
    counts = np.bincount(y, minlength=len(sums))
    own = sums[y] - Z  # own class's sum without the row; zero for a singleton
    own_sim = (Z * l2_normalize(own)).sum(axis=1)
    proto[np.arange(len(y)), y] = np.where(counts[y] > 1, own_sim, -np.inf)
    return np.maximum(best, proto.max(axis=1))


class _SeedShare:
    """The seed-share score over the pool's kNN graph plus the labeled images as nodes.

    One propagation solves every column at once: all nodes' mass (every node a seed, so that a
    held-out image counts itself as a pool image does), the labeled images' mass, and for each
    fold the labeled images outside it. A held-out image's share is read at its own node from
    its fold's column, scaled by (all labeled / seeds left) so that fewer seeds do not bias it
    low. That held-out and pool shares are exchangeable is checked by the false-flag rate
    (tests, `labeler.bench.ood`).

    Attributes: pool (M,) float64 the pool nodes' shares; held_out (N,) float64 the labeled
    images', NaN for those not held out (a lone example of its class).
    """

    def __init__(self, Zp: np.ndarray, Z: np.ndarray, y: np.ndarray, graph: KnnGraph) -> None:
        m, n = len(Zp), len(Z)
        S = normalized_affinity(graph, neighbours_in(Zp, Z, graph.neighbours.shape[1]))
        split = held_out_folds(y)
        folds = [] if split is None else np.unique(split[0][split[1]])
        Y = np.zeros((m + n, 2 + len(folds)), dtype=np.float32)
        Y[:, 0] = 1.0
        Y[m:, 1] = 1.0
        for j, f in enumerate(folds):
            Y[m:, 2 + j] = split[0] != f
        F = np.maximum(propagate(S, Y), 0.0).astype(np.float64)
        reach = np.maximum(F[:, 0], _TINY)
        self.pool = F[:m, 1] / reach[:m]
        self.held_out = np.full(n, np.nan)
        for j, f in enumerate(folds):
            rows = np.flatnonzero((split[0] == f) & split[1])
            self.held_out[rows] = n / Y[m:, 2 + j].sum() * F[m + rows, 2 + j] / reach[m + rows]
        self._nodes = (Zp, Z)  # pool nodes, then labeled ones; joined only for new points
        self._mass = F[:, :2]  # (M + N, 2): all nodes' mass, the labeled images' mass

    def at(self, Z: np.ndarray) -> np.ndarray:
        """(Q,) shares of new unit points (Q, D), from their nearest nodes."""
        spread = spread_to(np.concatenate(self._nodes), self._mass, Z, GRAPH_NEIGHBOURS)
        return spread[:, 1] / np.maximum(spread[:, 0], _TINY)
