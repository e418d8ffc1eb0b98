"""Time `predict` at scale: 100 000 images x 1 280 dimensions, 10 classes (a benchmark, not a test).

    python -m labeler.bench.predict_speed [--images 100000] [--labels 5]

Times, in this process, what `Project.predict` does after loading the vectors: fit the head on
the labels with the pool, its calibrated probabilities of every image, and the auto-label step
(OOD flags, threshold). The pool's kNN graph is built once (the slow part of transduction, cached
by the project in knn_graph.npz) and reused, as in a project. Vectors are synthetic, non-negative
like a ReLU network's, with planted classes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from labeler.autolabel import auto_label
from labeler.bench.data import CACHE_DIR
from labeler.heads import KnnGraph, create_head, pool_graph
from labeler.heads.features import forget_pool_features

METHODS = ("protonet", "logreg", "labelprop", "auto")


def planted_pool(n: int, dim: int, classes: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) float32 non-negative vectors of `classes` planted classes, and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.gamma(1.0, 1.0, size=(classes, dim)).astype(np.float32)
    y = rng.integers(0, classes, n)
    x = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 10_000):
        part = y[start : start + 10_000]
        noise = rng.gamma(1.0, 1.0, size=(len(part), dim)).astype(np.float32)
        x[start : start + 10_000] = 0.1 * centres[part] + noise
    return x, y


def cached_graph(x: np.ndarray, key: str) -> tuple[KnnGraph, float]:
    """The pool graph from the bench cache, or built (and timed); (graph, seconds to build)."""
    file = CACHE_DIR / f"speed-graph-{key}.npz"
    if file.is_file():
        with np.load(file) as d:
            return KnnGraph(d["neighbours"], d["similarities"]), float(d["seconds"])
    start = time.perf_counter()
    graph = pool_graph(x)
    seconds = time.perf_counter() - start
    file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(file, neighbours=graph.neighbours, similarities=graph.similarities, seconds=seconds)
    return graph, seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labeler.bench.predict_speed", description=__doc__)
    p.add_argument("--images", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=1280)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--labels", type=int, default=5, help="labeled images per class")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    args = p.parse_args(argv)
    x, y = planted_pool(args.images, args.dim, args.classes)
    rng = np.random.default_rng(1)
    rows = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), args.labels, replace=False)
            for c in range(args.classes)
        ]
    )
    labels = [f"class {c}" for c in y[rows]]
    graph, build = cached_graph(x, f"{args.images}x{args.dim}x{args.classes}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{args.images} images x {args.dim} dims, {args.classes} classes, {len(rows)} labels, "
        f"{cores} cores; kNN graph built once in {build:.1f} s (cached by the project)"
    )
    truth = np.array(labels_of(y), dtype=object)
    for method in args.methods:
        times = []
        for _ in range(2):  # the first run pays for imports and first allocations
            forget_pool_features()  # each run transforms the pool, as one `predict` does
            head = create_head(method)
            start = time.perf_counter()
            used = graph if head.transductive else None  # as `predict` does
            head.fit(x[rows], labels, X_pool=x, graph=used)
            proba = head.predict_pool_proba()
            fitted = time.perf_counter() - start
            auto_label(head, proba, x, rows, labels, graph=used)
            times.append((fitted, time.perf_counter() - start))
        accuracy = np.mean(head.classes_[proba.argmax(axis=1)] == truth)
        kind = "transductive" if head.transductive else "inductive"
        print(
            f"{method:10s} ({kind:12s}) fit + predict {times[1][0]:5.2f} s "
            f"(first in the process {times[0][0]:5.2f} s), with OOD flags and threshold "
            f"{times[1][1]:5.2f} s; accuracy {accuracy:.3f}"
        )
    return 0


def labels_of(y: np.ndarray) -> list[str]:
    return [f"class {c}" for c in y]


if __name__ == "__main__":
    sys.exit(main())
