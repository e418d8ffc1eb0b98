"""Informativeness scores of unlabeled images: higher means more worth labeling.

Scores only score; choosing a batch from them is `labeler.active.select`'s job (as in modAL).
"""

from __future__ import annotations

import numpy as np

from labeler.calibrate import top2_scores


def margin_score(proba: np.ndarray) -> np.ndarray:
    """(N, C) probabilities → (N,) float32, 1 − (top-1 − top-2): high where two classes tie."""
    return (1.0 - top2_scores(proba)[2]).astype(np.float32)


def entropy_score(proba: np.ndarray) -> np.ndarray:
    """(N, C) → (N,) float32 predictive entropy in nats."""
    return top2_scores(proba)[3]


def least_confidence_score(proba: np.ndarray) -> np.ndarray:
    """(N, C) → (N,) float32, 1 − the top probability."""
    return (1.0 - proba.max(axis=1)).astype(np.float32)
