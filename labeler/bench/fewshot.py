"""Few-shot benchmark: our heads against the peers on the same embeddings, tasks and run.

A task is a labeling project in miniature: a pool of images (balanced or long-tailed), K labeled
per class drawn with a seed, every other pool image to predict. Each method sees the support and
the whole pool (transductive ones use it); accuracy, calibration and the auto-accept figures are
measured on the images it had to predict.

    python -m labeler.bench [--datasets ...] [--shots 1 5 10 20] [--seeds 20] [--out DIR]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from labeler.bench.peers import PEERS
from labeler.calibrate import (
    ece_noise_floor,
    expected_calibration_error,
    precision_coverage,
    threshold_for_precision,
)
from labeler.heads import create_head

BALANCED_PER_CLASS = 200  # Fashion-MNIST balanced pool: 10 x 200 test images
LONG_TAIL = {"imbalance": 10.0, "max_per_class": 500}  # class sizes 500 down to 50
SYNTHETIC_SPREAD = 7.0  # Gaussian classes in 64-D overlapping enough for ProtoNet ~70% at 5-shot
ACCEPT_CONFIDENCE = 0.9  # the auto-accept threshold of the table
TARGET_PRECISION = 0.95  # the label-free threshold of `threshold_for_precision`
OUR_METHODS = (
    "auto",
    "labelprop",
    "logreg",
    "protonet",
    "protonet-euclidean",
    "bdcspn",
    "matching",
    "knn",
    "svm",
    "adapter",
    "relation",
)

Pool = tuple[np.ndarray, np.ndarray]  # vectors (M, D) float32, labels (M,) int64


def _fmnist_balanced(seed: int) -> Pool:
    from labeler.bench.data import fmnist_embeddings

    x, y = fmnist_embeddings()
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), BALANCED_PER_CLASS, replace=False) for c in range(10)]
    )
    return x[np.sort(rows)], y[np.sort(rows)]


def _fmnist_longtail(seed: int) -> Pool:
    from labeler.bench.data import fmnist_embeddings, long_tailed_indices

    x, y = fmnist_embeddings()
    rows = long_tailed_indices(y, seed=seed, **LONG_TAIL)
    return x[rows], y[rows]


def _digits_balanced(seed: int) -> Pool:
    from labeler.bench.data import digits_embeddings

    return digits_embeddings()  # all 1797 (about 180 a class); tasks differ by their labels


def _digits_longtail(seed: int) -> Pool:
    from labeler.bench.data import digits_embeddings, long_tailed_indices

    x, y = digits_embeddings()
    rows = long_tailed_indices(y, seed=seed, imbalance=10.0, max_per_class=170)
    return x[rows], y[rows]


def _synthetic(seed: int) -> Pool:
    from labeler.bench.data import synthetic_pool

    return synthetic_pool(
        n_classes=10, per_class=BALANCED_PER_CLASS, dim=64, spread=SYNTHETIC_SPREAD, seed=seed
    )


DATASETS: dict[str, Callable[[int], Pool]] = {
    "fmnist-balanced": _fmnist_balanced,
    "fmnist-longtail": _fmnist_longtail,
    "synthetic": _synthetic,
    "digits-balanced": _digits_balanced,
    "digits-longtail": _digits_longtail,
}


def feasible_settings(
    datasets: Sequence[str], shots: Sequence[int]
) -> tuple[list[tuple[str, int]], list[str]]:
    """The (dataset, shots) pairs whose every class has `shots` images to label, in the order
    given, and a note for each pair left out (a long-tailed pool's smallest class is small)."""
    pairs, notes = [], []
    for dataset in datasets:
        smallest = int(np.bincount(DATASETS[dataset](0)[1]).min())  # the same for every seed
        for k in shots:
            if k <= smallest:
                pairs.append((dataset, k))
            else:
                notes.append(
                    f"{dataset}, {k}-shot: left out, its smallest class has {smallest} images"
                )
    return pairs, notes


@dataclass(frozen=True)
class Task:
    """Support rows (S,) int64 of a pool, K per class; the other rows are predicted."""

    pool: Pool
    support: np.ndarray

    @property
    def queries(self) -> np.ndarray:
        return np.setdiff1d(np.arange(len(self.pool[1])), self.support)


def make_task(dataset: str, shots: int, seed: int, *, ways: int | None = None) -> Task:
    """A seeded task: `ways` classes (all when None), `shots` labeled each, relabelled 0..N-1."""
    x, y = DATASETS[dataset](seed)
    rng = np.random.default_rng(seed + 7919)
    classes = np.unique(y)
    if ways is not None and ways < len(classes):
        classes = np.sort(rng.choice(classes, ways, replace=False))
        keep = np.isin(y, classes)
        x, y = x[keep], y[keep]
    y = np.searchsorted(classes, y)
    support = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in range(len(classes))]
    )
    return Task(pool=(x, y), support=np.sort(support))


def run_ours(name: str, task: Task) -> np.ndarray:
    """Pool probabilities (M, C) of one of our heads, fitted on the task's support."""
    x, y = task.pool
    head = create_head(name).fit(x[task.support], y[task.support], X_pool=x)
    return head.predict_pool_proba()


def run_peer(name: str, task: Task) -> np.ndarray:
    x, y = task.pool
    return PEERS[name](x[task.support], y[task.support], x)


def score(proba: np.ndarray, task: Task, seconds: float) -> dict[str, float]:
    """Figures on the predicted (non-support) rows of a task."""
    q = task.queries
    p = proba[q]
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == task.pool[1][q]
    precision, coverage = precision_coverage(confidence, correct, ACCEPT_CONFIDENCE)
    threshold, estimated = threshold_for_precision(confidence, target=TARGET_PRECISION)
    target_precision, target_coverage = precision_coverage(confidence, correct, threshold)
    return {
        "accuracy": float(correct.mean()),
        "ece": expected_calibration_error(confidence, correct),
        "ece_floor": ece_noise_floor(confidence),
        "precision": precision,
        "coverage": coverage,
        "target_precision": target_precision,
        "target_coverage": target_coverage,
        "estimated_coverage": estimated,
        "seconds": seconds,
    }


def evaluate(method: str, task: Task) -> dict[str, float]:
    run = run_peer if method in PEERS else run_ours
    start = time.perf_counter()
    proba = run(method, task)
    return score(np.asarray(proba, dtype=np.float64), task, time.perf_counter() - start)
