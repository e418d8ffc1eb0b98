"""A 2-D map of the embeddings: UMAP when the `umap-learn` package is installed, else PCA.

The projection is fitted on a seeded sample (so it is quick at 10^5 images) and applied to all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAP_FIT_SAMPLE = 5000  # rows the projection is fitted on
MAP_POINTS = 2500  # points drawn at most: every labeled image first, then a seeded sample


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray  # (N, 2) float32, each axis scaled to [0, 1]
    method: str  # "PCA" or "UMAP"


def _scaled(xy: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(xy, [0.5, 99.5], axis=0)
    return np.clip((xy - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0).astype(np.float32)


def project_2d(unit: np.ndarray, *, seed: int = 0) -> Projection:
    """(N, D) L2-normalised vectors -> 2-D coordinates in [0, 1]."""
    n = len(unit)
    if n < 3:
        return Projection(coords=np.full((n, 2), 0.5, dtype=np.float32), method="PCA")
    rng = np.random.default_rng(seed)
    sample = unit[rng.choice(n, min(n, MAP_FIT_SAMPLE), replace=False)]
    try:
        import umap  # optional dependency: not installed by default
    except ImportError:
        umap = None
    if umap is not None and n >= 20:
        reducer = umap.UMAP(n_components=2, random_state=seed).fit(sample)
        return Projection(coords=_scaled(reducer.transform(unit)), method="UMAP")
    mean = sample.mean(axis=0)
    centred = (sample - mean).astype(np.float64)
    # The top two eigenvectors of the (D, D) scatter matrix are the first two principal axes:
    # five times faster than an SVD of the (n, D) sample at n = 5000, D = 1280.
    _, axes = np.linalg.eigh(centred.T @ centred)
    return Projection(coords=_scaled((unit - mean) @ axes[:, :-3:-1]), method="PCA")


def points_to_draw(labeled: np.ndarray, *, limit: int = MAP_POINTS, seed: int = 0) -> np.ndarray:
    """Rows to draw: all labeled ones (up to `limit`), then a seeded sample of the others."""
    rng = np.random.default_rng(seed)
    first = np.flatnonzero(labeled)
    if len(first) > limit:
        first = np.sort(rng.choice(first, limit, replace=False))
    rest = np.flatnonzero(~labeled)
    room = limit - len(first)
    if len(rest) > room:
        rest = np.sort(rng.choice(rest, room, replace=False))
    return np.concatenate([rest, first])  # labeled last, so they are drawn on top
