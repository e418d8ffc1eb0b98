"""A `Pool` from vectors and expert labels: the head's predictions, and a committee of heads.

The project facade and the simulation benchmark both build their pools here, so the benchmark
measures exactly what `labeler suggest` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from labeler.active.base import Pool
from labeler.autolabel import Fitter, fit_on_pool
from labeler.config import COMMITTEE_BAGS, COMMITTEE_HEADS
from labeler.errors import LabelerError
from labeler.heads import DEFAULT_HEAD, Head, available_heads, create_head
from labeler.index import l2_normalize


def make_pool(
    raw: np.ndarray,
    rows: np.ndarray,
    labels: Sequence[str],
    *,
    head: str = DEFAULT_HEAD,
    fit: Fitter | None = None,
    trained: np.ndarray | None = None,
    committee: bool = False,
    seed: int = 0,
    unit: np.ndarray | None = None,
) -> Pool:
    """Fit a head on the labeled rows (when they span two classes) and describe the pool.

    Args:
        raw: (N, D) float32 vectors as the embedder gave them (what heads are fitted on).
        rows: (K,) int64 distinct rows of raw that carry a label.
        labels: (K,) class names of those rows.
        head: the head to fit, with raw as its pool, when `fit` is None.
        fit: fits the probabilities instead (the project passes its own, which caches the kNN
            graph and fits what its predictions use).
        trained: (K,) bool, the labels to fit on (default all); the others still count as
            labeled, so they are never suggested (predictions accepted in bulk).
        committee: also fit a committee of heads (for the 'disagreement' strategy).
        unit: (N, D) float32 L2-normalised raw, if already computed.
    Returns:
        a Pool whose proba (and committee) is None while fewer than two classes are trained on.
    """
    rows = np.asarray(rows, dtype=np.int64)
    names = np.asarray(labels, dtype=object)
    if rows.shape != names.shape or len(np.unique(rows)) != len(rows):
        raise LabelerError(
            f"expected one label per distinct labeled row; got {len(rows)} rows "
            f"({len(np.unique(rows))} distinct) and {len(names)} labels"
        )
    trained = np.ones(len(rows), dtype=bool) if trained is None else np.asarray(trained, bool)
    if trained.shape != rows.shape:
        raise LabelerError(
            f"trained must be one bool per labeled row ({len(rows)}), got {trained.shape}"
        )
    labeled = np.zeros(len(raw), dtype=bool)
    labeled[rows] = True
    classes, index = np.unique(names, return_inverse=True)
    label_index = np.full(len(raw), -1, dtype=np.int64)
    label_index[rows] = index
    proba = members = None
    fit_rows, fit_names = rows[trained], names[trained]
    if len(np.unique(fit_names)) >= 2:
        if fit is None:
            fit = partial(_fit_head, head, raw)
        fitted, p = fit(fit_rows, fit_names.tolist())
        proba = _widen(p, fitted.classes_, classes)
        if committee:
            members = _widen(
                fit_committee(raw, fit_rows, fit_names, head=head, seed=seed),
                np.unique(fit_names),
                classes,
            )
    return Pool(
        vectors=l2_normalize(raw) if unit is None else unit,
        labeled=labeled,
        proba=proba,
        classes=tuple(str(c) for c in classes),
        seed=seed,
        labels=label_index,
        committee=members,
    )


def _fit_head(
    head: str, raw: np.ndarray, rows: np.ndarray, labels: list[str]
) -> tuple[Head, np.ndarray]:
    return fit_on_pool(create_head(head), raw, rows, labels)


def _widen(proba: np.ndarray, have: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(..., C') probabilities over the sorted classes `have` → (..., C) over `classes` ⊇ have,
    0 for a class the fit did not see."""
    out = np.zeros((*proba.shape[:-1], len(classes)), dtype=np.float32)
    out[..., np.searchsorted(classes, have)] = proba
    return out


def fit_committee(
    raw: np.ndarray, rows: np.ndarray, labels: np.ndarray, *, head: str, seed: int
) -> np.ndarray:
    """(K, N, C) float32 probabilities of K heads fitted on the same labels.

    The heads of COMMITTEE_HEADS that are registered, when there are two or more; otherwise
    `head` fitted on COMMITTEE_BAGS bootstrap resamples of each class's labels (query by
    bagging, Abe & Mamitsuka 1998). Columns are the sorted class names of labels.
    """
    classes = np.unique(labels)
    methods = [m for m in COMMITTEE_HEADS if m in available_heads()]
    if len(methods) >= 2:
        fits = [(m, rows) for m in methods]
    else:
        rng = np.random.default_rng(seed)
        by_class = [rows[labels == c] for c in classes]
        fits = [
            (head, np.concatenate([rng.choice(r, len(r), replace=True) for r in by_class]))
            for _ in range(COMMITTEE_BAGS)
        ]
    label_of = dict(zip(rows.tolist(), labels.tolist(), strict=True))
    out = np.zeros((len(fits), len(raw), len(classes)), dtype=np.float32)
    for k, (method, sample) in enumerate(fits):
        fitted = create_head(method).fit(
            raw[sample], [label_of[r] for r in sample.tolist()], X_pool=raw
        )
        out[k][:, np.searchsorted(classes, fitted.classes_)] = fitted.predict_proba(raw)
    return out
