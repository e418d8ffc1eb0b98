"""The vectors of a project's present images, read from its vector cache (PROJECT/vectors/),
and the FAISS index over them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeler import config
from labeler.errors import LabelerError
from labeler.heads import KnnGraph
from labeler.index import FaissIndex, l2_normalize
from labeler.store import Store
from labeler.wording import shell


@dataclass
class Vectors:
    """Vectors of the present, embedded items, in path order."""

    item_ids: np.ndarray  # (N,) int64
    paths: list[str]  # (N,)
    raw: np.ndarray  # (N, D) float32, as the embedder gave them
    unit: np.ndarray  # (N, D) float32, L2-normalised
    hashes: list[str]  # (N,) content hash of each: files of one content share a vector
    graph: KnnGraph | None = None  # their kNN graph, once a transductive head needed it


def load_vectors(folder: Path, store: Store, model_key: str) -> Vectors:
    """The `Vectors` of the project in `folder` (its database `store`) made by the embedder
    `model_key`, from the vector cache; an error saying how to embed them again when some are
    missing."""
    from labeler.embed import VectorCache

    items = store.items()
    cache = VectorCache(folder / config.VECTORS_DIR, model_key)
    raw, found = cache.get([it.hash for it in items])
    if not found.all():
        raise _vectors_missing(folder, store, int((~found).sum()), len(items))
    return Vectors(
        item_ids=np.array([it.id for it in items], dtype=np.int64),
        paths=[it.path for it in items],
        raw=raw,
        unit=l2_normalize(raw),
        hashes=[it.hash for it in items],
    )


def _vectors_missing(folder: Path, store: Store, missing: int, total: int) -> LabelerError:
    images = store.get_meta("images_root", "DIR")
    return LabelerError(
        f"the vectors of {missing} of the project's {total} images are missing from "
        f"{folder / config.VECTORS_DIR} (deleted, or the project was copied without that "
        f"folder); embed them again with `labeler init {shell(folder)} --images {shell(images)}` "
        "(labels are kept)"
    )


def save_index(file: Path, v: Vectors) -> None:
    """Write the FAISS index of `v`'s unit vectors to `file`, or remove `file` when there are
    none."""
    if len(v.item_ids) == 0:
        file.unlink(missing_ok=True)
        return
    index = FaissIndex(dim=v.raw.shape[1])
    index.add(v.item_ids, v.unit)
    index.save(file)
