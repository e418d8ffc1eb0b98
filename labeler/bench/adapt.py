"""Batch-norm adaptation (`labeler adapt`): few-shot accuracy before and after, on real images.

    python -m labeler.bench.adapt [--seeds 10] [--shots 1 5] [--layers 4 0]

For each real set (a balanced pool of 2000 Fashion-MNIST test images, and scikit-learn's 1797
8x8 digits, upscaled as `init` would), the pool is embedded by the default offline backbone as it
ships, then again after `adapt_batchnorm` re-estimated its last `--layers` batch-norm layers on
the pool (0: all of them). Each seed labels K images a class; `auto` and ProtoNet predict the rest.
Differences are paired over seeds (same labels), mean ± 95% t-interval.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image
from scipy import stats

from labeler.config import DEFAULT_BACKBONE, DEFAULT_BATCH_SIZE
from labeler.finetune.adapt import ADAPT_BN_LAYERS, adapt_batchnorm
from labeler.heads import create_head

FMNIST_PER_CLASS = 200
IMAGE_SIZE = 112  # what `init` chooses for these small images
HEADS = ("auto", "protonet")


def real_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{name: (images (N, h, w) uint8 greyscale, labels (N,) int64)}."""
    from sklearn.datasets import load_digits

    from labeler.bench.fmnist import balanced_sample, load_fashion_mnist

    images, labels = load_fashion_mnist("test")
    rows = balanced_sample(labels, FMNIST_PER_CLASS, seed=0)
    digits = load_digits()
    return {
        "fashion-mnist": (images[rows], labels[rows].astype(np.int64)),
        "digits": ((digits.images * (255.0 / 16.0)).astype(np.uint8), digits.target),
    }


def embed(images: np.ndarray, *, layers: int | None) -> np.ndarray:
    """(N, D) float32 vectors of the images; `layers` batch-norm layers adapted to them first
    (None: as shipped; 0: all)."""
    from labeler.embed import create_embedder

    embedder = create_embedder(DEFAULT_BACKBONE, image_size=IMAGE_SIZE)
    tensors = torch.stack([embedder.preprocess(Image.fromarray(a).convert("RGB")) for a in images])
    batches = list(torch.split(tensors, DEFAULT_BATCH_SIZE))
    if layers is not None:
        adapt_batchnorm(embedder.model, batches, layers=layers or None)
    return np.concatenate([embedder.forward(b) for b in batches]).astype(np.float32)


def accuracies(x: np.ndarray, y: np.ndarray, *, head: str, shots: int, seeds: int) -> np.ndarray:
    """(seeds,) accuracy on the unlabeled rest, `shots` labels a class drawn per seed."""
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        support = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in np.unique(y)]
        )
        rest = np.setdiff1d(np.arange(len(y)), support)
        fitted = create_head(head).fit(x[support], y[support].astype(str), X_pool=x)
        pred = fitted.classes_[fitted.predict_pool_proba()[rest].argmax(axis=1)]
        out.append(np.mean(pred == y[rest].astype(str)))
    return np.asarray(out)


def _interval(d: np.ndarray) -> float:
    return float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    p.add_argument(
        "--layers",
        type=int,
        nargs="+",
        default=[ADAPT_BN_LAYERS, 0],
        help="batch-norm layers adapted (0: all)",
    )
    args = p.parse_args()
    print(
        f"{'set':14} {'layers':>6} {'head':9} {'K':>2} {'as shipped':>10} {'adapted':>8} "
        f"{'difference':>16}"
    )
    for name, (images, y) in real_sets().items():
        plain = embed(images, layers=None)
        for layers in args.layers:
            adapted = embed(images, layers=layers)
            for head in HEADS:
                for k in args.shots:
                    a = accuracies(plain, y, head=head, shots=k, seeds=args.seeds)
                    b = accuracies(adapted, y, head=head, shots=k, seeds=args.seeds)
                    d = 100 * (b - a)
                    print(
                        f"{name:14} {layers or 'all':>6} {head:9} {k:>2} {100 * a.mean():9.1f}% "
                        f"{100 * b.mean():7.1f}% {d.mean():+8.1f} ± {_interval(d):4.1f} pts",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
