"""Vector indexes over L2-normalised vectors: FAISS for use, a numpy brute force as test oracle.

Both implement the same contract (`VectorIndex`) and are created by name through `create_index`.
Similarity is the inner product of L2-normalised vectors, i.e. cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from labeler.errors import LabelerError
from labeler.index.brute import BruteForceIndex
from labeler.index.faiss_index import FaissIndex, l2_normalize

__all__ = [
    "BruteForceIndex",
    "FaissIndex",
    "VectorIndex",
    "available_indexes",
    "create_index",
    "l2_normalize",
]


class VectorIndex(Protocol):
    """Cosine-similarity index keyed by int64 ids."""

    dim: int

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """ids (N,) int64, unique and not yet present; vectors (N, D) float32, any norm."""

    def remove(self, ids: np.ndarray) -> int:
        """Remove these ids (unknown ones are ignored); return how many were removed."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """queries (Q, D) → similarities (Q, k) float32 descending, ids (Q, k) int64; -1 pads."""

    def ids(self) -> np.ndarray:
        """(N,) int64, the ids present."""

    def save(self, path: Path) -> None: ...


_REGISTRY: dict[str, Callable[..., VectorIndex]] = {
    "faiss": FaissIndex,
    "brute": BruteForceIndex,
}


def available_indexes() -> list[str]:
    return sorted(_REGISTRY)


def create_index(name: str = "faiss", *, dim: int) -> VectorIndex:
    """Create an empty index of dimension `dim` by registry name."""
    if name not in _REGISTRY:
        raise LabelerError(f"unknown index {name!r}; available: {', '.join(available_indexes())}")
    if dim <= 0:
        raise LabelerError(f"index dimension must be positive, got {dim}")
    return _REGISTRY[name](dim=dim)
