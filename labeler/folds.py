"""Stratified folds of a labeled set, shared by the heads' held-out logits and labeler.evaluate."""

from __future__ import annotations

import numpy as np

DEFAULT_FOLDS = 5


def stratified_folds(y: np.ndarray, folds: int, *, seed: int = 0) -> np.ndarray:
    """(N,) int fold number of each row; each class is spread round-robin in a seeded order."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    offset = 0
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        fold[rows] = (np.arange(len(rows)) + offset) % folds
        offset += len(rows)  # the next class starts where this one stopped: folds stay balanced
    return fold


def held_out_folds(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Folds for held-out scores of labeled rows y (N,) int: (fold (N,) int, held (N,) bool).

    Up to DEFAULT_FOLDS folds, fewer when no class has that many rows. Only rows whose class has
    another labeled row are `held` out (a lone example held out leaves its class with nothing to
    predict it by). None when fewer than two rows, or one class, could be held out.
    """
    counts = np.bincount(y)
    held = counts[y] > 1
    if held.sum() < 2 or np.count_nonzero(counts) < 2:
        return None
    return stratified_folds(y, max(2, min(DEFAULT_FOLDS, int(counts.max())))), held
