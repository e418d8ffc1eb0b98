"""Benchmark data: real Fashion-MNIST embeddings (cached on disk), and seeded synthetic pools.

The embeddings are those the app itself would compute (the default offline backbone at the size
`init` would choose), cached under ~/.cache/labeler/bench so that benchmarks re-run in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from labeler.bench.fmnist import load_fashion_mnist
from labeler.config import DEFAULT_BACKBONE, DEFAULT_BATCH_SIZE

CACHE_DIR = Path(os.environ.get("LABELER_BENCH_CACHE", Path.home() / ".cache/labeler/bench"))


def fmnist_embeddings(
    split: str = "test", *, backbone: str = DEFAULT_BACKBONE, image_size: int = 112
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, D) float32 and labels (N,) int64 of a Fashion-MNIST split, cached."""
    file = CACHE_DIR / f"fmnist-{split}-{backbone}@{image_size}.npz"
    if not file.is_file():
        images, labels = load_fashion_mnist(split)
        _save(file, _embed(images, backbone=backbone, image_size=image_size), labels)
    return _load(file)


def digits_embeddings(
    *, backbone: str = DEFAULT_BACKBONE, image_size: int = 112
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (1797, D) float32 and labels (1797,) int64 of scikit-learn's bundled 8x8
    handwritten digits (real images, offline), upscaled as `init` would; cached."""
    from sklearn.datasets import load_digits

    file = CACHE_DIR / f"digits-{backbone}@{image_size}.npz"
    if not file.is_file():
        digits = load_digits()
        pixels = (digits.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 → 0..255
        x = _embed(pixels, backbone=backbone, image_size=image_size)
        _save(file, x, digits.target.astype(np.int64))
    return _load(file)


def _embed(pixels: np.ndarray, *, backbone: str, image_size: int) -> np.ndarray:
    """Embeddings (N, D) float32 of greyscale images (N, H, W) uint8, as `init` would embed them."""
    from labeler.embed import create_embedder

    embedder = create_embedder(backbone, image_size=image_size)
    out = []
    for start in tqdm(range(0, len(pixels), DEFAULT_BATCH_SIZE), desc="embedding", unit="batch"):
        batch = [
            embedder.preprocess(Image.fromarray(a).convert("RGB"))
            for a in pixels[start : start + DEFAULT_BATCH_SIZE]
        ]
        out.append(embedder.forward(torch.stack(batch)))
    return np.concatenate(out).astype(np.float32)


def _save(file: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Write the cache file whole or not at all (through a temporary file)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    np.savez(tmp, x=x, y=y)
    tmp.replace(file)


def _load(file: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(file)
    return data["x"], data["y"]


def synthetic_pool(
    *, n_classes: int = 10, per_class: int = 200, dim: int = 64, spread: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes around random centres: vectors (N, dim) float32, labels (N,) int64.

    Each class gets its own anisotropic covariance so that methods that only compare means are not
    automatically optimal.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * 3.0
    xs, ys = [], []
    for c in range(n_classes):
        scales = rng.uniform(0.3, 1.7, size=dim) * spread
        xs.append(centres[c] + rng.normal(size=(per_class, dim)) * scales)
        ys.append(np.full(per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def long_tailed_indices(
    labels: np.ndarray, *, imbalance: float = 10.0, max_per_class: int = 500, seed: int = 0
) -> np.ndarray:
    """Indices of a long-tailed subset: class sizes fall geometrically from max_per_class to
    max_per_class / imbalance, in a seeded random class order. Returns (M,) int64."""
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(labels))
    k = len(classes)
    sizes = [max(1, round(max_per_class * imbalance ** (-i / max(1, k - 1)))) for i in range(k)]
    picks = [
        rng.choice(np.flatnonzero(labels == c), min(s, int((labels == c).sum())), replace=False)
        for c, s in zip(classes, sizes, strict=True)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int64)
