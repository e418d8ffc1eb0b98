"""Out-of-distribution flags on real embeddings: Fashion-MNIST with classes the expert never
labeled. Each task labels K images of 8 classes; the pool also holds 2 classes with no label.

    python -m labeler.bench.ood [--shots 5 20] [--seeds 10]

Prints the AUROC of the OOD score (unknown vs known classes), the share of unknown-class and of
known-class images flagged at the default level, and the accuracy of `auto` on the known-class
images that are not flagged.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from labeler.bench.data import fmnist_embeddings
from labeler.heads import create_head
from labeler.ood import OOD_ALPHA, OodDetector

PER_CLASS = 200
UNKNOWN_CLASSES = 2


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(score of a known image > score of an unknown one), ties counted half."""
    scores = np.concatenate([known, unknown])
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable") + 1.0
    for value in np.unique(scores):  # average ranks over ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_k, n_u = len(known), len(unknown)
    return float((ranks[:n_k].sum() - n_k * (n_k + 1) / 2) / (n_k * n_u))


def run_task(shots: int, seed: int) -> dict[str, float]:
    x, y = fmnist_embeddings()
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), PER_CLASS, replace=False) for c in range(10)]
    )
    x, y = x[rows], y[rows]
    unknown_classes = rng.choice(10, UNKNOWN_CLASSES, replace=False)
    known = ~np.isin(y, unknown_classes)
    support = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), shots, replace=False)
            for c in np.setdiff1d(np.arange(10), unknown_classes)
        ]
    )
    rest = np.setdiff1d(np.arange(len(y)), support)
    detector = OodDetector().fit(x[support], y[support], X_pool=x)
    scores, flags = detector.scores(x[rest]), detector.pool_flags()[rest]
    head = create_head("auto").fit(x[support], y[support], X_pool=x)
    pred = head.classes_[head.predict_pool_proba()[rest].argmax(axis=1)]
    kept = known[rest] & ~flags
    return {
        "auroc": auroc(scores[known[rest]], scores[~known[rest]]),
        "unknown_flagged": float(flags[~known[rest]].mean()),
        "known_flagged": float(flags[known[rest]].mean()),
        "accuracy_kept": float(np.mean(pred[kept] == y[rest][kept])),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labeler.bench.ood", description=__doc__)
    p.add_argument("--shots", nargs="+", type=int, default=[5, 20])
    p.add_argument("--seeds", type=int, default=10)
    args = p.parse_args(argv)
    print(
        f"8 labeled classes + {UNKNOWN_CLASSES} unknown, {PER_CLASS} images each; alpha {OOD_ALPHA}"
    )
    for shots in args.shots:
        results = [run_task(shots, seed) for seed in range(args.seeds)]
        mean = {k: float(np.mean([r[k] for r in results])) for k in results[0]}
        print(
            f"{shots:2d} labels a class ({args.seeds} seeds): AUROC {mean['auroc']:.3f}; flagged: "
            f"unknown {100 * mean['unknown_flagged']:.1f}%, "
            f"known {100 * mean['known_flagged']:.1f}%; "
            f"auto accuracy on kept known images {100 * mean['accuracy_kept']:.1f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
