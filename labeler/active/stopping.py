"""Knowing when to stop: the accuracy of the current auto-labels, from the expert's labels alone.

The estimate is prediction-powered (Angelopoulos et al. 2023): the head's calibrated confidence
averaged over the auto-labeled images, corrected by how far confidence and correctness differ on
the expert's labels, each predicted by a head fitted without it (out of fold). Confidence alone
is only as good as the calibration; out-of-fold accuracy alone misses that actively chosen
labels are not a random sample. Together they stay honest when either one drifts, and the
interval accounts for both. A learning curve is this estimate against the number of labels: when
it flattens, more labels buy little.

Three details keep the interval honest with few labels (measured with
`python -m labeler.bench.active`, 20 seeds):

- A label that is alone in its class is checked too. The heads fitted without it never saw its
  class, so it is necessarily wrong, like the pool's images of classes with no label yet; the
  share of such labels is Good's (1953) estimate of the share of those images. Leaving them out
  made the estimate optimistic by 6 to 9 points, by 24 after the first 10 labels.
- One right and one wrong pseudo-check, at the auto-labels' mean confidence, join the checks
  (the rule of succession, as in `labeler.calibrate.fit_temperature`): a handful of checks that
  all happen to agree with their confidence no longer give a zero-width interval, and a head
  confident and right on every check is estimated at (K + 1) / (K + 2), not 1.
- The interval uses Student's t with K − 1 degrees of freedom, K the expert labels.

What the interval still does not see: the out-of-fold heads, fitted on 4/5 of the labels, are
calibrated a little differently from the head that made the auto-labels (their mean confidence
on the pool differs from its by 2 ± 4 points, unrelated to the real gain in accuracy), and labels
chosen by a strategy are not a random sample. It held the truth 87-98% of the time on the
benchmark (about 91% overall), not 95%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labeler.errors import LabelerError
from labeler.evaluate import out_of_fold_proba

LEVEL = 0.95  # two-sided level of the interval
MIN_CHECKED_PER_CLASS = 2  # no estimate until two classes have this many labels
PSEUDO_CHECKS = 1  # right and as many wrong pseudo-checks at the auto-labels' mean confidence


@dataclass(frozen=True)
class AccuracyEstimate:
    """Estimated share of correct auto-labels, with a 95% interval; all in [0, 1]."""

    n_labels: int  # expert labels it was estimated from
    accuracy: float
    low: float
    high: float
    checked: int  # labels of classes with 2+ labels, predicted by heads that saw their class
    alone: int = 0  # labels alone in their class: stand-ins for the images of unlabeled classes


def estimate_auto_label_accuracy(
    raw: np.ndarray,
    rows: np.ndarray,
    labels: Sequence[str],
    confidence: np.ndarray,
    *,
    head: str,
    options: dict | None = None,
    seed: int = 0,
    progress: bool = False,
) -> AccuracyEstimate | None:
    """Prediction-powered estimate of the accuracy of the auto-labels.

    Args:
        raw: (N, D) float32 vectors of every image (the pool heads centre on).
        rows: (K,) int64 rows of raw with an expert label; labels: (K,) their class names.
        confidence: (M,) float, the calibrated probability of each auto-label's class.
        head: the head registry name that made the auto-labels; options: the options it was
            made with (`zeroshot`'s class_text), so that the heads checked are that head.
        progress: a bar of the refits (one a fold) on stderr.
    Returns:
        the estimate, or None while fewer than two classes have MIN_CHECKED_PER_CLASS labels
        (no label could then be checked against a head that saw its class).
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
    checked = checked_labels(y)
    if len(np.unique(y[checked])) < 2:
        return None
    # Stratified folds keep two labels of a class apart: every training fold has both classes
    # of two labels or more, and only a lone label's class is ever missing from its heads.
    proba, names = out_of_fold_proba(
        head, raw[rows], y, X_pool=raw, seed=seed, options=options, progress=progress
    )
    residual = (names[proba.argmax(axis=1)] == y) - proba.max(axis=1).astype(np.float64)
    low, mid, high = prediction_powered_interval(confidence, residual)
    return AccuracyEstimate(
        n_labels=len(y),
        accuracy=mid,
        low=low,
        high=high,
        checked=int(checked.sum()),
        alone=int((~checked).sum()),
    )


def checked_labels(labels: Sequence[str]) -> np.ndarray:
    """(K,) bool: the labels an estimate checks against heads that saw their class, those of
    classes with MIN_CHECKED_PER_CLASS labels or more (`AccuracyEstimate.checked`)."""
    y = np.asarray(labels, dtype=object)
    classes, counts = np.unique(y, return_counts=True)
    return np.isin(y, classes[counts >= MIN_CHECKED_PER_CLASS])


def prediction_powered_interval(
    confidence: np.ndarray, residual: np.ndarray, *, level: float = LEVEL
) -> tuple[float, float, float]:
    """(low, estimate, high) of the auto-labels' accuracy, clipped to [0, 1].

    Args:
        confidence: (M,) float64 calibrated confidence of each auto-label.
        residual: (K,) float64 correct (0/1) minus confidence of each expert label, predicted
            out of fold; K >= 2.
    The estimate is the mean confidence plus the mean residual, the residuals joined by
    PSEUDO_CHECKS right and wrong pseudo-checks at the mean confidence; the interval is
    Student's t with K − 1 degrees of freedom on both means' variances.
    """
    from scipy.stats import t  # here: a second off every CLI start

    c = confidence.mean()
    pseudo = np.repeat([1.0 - c, -c], PSEUDO_CHECKS)
    r = np.concatenate([residual, pseudo])
    mid = c + r.mean()
    se = np.sqrt(confidence.var() / len(confidence) + r.var(ddof=1) / len(r))
    half = t.ppf(0.5 + level / 2, len(residual) - 1) * se
    low, mid, high = np.clip([mid - half, mid, mid + half], 0.0, 1.0)
    return float(low), float(mid), float(high)
