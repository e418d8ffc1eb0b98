"""Out-of-distribution flags on real embeddings: classes the expert never labeled. Each task
labels K images of all classes but 2; the pool also holds those 2 classes, with no label.

    python -m labeler.bench.ood [--datasets fmnist digits] [--shots 1 5 20] [--seeds 10]

Prints, per data set and K, the AUROC (unknown vs known classes) of each score of the detector
and of the flag score it combines them into, the share of unknown-class and of known-class images
flagged at two levels, and the accuracy of `auto` on the known-class images that are not flagged.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from labeler.bench.data import digits_embeddings, fmnist_embeddings
from labeler.heads import create_head, pool_graph
from labeler.ood import OOD_ALPHA, OodDetector

PER_CLASS = 200  # Fashion-MNIST: test images drawn per class; the digits use all (~180)
UNKNOWN_CLASSES = 2
ALPHAS = (OOD_ALPHA, 0.05)  # levels whose flagged shares are printed


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(score of a known image > score of an unknown one), ties counted half."""
    scores = np.concatenate([known, unknown])
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable") + 1.0
    for value in np.unique(scores):  # average ranks over ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_k, n_u = len(known), len(unknown)
    return float((ranks[:n_k].sum() - n_k * (n_k + 1) / 2) / (n_k * n_u))


def run_task(dataset: str, shots: int, seed: int) -> dict[str, float]:
    x, y = fmnist_embeddings() if dataset == "fmnist" else digits_embeddings()
    rng = np.random.default_rng(seed)
    if dataset == "fmnist":
        rows = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), PER_CLASS, replace=False) for c in range(10)]
        )
        x, y = x[np.sort(rows)], y[np.sort(rows)]
    unknown_classes = rng.choice(10, UNKNOWN_CLASSES, replace=False)
    known = ~np.isin(y, unknown_classes)
    support = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), shots, replace=False)
            for c in np.setdiff1d(np.arange(10), unknown_classes)
        ]
    )
    rest = np.setdiff1d(np.arange(len(y)), support)
    k, u = known[rest], ~known[rest]
    graph = pool_graph(x)
    detector = OodDetector().fit(x[support], y[support], X_pool=x, graph=graph)
    pool_scores, out = detector.pool_scores(), {}
    scores = pool_scores[rest]
    for alpha in ALPHAS:
        flags = scores <= alpha  # OodDetector(alpha=alpha)'s flags: one fit serves every level
        out[f"unknown flagged at {alpha}"] = float(flags[u].mean())
        out[f"known flagged at {alpha}"] = float(flags[k].mean())
    for name, score in {**detector.pool_parts(), "flag score": pool_scores}.items():
        out[f"AUROC {name}"] = auroc(score[rest][k], score[rest][u])
    head = create_head("auto").fit(x[support], y[support], X_pool=x, graph=graph)
    pred = head.classes_[head.predict_pool_proba()[rest].argmax(axis=1)]
    kept = k & (scores > detector.alpha)  # not flagged at the default level (pool_flags)
    out["auto accuracy on kept known"] = float(np.mean(pred[kept] == y[rest][kept]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labeler.bench.ood", description=__doc__)
    p.add_argument(
        "--datasets", nargs="+", default=["fmnist", "digits"], choices=["fmnist", "digits"]
    )
    p.add_argument("--shots", nargs="+", type=int, default=[1, 5, 20])
    p.add_argument("--seeds", type=int, default=10)
    args = p.parse_args(argv)
    print(
        f"all classes but {UNKNOWN_CLASSES} labeled, the pool holds every class; "
        f"mean of {args.seeds} seeds"
    )
    for dataset in args.datasets:
        for shots in args.shots:
            results = [run_task(dataset, shots, seed) for seed in range(args.seeds)]
            print(f"{dataset}, {shots} labels a class:", flush=True)
            for key in results[0]:
                values = [r[key] for r in results]
                percent = "flagged" in key or "accuracy" in key
                mean = 100 * np.mean(values) if percent else np.mean(values)
                print(f"  {key:<32} {mean:6.1f}%" if percent else f"  {key:<32} {mean:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
