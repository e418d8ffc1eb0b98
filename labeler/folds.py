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
