"""Calibration of probabilities: softmax, temperature scaling, and summary scores."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

TEMPERATURE_BOUNDS = (0.05, 20.0)  # search range for the softmax temperature


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) → (N, C) float32, rows summing to 1."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the true classes y (N,) int under softmax(logits / T)."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the NLL of held-out logits (N, C) with true classes y (N,) int."""
    lo, hi = np.log(TEMPERATURE_BOUNDS)
    res = minimize_scalar(
        lambda log_t: nll(logits.astype(np.float64), y, np.exp(log_t)),
        bounds=(lo, hi),
        method="bounded",
    )
    return float(np.exp(res.x))


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
