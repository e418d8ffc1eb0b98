"""FAISS flat inner-product index with int64 ids (exact search; fast enough for 10^5 vectors)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from labeler.atomic import atomic_file
from labeler.errors import LabelerError


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """(N, D) → (N, D) float32 with unit rows; zero rows stay zero."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def check_vectors(ids: np.ndarray, vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate (N,) ids and (N, D) vectors; return int64 ids and normalised float32 vectors."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] != dim or len(vectors) != len(ids):
        raise LabelerError(
            f"expected ids (N,) and vectors (N, {dim}); got ids {ids.shape} and vectors "
            f"{vectors.shape}"
        )
    if len(np.unique(ids)) != len(ids):
        raise LabelerError("ids passed to the index must be unique")
    return ids, l2_normalize(vectors)


def check_queries(queries: np.ndarray, k: int, dim: int) -> np.ndarray:
    """Validate (Q, dim) queries and k ≥ 1; return them float32 and L2-normalised."""
    queries = l2_normalize(np.atleast_2d(queries))
    if queries.shape[1] != dim:
        raise LabelerError(f"queries must have {dim} columns, got {queries.shape}")
    if k < 1:
        raise LabelerError(f"the number of neighbours k must be at least 1, got {k}")
    return queries


class FaissIndex:
    """`faiss.IndexIDMap2(IndexFlatIP)` over normalised vectors."""

    def __init__(self, *, dim: int, _index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = _index if _index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return self._index.ntotal

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = check_vectors(ids, vectors, self.dim)
        if len(ids) and np.isin(ids, self.ids()).any():
            raise LabelerError("some ids are already in the index; remove them first")
        self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids))) if len(ids) else 0

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(queries, k, self.dim)
        sims, ids = self._index.search(queries, k)
        return sims.astype(np.float32), ids.astype(np.int64)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees a half-written index. Faiss writes through a
        Python file object, so that a full disk or a read-only folder is an OSError, reported
        against `path` (`atomic_file`), not a RuntimeError naming the temporary file."""
        with atomic_file(path) as f:
            faiss.write_index(self._index, faiss.PyCallbackIOWriter(f.write))

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as e:
            raise LabelerError(
                f"cannot read the index file {path} ({e}); delete it and it will be rebuilt"
            ) from e
        return cls(dim=index.d, _index=index)
