"""Out-of-fold estimates: folds are stratified and a row never sees its own label."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.evaluate import estimate_accuracy, out_of_fold_proba, stratified_folds


def _clusters(per_class: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8) * 5
    y = np.repeat(np.arange(3), per_class)
    X = (centres[y] + rng.normal(scale=0.5, size=(len(y), 8))).astype(np.float32)
    return X, np.array(["a", "b", "c"], dtype=object)[y]


def test_stratified_folds_spread_each_class_evenly() -> None:
    y = np.array(["x"] * 10 + ["y"] * 5 + ["z"] * 1, dtype=object)
    fold = stratified_folds(y, 5, seed=1)
    for c in ("x", "y"):
        counts = np.bincount(fold[y == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.bincount(fold, minlength=5).max() - np.bincount(fold, minlength=5).min() <= 1


def test_separable_clusters_are_estimated_perfect() -> None:
    X, y = _clusters()
    assert estimate_accuracy("protonet", X, y) == 1.0


def test_a_mislabeled_row_is_not_predicted_by_its_own_label() -> None:
    X, y = _clusters()
    y = y.copy()
    y[0] = "c"  # a point of cluster a, labeled c: a head that saw it would tend to say c
    proba, classes = out_of_fold_proba("protonet", X, y, folds=len(y))
    assert classes[proba[0].argmax()] == "a"
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_needs_two_classes() -> None:
    X, _ = _clusters()
    with pytest.raises(LabelerError, match="two classes"):
        out_of_fold_proba("protonet", X, ["a"] * len(X))
