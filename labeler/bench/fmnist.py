"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package (idx files, gzip), no network.

apt-get install dataset-fashion-mnist   # puts the files under /usr/share/datasets/fashion-mnist
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

from labeler.errors import LabelerError

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
)
_FILES = {"train": "train", "test": "t10k"}


def load_fashion_mnist(
    split: str = "test", *, root: Path = FMNIST_DIR
) -> tuple[np.ndarray, np.ndarray]:
    """Return images (N, 28, 28) uint8 and labels (N,) int64 of the 'train' or 'test' split."""
    if split not in _FILES:
        raise LabelerError(f"split must be 'train' or 'test', got {split!r}")
    images_file = root / f"{_FILES[split]}-images-idx3-ubyte.gz"
    labels_file = root / f"{_FILES[split]}-labels-idx1-ubyte.gz"
    if not images_file.is_file():
        raise LabelerError(
            f"Fashion-MNIST not found at {root}; install it with "
            "`apt-get install dataset-fashion-mnist`"
        )
    with gzip.open(images_file) as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels_file) as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return images, labels


def write_pngs(
    out: Path, images: np.ndarray, labels: np.ndarray, *, prefix: str = "img"
) -> list[tuple[str, str]]:
    """Write (N, H, W) uint8 images as `out/{prefix}_{i:05d}.png`; return (name, class) pairs."""
    out.mkdir(parents=True, exist_ok=True)
    truth = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        name = f"{prefix}_{i:05d}.png"
        Image.fromarray(image).save(out / name)
        truth.append((name, CLASS_NAMES[int(label)]))
    return truth


def balanced_sample(labels: np.ndarray, per_class: int, *, seed: int = 0) -> np.ndarray:
    """Indices (C * per_class,) int64 with `per_class` of each class, in a seeded random order."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)
    ]
    return rng.permutation(np.concatenate(picks))
