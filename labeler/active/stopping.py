"""Knowing when to stop: the accuracy of the current auto-labels, from the expert's labels alone.

The estimate is prediction-powered (Angelopoulos et al. 2023): the head's calibrated confidence
averaged over the auto-labeled images, corrected by how far confidence and correctness differ on
the expert's labels, each predicted by a head fitted without it (out of fold). Confidence alone
is only as good as the calibration; out-of-fold accuracy alone misses that actively chosen
labels are not a random sample. Together they stay honest when either one drifts, and the
interval accounts for both. A learning curve is this estimate against the number of labels: when
it flattens, more labels buy little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labeler.errors import LabelerError
from labeler.evaluate import out_of_fold_proba

Z_95 = 1.959964  # two-sided 95% normal quantile
MIN_CHECKED_PER_CLASS = 2  # a class is checked out of fold only when it has this many labels


@dataclass(frozen=True)
class AccuracyEstimate:
    """Estimated share of correct auto-labels, with a 95% interval; all in [0, 1]."""

    n_labels: int  # expert labels it was estimated from
    accuracy: float
    low: float
    high: float
    checked: int  # expert labels predicted out of fold (those of classes with 2+ labels)


def estimate_auto_label_accuracy(
    raw: np.ndarray,
    rows: np.ndarray,
    labels: Sequence[str],
    confidence: np.ndarray,
    *,
    head: str,
    seed: int = 0,
) -> AccuracyEstimate | None:
    """Prediction-powered estimate of the accuracy of the auto-labels.

    Args:
        raw: (N, D) float32 vectors of every image (the pool heads centre on).
        rows: (K,) int64 rows of raw with an expert label; labels: (K,) their class names.
        confidence: (M,) float, the calibrated probability of each auto-label's class.
        head: the head registry name that made the auto-labels.
    Returns:
        the estimate, or None while fewer than two classes have MIN_CHECKED_PER_CLASS labels
        (no label can then be checked against a head that did not see it).
    """
    rows = np.asarray(rows, dtype=np.int64)
    y = np.asarray(labels, dtype=object)
    confidence = np.asarray(confidence, dtype=np.float64)
    if rows.shape != y.shape:
        raise LabelerError(f"got {len(rows)} labeled rows but {len(y)} labels; pass one per row")
    if confidence.ndim != 1 or len(confidence) == 0:
        raise LabelerError(
            f"confidence must be a non-empty (M,) array of the auto-labels' probabilities, "
            f"got shape {confidence.shape}"
        )
    classes, counts = np.unique(y, return_counts=True)
    checked = np.isin(y, classes[counts >= MIN_CHECKED_PER_CLASS])
    if len(np.unique(y[checked])) < 2:
        return None
    proba, names = out_of_fold_proba(head, raw[rows[checked]], y[checked], X_pool=raw, seed=seed)
    correct = names[proba.argmax(axis=1)] == y[checked]
    residual = correct - proba.max(axis=1)  # how much more often right than confident
    accuracy = confidence.mean() + residual.mean()
    se = np.sqrt(confidence.var() / len(confidence) + residual.var(ddof=1) / len(residual))
    low, mid, high = np.clip([accuracy - Z_95 * se, accuracy, accuracy + Z_95 * se], 0.0, 1.0)
    return AccuracyEstimate(
        n_labels=len(y),
        accuracy=float(mid),
        low=float(low),
        high=float(high),
        checked=int(checked.sum()),
    )
