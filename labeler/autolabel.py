"""From a fitted head to trustworthy auto-labels: OOD flags, the auto-accept threshold for a target
precision, conformal prediction sets; and the project's cached kNN graph for transductive heads.

The facade (`labeler.project`) calls `auto_label` after fitting; everything here works on arrays.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeler.atomic import atomic_file
from labeler.calibrate import (
    conformal_threshold,
    prediction_sets,
    softmax,
    threshold_for_precision,
    top2_scores,
)
from labeler.errors import LabelerError
from labeler.heads import Head, KnnGraph, pool_graph
from labeler.heads.propagation import remember_pool_graph
from labeler.ood import OodDetector

DEFAULT_TARGET_PRECISION = 0.95  # auto-accept threshold reported by `predict`
GRAPH_NAME = "knn_graph.npz"
_log = logging.getLogger(__name__)


@dataclass
class AutoLabels:
    """Predictions of M unlabeled images, with everything the export and the report need."""

    labels: list[str]  # (M,) predicted class names
    confidence: np.ndarray  # (M,) float32 calibrated probability of the label
    margin: np.ndarray  # (M,) float32
    entropy: np.ndarray  # (M,) float32
    ood: np.ndarray  # (M,) bool, fits no class
    ood_short: int  # labels still needed before any image can be flagged (OodDetector)
    sets: list[list[str]] | None  # (M,) conformal prediction sets, when asked for
    threshold: float  # confidence to auto-accept at for the target precision (inf: none, also
    # whenever nothing could be held out: the confidences are then not calibrated)
    coverage: float  # estimated share of the in-distribution images accepted at it
    target_precision: float


def auto_label(
    head: Head,
    proba: np.ndarray,
    raw: np.ndarray,
    rows: np.ndarray,
    labels: list[str],
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    conformal_alpha: float | None = None,
    labeled: np.ndarray | None = None,
    graph: KnnGraph | None = None,
) -> tuple[np.ndarray, AutoLabels]:
    """Auto-labels of every image that has no label.

    Args:
        head: the fitted head; proba: (N, C) its calibrated probabilities of every image.
        raw: (N, D) float32 vectors of every image; rows: (K,) int64 the rows the head was
            fitted on, whose names are `labels` (K,).
        labeled: (L,) int64 every row with a label, to leave out (default: rows); it also
            holds labels the head was not fitted on (predictions accepted in bulk).
        graph: the kNN graph of raw (a transductive head's): the OOD flags then also catch
            groups of images that no label reaches (`labeler.ood`).
    Returns:
        the unlabeled rows (M,) int64, and their AutoLabels.
    """
    unlabeled = np.setdiff1d(np.arange(len(raw)), rows if labeled is None else labeled)
    proba = proba[unlabeled]
    pred, conf, margin, entropy = top2_scores(proba)
    detector = OodDetector().fit(raw[rows], labels, X_pool=raw, graph=graph)
    ood = detector.pool_flags()[unlabeled]
    threshold, coverage = float("inf"), 0.0  # uncalibrated (nothing held out): accept nothing
    if head.oof_ is not None:
        threshold, coverage = threshold_for_precision(
            conf[~ood], target=target_precision, chance=1.0 / len(head.classes_)
        )
    sets = None
    if conformal_alpha is not None:
        qhat = 1.0  # without held-out labels, every class is possible
        if head.oof_ is not None:
            rows, logits = head.oof_
            truth = np.searchsorted(head.classes_, np.asarray(labels, dtype=object)[rows])
            held_out = softmax(logits / head.temperature_)
            qhat = conformal_threshold(held_out[np.arange(len(rows)), truth], alpha=conformal_alpha)
        names = [str(c) for c in head.classes_]
        sets = [[names[j] for j in np.flatnonzero(row)] for row in prediction_sets(proba, qhat)]
    return unlabeled, AutoLabels(
        labels=[str(c) for c in head.classes_[pred]],
        confidence=conf,
        margin=margin,
        entropy=entropy,
        ood=ood,
        ood_short=detector.labels_short,
        sets=sets,
        threshold=threshold,
        coverage=coverage,
        target_precision=target_precision,
    )


Fitter = Callable[[np.ndarray, list[str]], tuple[Head, np.ndarray]]
"""(rows (K,) int64 ascending, their class names) → (the fitted head, (N, C) float32 calibrated
probabilities of every row, columns in the head's `classes_` order), as `fit_on_pool` gives;
the project's `fit_rows` with a method is one."""


def fit_on_pool(
    head: Head,
    raw: np.ndarray,
    rows: np.ndarray,
    labels: Sequence[str],
    *,
    graph: KnnGraph | None = None,
) -> tuple[Head, np.ndarray]:
    """Fit `head` on rows (K,) int64 of raw (N, D) float32 labeled `labels` (K,), with all of
    raw as its pool (and its kNN graph, when cached): the fitted head and (N, C) float32
    calibrated probabilities of every row (a transductive head's own pool predictions)."""
    head.fit(raw[rows], list(labels), X_pool=raw, graph=graph)
    return head, head.predict_pool_proba()


def head_options(method: str, *, backbone: str, checkpoint: str | None, classes: list[str]) -> dict:
    """Options a head needs from the project: `zeroshot`'s text prototypes of the class names,
    from the project's CLIP weights."""
    if method != "zeroshot":
        return {}
    from labeler.embed.clip_backend import CLIP_NAME, text_embeddings

    if backbone != CLIP_NAME or checkpoint is None:
        raise LabelerError(
            "zero-shot labels need the CLIP backbone with local weights: labeler init PROJECT "
            "--images DIR --backbone clip --checkpoint FILE (an open_clip checkpoint)"
        )
    return {"class_text": dict(zip(classes, text_embeddings(classes, checkpoint), strict=True))}


def cached_pool_graph(
    folder: Path, model_key: str, item_ids: np.ndarray, raw: np.ndarray
) -> KnnGraph:
    """The kNN graph of the pool `raw` (N, D), from folder/knn_graph.npz when it is current.

    Current means: same embedder and the same items in the same order. Otherwise (or when the
    file is damaged) it is built (exact search, the slow part of transduction on a big pool) and
    saved atomically.
    """
    file = folder / GRAPH_NAME
    graph = _read_graph(file, model_key, item_ids, len(raw))
    if graph is not None:
        remember_pool_graph(raw, graph)  # refits on this pool (held-out folds) reuse it
        return graph
    graph = pool_graph(raw)
    with atomic_file(file) as f:
        np.savez(
            f,
            model=np.array(model_key),
            item_ids=item_ids,
            neighbours=graph.neighbours,
            similarities=graph.similarities,
        )
    return graph


def _read_graph(file: Path, model_key: str, item_ids: np.ndarray, n: int) -> KnnGraph | None:
    """The graph saved in `file` when it is of these items (N,) under this model, else None;
    None too for a damaged file (truncated, or not ours), which the caller then rebuilds."""
    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as data:
            if str(data["model"]) != model_key or not np.array_equal(data["item_ids"], item_ids):
                return None
            neighbours, similarities = data["neighbours"], data["similarities"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        _log.warning("rebuilding the kNN graph: %s is damaged (%s)", file, e)
        return None
    if neighbours.shape != similarities.shape or neighbours.shape[:1] != (n,):
        return None
    return KnnGraph(neighbours, similarities)
