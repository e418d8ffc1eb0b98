"""On-disk cache of embedding vectors keyed by image content hash, one folder per embedder.

Layout: ``<root>/<safe key>/shard-000001.npz, shard-000002.npz, ...``; each shard holds
``hashes`` (N,) str and ``vectors`` (N, D) float32. Shards are only ever added, each written to
a temporary file, flushed and then renamed into place (``os.replace``), so a reader never sees
a half-written shard and a crash leaves at worst an ignored ``.tmp`` file. All shards are read
on first use into memory. One writer at a time (the project holds the lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labeler.errors import LabelerError

_SHARD_RE = re.compile(r"^shard-(\d{6,})\.npz$")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._@+-]")


def safe_key(key: str) -> str:
    """A folder name for an embedder key: unsafe characters become ``_`` and, when anything was
    changed, a short hash of the key keeps distinct keys apart
    (``"timm:resnet50@224"`` -> ``"timm_resnet50@224-1f2e3d4c"``)."""
    safe = _UNSAFE_RE.sub("_", key)
    if safe.startswith("."):
        safe = "_" + safe[1:]
    if safe != key or not safe:
        safe = f"{safe}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"
    return safe


class VectorCache:
    """Vectors of one embedder, keyed by content hash, persisted under ``root/<safe key>/``.

    Args:
        root: the project's vectors folder (``<project>/vectors``).
        key: the embedder key, e.g. ``"efficientnet_lite0@112"``.
        dim: expected vector dimension, or None to learn it from the first shard or put.

    Attributes:
        folder: where the shards live.
        dim: D, or None while the cache is empty and no ``dim`` was given.
    """

    def __init__(self, root: Path, key: str, *, dim: int | None = None) -> None:
        self.root = Path(root)
        self.key = key
        self.folder = self.root / safe_key(key)
        self._dim = dim
        self._index: dict[str, int] | None = None  # hash -> row of the concatenated blocks
        self._blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"VectorCache(folder={str(self.folder)!r}, key={self.key!r})"

    @property
    def dim(self) -> int | None:
        self._load()
        return self._dim

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, h: object) -> bool:
        return h in self._load()

    def get(self, hashes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Look up vectors.

        Returns:
            vectors: (N, D) float32, zeros where missing ((N, 0) while ``dim`` is unknown).
            found: (N,) bool.
        """
        index = self._load()
        rows = np.fromiter((index.get(h, -1) for h in hashes), dtype=np.int64, count=len(hashes))
        found = rows >= 0
        out = np.zeros((len(rows), self._dim or 0), dtype=np.float32)
        if found.any():
            out[found] = self._all()[rows[found]]
        return out, found

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors (N, D) for ``hashes``; hashes already cached (or repeated) are skipped,
        so putting the same data twice writes nothing the second time.

        Raises:
            LabelerError: shapes disagree, or the shard cannot be written.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(hashes):
            raise LabelerError(
                f"vector cache needs (N, D) vectors for N hashes, got shape "
                f"{tuple(vectors.shape)} for {len(hashes)} hashes"
            )
        index = self._load()
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise LabelerError(
                f"vector cache {str(self.folder)!r} holds {self._dim}-d vectors, got "
                f"{vectors.shape[1]}-d; each embedder key needs its own cache"
            )
        keep: list[int] = []
        seen: set[str] = set()
        for i, h in enumerate(hashes):
            if not isinstance(h, str) or not h:
                raise LabelerError(f"content hashes must be non-empty strings, got {h!r}")
            if h not in index and h not in seen:
                seen.add(h)
                keep.append(i)
        if not keep:
            return
        new_hashes = np.array([hashes[i] for i in keep], dtype=str)
        new_vectors = np.ascontiguousarray(vectors[keep])
        self._write_shard(new_hashes, new_vectors)
        start = sum(len(b) for b in self._blocks)
        for offset, h in enumerate(new_hashes.tolist()):
            index[h] = start + offset
        self._blocks.append(new_vectors)
        self._matrix = None
        self._dim = int(vectors.shape[1])

    def _shards(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = []
        for entry in self.folder.iterdir():
            match = _SHARD_RE.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
        return sorted(found)

    def _write_shard(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            shards = self._shards()
            number = shards[-1][0] + 1 if shards else 1
            final = self.folder / f"shard-{number:06d}.npz"
            tmp = self.folder / f".shard-{number:06d}.{os.getpid()}.tmp"
            try:
                with open(tmp, "wb") as handle:
                    np.savez(handle, hashes=hashes, vectors=vectors)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, final)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        except OSError as exc:
            raise LabelerError(
                f"cannot write to the vector cache {str(self.folder)!r} ({exc}); check that "
                "the project folder is writable and the disk not full"
            ) from exc
        _fsync_dir(self.folder)

    def _load(self) -> dict[str, int]:
        if self._index is not None:
            return self._index
        index: dict[str, int] = {}
        blocks: list[np.ndarray] = []
        rows = 0
        for _, path in self._shards():
            hashes, vectors = self._read_shard(path)
            for offset, h in enumerate(hashes.tolist()):
                index.setdefault(h, rows + offset)
            blocks.append(vectors)
            rows += len(vectors)
        self._index, self._blocks, self._matrix = index, blocks, None
        return index

    def _read_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        try:
            with np.load(path, allow_pickle=False) as data:
                hashes, vectors = data["hashes"], data["vectors"]
            if vectors.ndim != 2 or hashes.shape != (len(vectors),) or hashes.dtype.kind != "U":
                raise ValueError(
                    f"hashes {hashes.shape} {hashes.dtype} and vectors {vectors.shape} disagree"
                )
            if self._dim is not None and vectors.shape[1] != self._dim:
                raise ValueError(f"{vectors.shape[1]}-d vectors where {self._dim}-d were expected")
        except Exception as exc:
            raise LabelerError(
                f"vector cache file {str(path)!r} is corrupt ({type(exc).__name__}: {exc}); "
                f"delete the folder {str(self.folder)!r} to re-embed those images"
            ) from exc
        self._dim = int(vectors.shape[1])
        return hashes, vectors.astype(np.float32, copy=False)

    def _all(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = (
                np.concatenate(self._blocks)
                if self._blocks
                else np.zeros((0, self._dim or 0), np.float32)
            )
            self._blocks = [self._matrix]
        return self._matrix


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
