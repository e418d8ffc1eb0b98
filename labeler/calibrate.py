"""Calibration of probabilities: softmax, temperature scaling, and summary scores."""

from __future__ import annotations

import numpy as np

TEMPERATURE_BOUNDS = (0.05, 20.0)  # search range for the softmax temperature


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) → (N, C) float32, rows summing to 1."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) → (N, C) log-probabilities, computed stably in the input's precision."""
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the true classes y (N,) int under softmax(logits / T)."""
    log_p = log_softmax(logits / temperature)
    return float(-log_p[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T for held-out logits (N, C) with true classes y (N,) int.

    T minimises the NLL, except when every held-out row is right: the NLL then keeps falling as
    T → 0 and would make every confidence 1 on the evidence of a handful of labels (a small
    project's first rounds). T is then the one whose mean held-out confidence is the rule of
    succession's accuracy estimate, (N + 1) / (N + 2): with 6 of 6 right, 0.875, not 1.
    """
    from scipy.optimize import brentq, minimize_scalar  # here: a second off every CLI start

    logits = np.asarray(logits, dtype=np.float64)
    lo, hi = np.log(TEMPERATURE_BOUNDS)
    res = minimize_scalar(
        lambda log_t: nll(logits, y, np.exp(log_t)), bounds=(lo, hi), method="bounded"
    )
    log_t = float(res.x)
    if len(y) and np.all(logits.argmax(axis=1) == y):
        target = (len(y) + 1) / (len(y) + 2)

        def excess(log_t: float) -> float:
            return float(softmax(logits / np.exp(log_t)).max(axis=1).mean()) - target

        if excess(log_t) > 0 > excess(hi):  # confidence falls as T rises: one crossing
            log_t = brentq(excess, log_t, hi)
    return float(np.exp(log_t))


def top2_scores(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, C) probabilities → predicted index (N,) int; confidence, margin, entropy (N,) float32.

    margin is top-1 minus top-2 probability (1 with a single class); entropy is in nats.
    """
    pred = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), pred]
    if proba.shape[1] > 1:
        second = np.partition(proba, -2, axis=1)[:, -2]
    else:
        second = np.zeros(len(proba), dtype=proba.dtype)
    entropy = -(proba * np.log(np.clip(proba, 1e-12, 1.0))).sum(axis=1)
    return pred, confidence, confidence - second, entropy.astype(np.float32)


# -- summary scores, auto-accept thresholds, conformal sets ---------------------------------------

ECE_BINS = 15  # equal-width confidence bins of the expected calibration error


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, *, bins: int = ECE_BINS
) -> float:
    """ECE: mean |accuracy − confidence| over equal-width bins, weighted by the bins' sizes.

    confidence (N,) float in [0, 1], correct (N,) bool. 0 for no rows.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if not len(confidence):
        return 0.0
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    gap = np.abs(
        np.bincount(which, weights=correct, minlength=bins)
        - np.bincount(which, weights=confidence, minlength=bins)
    )
    return float(gap.sum() / len(confidence))


def ece_noise_floor(confidence: np.ndarray, *, bins: int = ECE_BINS) -> float:
    """The ECE that perfectly calibrated confidences (N,) would show from sampling alone.

    Even when each row is right with probability exactly its confidence c, a bin's count of
    right rows strays from its sum of confidences: by sqrt(2/π · Σ c(1 − c)) on average (the
    normal approximation of E|Σ (right − c)|). Summed over bins and divided by N, that is the
    floor under `expected_calibration_error` on this many rows; it falls as 1/√N. 0 for no rows.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    if not len(confidence):
        return 0.0
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    variance = np.bincount(which, weights=confidence * (1.0 - confidence), minlength=bins)
    return float(np.sqrt(2.0 / np.pi * variance).sum() / len(confidence))


def precision_coverage(
    confidence: np.ndarray, correct: np.ndarray, threshold: float
) -> tuple[float, float]:
    """(share correct among rows with confidence ≥ threshold (nan if none), share of such rows)."""
    accepted = np.asarray(confidence) >= threshold
    if not accepted.any():
        return float("nan"), 0.0
    return float(np.mean(np.asarray(correct)[accepted])), float(accepted.mean())


def threshold_for_precision(
    confidence: np.ndarray, *, target: float, chance: float = 0.0
) -> tuple[float, float]:
    """The lowest auto-accept threshold whose accepted rows are expected `target` precise.

    With calibrated confidences (N,), the expected precision of the rows at or above t is their
    mean confidence; this returns the smallest such t reaching `target`, and the estimated
    coverage (share of rows accepted). Rows of equal confidence are accepted all or none, as a
    threshold takes them. Rows at or below `chance` (1/C for C classes: a uniform guess, such
    as an image no label reaches) are never accepted, however confident the rest. (inf, 0.0)
    when no threshold reaches the target.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target precision must be between 0 and 1 (exclusive), got {target}")
    every = len(confidence)
    c = np.sort(np.asarray(confidence, dtype=np.float64))[::-1]
    c = c[c > chance]
    if not len(c):
        return float("inf"), 0.0
    running = np.cumsum(c) / np.arange(1, len(c) + 1)  # mean of the top-i confidences
    last_of_tie = np.append(c[1:] < c[:-1], True)
    ok = np.flatnonzero((running >= target) & last_of_tie)
    if not len(ok):
        return float("inf"), 0.0
    i = ok[-1]  # the most rows whose mean still reaches the target
    return float(c[i]), float((i + 1) / every)


def conformal_threshold(true_class_proba: np.ndarray, *, alpha: float) -> float:
    """Split-conformal cut-off q̂ from held-out probabilities of the true class (K,).

    Score 1 − p(true class) (Sadinle et al. 2019, "LAC"); q̂ is its ⌈(K+1)(1−α)⌉/K empirical
    quantile, so sets {c : 1 − p_c ≤ q̂} contain the true class with probability ≥ 1 − α on
    exchangeable data. 1.0 (every class) when K is too small for that level.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    scores = np.sort(1.0 - np.asarray(true_class_proba, dtype=np.float64))
    k = int(np.ceil((len(scores) + 1) * (1.0 - alpha)))
    return 1.0 if k > len(scores) else float(scores[k - 1])


def prediction_sets(proba: np.ndarray, qhat: float) -> np.ndarray:
    """(N, C) bool: classes with 1 − p ≤ q̂, always including the most probable one."""
    sets = (1.0 - proba) <= qhat + 1e-9
    sets[np.arange(len(proba)), proba.argmax(axis=1)] = True
    return sets
