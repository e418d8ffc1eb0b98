"""Knowing when to stop: estimates of the auto-labels' accuracy from the expert's labels,
recorded in the store as the points of the learning curve, one per set of hand labels."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from labeler.active.stopping import (
    AccuracyEstimate,
    checked_labels,
    estimate_auto_label_accuracy,
)
from labeler.store import Estimate, Store

Point = tuple[int, float, float, float]  # (hand labels, estimated accuracy, low, high)


@dataclass(frozen=True)
class AccuracyCheck:
    """The accuracy of the auto-labels as checked against the expert's hand labels.

    labels: how many hand labels there were when the check was made.
    current: the estimate made from exactly these labels (after an undo, the one recorded when
        they were last the labels); None while none can be made (`Project.accuracy_check`).
    curve: the learning curve to draw, one point per number of labels, fewest first
        (`estimates.by_label_count`), `current` among them.
    """

    labels: int
    current: Point | None
    curve: list[Point]


def estimate_key(method: str, model_key: str, item_ids: np.ndarray, labels: Sequence[str]) -> str:
    """What an accuracy estimate is made from: the head `method`, the model (vectors) and the
    hand labels, as (K,) int64 item ids and their classes."""
    text = json.dumps([method, model_key, sorted(zip(item_ids.tolist(), labels, strict=True))])
    return hashlib.sha256(text.encode()).hexdigest()


def stored_estimate(store: Store, key: str) -> Estimate | None:
    """The estimate recorded under `key` (an `estimate_key`), or None."""
    return next((e for e in store.estimates() if e.labels_key == key), None)


def record_estimate(
    store: Store,
    vectors: np.ndarray,
    method: str,
    rows: np.ndarray,
    labels: list[str],
    confidence: np.ndarray,
    *,
    key: str,
    options: Callable[[], dict],
    progress: bool = False,
) -> AccuracyEstimate | None:
    """Estimate the accuracy of auto-labels with these (M,) confidences, head `method` (made
    with `options()`, asked only when M > 0) checked on the hand labels: rows (K,) of `vectors`
    (N, D) float32 and their `labels`. Store it as the learning-curve point of the current
    labels under `key` (`estimate_key` of method, rows and labels). One made from the same hand
    labels is read back instead (a bulk accept, or its undo, changes the labels but not the
    estimate): its refits, a nested cross-validation, are the slow part of `predict` (`progress`
    shows them as a bar on stderr)."""
    state = store.label_version()[0]
    if len(confidence) == 0:
        return None
    stored = stored_estimate(store, key)
    if stored is not None:  # made from these hand labels already: the same refits, skipped
        checked = int(checked_labels(labels).sum())
        return AccuracyEstimate(
            n_labels=stored.n_labels,
            accuracy=stored.accuracy,
            low=stored.low,
            high=stored.high,
            checked=checked,
            alone=len(labels) - checked,
        )
    est = estimate_auto_label_accuracy(
        vectors, rows, labels, confidence, head=method, options=options(), progress=progress
    )
    if est is not None:
        store.add_estimate(
            label_state=state,
            method=method,
            n_labels=est.n_labels,
            accuracy=est.accuracy,
            low=est.low,
            high=est.high,
            labels_key=key,
        )
    return est


def recorded_curve(store: Store, method: str) -> list[tuple[int, float, float, float]]:
    """(n_labels, estimated accuracy, low, high) of each recorded estimate of head `method`,
    oldest first."""
    return [
        (e.n_labels, e.accuracy, e.low, e.high) for e in store.estimates() if e.method == method
    ]


def by_label_count(
    points: Sequence[tuple[int, float, float, float]],
    current: tuple[int, float, float, float] | None = None,
) -> list[tuple[int, float, float, float]]:
    """The learning curve to draw from `points` (`recorded_curve`, oldest first): one point
    per number of labels, fewest first, the latest recorded of each; for the count of the
    labels now, `current`, their own estimate (`stored_estimate`), if there is one. Undos
    return to sets of labels seen before, so in time order the counts go back and forth."""
    latest = {p[0]: p for p in points}
    if current is not None:
        latest[current[0]] = current
    return [latest[n] for n in sorted(latest)]
