"""Refresh after a label: what the browser UI does on the server each time the expert labels.

    python -m labeler.bench.ui_refresh [--sizes 10000 100000] [--dim 1280] [--classes 10]
                                       [--labels 50] [--clicks 7]

For each size, a temporary project database holds that many items with synthetic clustered
vectors (dimension 1280, as the default EfficientNet-Lite0 gives) and `--labels` expert labels.
Each click labels one more image and times, as the UI answers it:

* label: writing the label to SQLite (one committed transaction);
* shown: the answer to the click: labels brought up to date in memory (`LiveModel.deferred`),
  the next grid page (filter + sort by confidence over all images) and the per-class counts;
* refit: the follow-up: the UI's head refitted on the cached vectors, every image predicted, and
  the page and counts again. The head is the one the UI picks for the size (`predict`'s `auto`
  up to `config.LIVE_METHOD_MAX_IMAGES` images, with the pool's kNN graph built beforehand as a
  project caches it; the fast default head above);
* total: label + shown + refit, i.e. until the predictions on screen include the new label.

Prints the median of `--clicks` clicks per size (the first, which also warms up, is dropped).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from labeler import browse, config
from labeler.autolabel import Fitter, fit_on_pool
from labeler.heads import DEFAULT_HEAD, DEFAULT_METHOD, Head, create_head, pool_graph
from labeler.live import LiveModel
from labeler.store import Store

TARGET_S = 1.0  # the UI's budget for refresh-after-label at 10 000 images


def synthetic_pool(n: int, dim: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) float32 vectors around `classes` random centres, and each row's true class."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim), dtype=np.float32)
    truth = rng.integers(0, classes, size=n)
    vectors = centres[truth] + 1.5 * rng.standard_normal((n, dim), dtype=np.float32)
    return np.maximum(vectors, 0, out=vectors), truth  # non-negative, like pooled CNN features


def ui_method(n: int) -> str:
    """The head of the UI's live predictions on n images (as `Project.live_method`)."""
    return DEFAULT_METHOD if n <= config.LIVE_METHOD_MAX_IMAGES else DEFAULT_HEAD


def _fitter(method: str, vectors: np.ndarray) -> Fitter:
    """The live fit of `method` on (N, D) vectors, with the pool graph built once up front."""
    graph = pool_graph(vectors) if create_head(method).transductive else None

    def fit(rows: np.ndarray, names: list[str]) -> tuple[Head, np.ndarray]:
        return fit_on_pool(create_head(method), vectors, rows, names, graph=graph)

    return fit


def time_clicks(n: int, *, dim: int, classes: int, labels: int, clicks: int) -> dict[str, float]:
    """Median seconds per click of each step, for a project of n images."""
    vectors, truth = synthetic_pool(n, dim, classes)
    fit = _fitter(ui_method(n), vectors)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "labeler.sqlite", create=True)
        store.sync_items([(f"img{i:06d}.png", f"h{i}", 28, 28) for i in range(n)])
        ids = np.array([it.id for it in store.items()], dtype=np.int64)
        paths = [it.path for it in store.items()]
        live = LiveModel(store, ids, paths, vectors, fit=fit)
        rng = np.random.default_rng(1)
        order = rng.permutation(n)
        first = order[:labels]
        store.apply_labels([(int(ids[r]), f"c{truth[r]}") for r in first], annotator="bench")
        live.snapshot()
        query = browse.Query(show="unlabeled", sort="confidence, lowest first", page_size=48)

        def show() -> None:
            snap = live.snapshot()
            browse.page(snap, paths, query)
            browse.class_counts(snap)

        steps: dict[str, list[float]] = {"label": [], "shown": [], "refit": [], "total": []}
        for r in order[labels : labels + clicks + 1]:
            t0 = time.perf_counter()
            store.apply_labels([(int(ids[r]), f"c{truth[r]}")], annotator="bench")
            t1 = time.perf_counter()
            with live.deferred():
                show()
            t2 = time.perf_counter()
            show()
            t3 = time.perf_counter()
            for key, value in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                steps[key].append(value)
        store.close()
    return {key: statistics.median(values[1:]) for key, values in steps.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--clicks", type=int, default=7)
    args = parser.parse_args()
    print(
        f"refresh after one label: {args.dim}-d vectors, "
        f"{args.classes} classes, {args.labels}+ labels; median of {args.clicks} clicks"
    )
    print(f"{'images':>8} {'head':>9} {'label':>9} {'shown':>9} {'refit':>9} {'total':>9}")
    for n in args.sizes:
        t = time_clicks(
            n, dim=args.dim, classes=args.classes, labels=args.labels, clicks=args.clicks
        )
        cells = " ".join(f"{t[k] * 1000:7.0f}ms" for k in ("label", "shown", "refit", "total"))
        flag = "" if n > 10_000 or t["total"] <= TARGET_S else f"  (over {TARGET_S:.0f} s)"
        print(f"{n:>8,} {ui_method(n):>9} {cells}{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
