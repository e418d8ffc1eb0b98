"""Honest estimates from the expert's labels alone: out-of-fold predictions of a head.

Every labeled vector is predicted by a head fitted without it (stratified folds), so accuracy and
calibration measured on these predictions estimate how the auto-labels will fare.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from labeler.errors import LabelerError
from labeler.folds import DEFAULT_FOLDS, stratified_folds
from labeler.heads import create_head

CHECK_DESC = "checking the labels"  # the folds' progress bar: each label predicted unseen

__all__ = ["DEFAULT_FOLDS", "estimate_accuracy", "out_of_fold_proba", "stratified_folds"]


def out_of_fold_proba(
    method: str,
    X: np.ndarray,
    y: Sequence[str],
    *,
    X_pool: np.ndarray | None = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    options: dict | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (N, C) of each labeled row from a head fitted on the other folds
    (`progress`: a tqdm bar of the folds on stderr).

    Args:
        method: a head registry name.
        X: (N, D) float32 labeled vectors; y: (N,) class names.
        X_pool: (M, D) float32 unlabeled pool passed to every fit (transductive heads, centring).
        folds: number of folds, capped at N (N folds = leave-one-out).
    Returns:
        proba (N, C) float32 with columns in `classes` order, and classes (C,) sorted names. A
        class missing from a training fold gets probability 0 in that fold's rows.
    """
    y = np.asarray(y, dtype=object)
    classes = np.unique(y)
    if len(classes) < 2:
        raise LabelerError("estimating accuracy needs labels of at least two classes")
    folds = max(2, min(folds, len(y)))
    fold = stratified_folds(y, folds, seed=seed)
    proba = np.zeros((len(y), len(classes)), dtype=np.float32)
    bar = tqdm(range(folds), desc=CHECK_DESC, unit="fold", file=sys.stderr, disable=not progress)
    for f in bar:
        test, train = fold == f, fold != f
        if not test.any() or len(np.unique(y[train])) < 2:
            continue
        head = create_head(method, **(options or {})).fit(X[train], y[train], X_pool=X_pool)
        cols = np.searchsorted(classes, head.classes_)
        proba[np.ix_(np.flatnonzero(test), cols)] = head.predict_proba(X[test])
    return proba, classes


def estimate_accuracy(
    method: str, X: np.ndarray, y: Sequence[str], *, X_pool: np.ndarray | None = None
) -> float:
    """Share of labeled rows that the out-of-fold head gets right (0..1)."""
    proba, classes = out_of_fold_proba(method, X, y, X_pool=X_pool)
    return float(np.mean(classes[proba.argmax(axis=1)] == np.asarray(y, dtype=object)))
