"""Brute-force cosine index in numpy: the oracle the FAISS index is tested against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labeler.errors import LabelerError
from labeler.index.faiss_index import check_queries, check_vectors

_PAD = -np.finfo(np.float32).max  # what FAISS returns for missing neighbours


class BruteForceIndex:
    def __init__(self, *, dim: int) -> None:
        self.dim = dim
        self._ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = check_vectors(ids, vectors, self.dim)
        if np.isin(ids, self._ids).any():
            raise LabelerError("some ids are already in the index; remove them first")
        self._ids = np.concatenate([self._ids, ids])
        self._vectors = np.concatenate([self._vectors, vectors])

    def remove(self, ids: np.ndarray) -> int:
        keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        removed = int((~keep).sum())
        self._ids, self._vectors = self._ids[keep], self._vectors[keep]
        return removed

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(queries, k, self.dim)
        sims = queries @ self._vectors.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        out_sims = np.full((len(queries), k), _PAD, dtype=np.float32)
        out_ids = np.full((len(queries), k), -1, dtype=np.int64)
        n = order.shape[1]
        out_sims[:, :n] = np.take_along_axis(sims, order, axis=1)
        out_ids[:, :n] = self._ids[order]
        return out_sims, out_ids

    def ids(self) -> np.ndarray:
        return self._ids.copy()

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, ids=self._ids, vectors=self._vectors)
