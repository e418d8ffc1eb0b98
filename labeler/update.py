"""Bring a project's images up to date: scan the folder, embed what is new, record the result.

Embedding is by content: an image whose bytes were embedded before (under the same model key) is
not embedded again, however it was renamed or moved. Labels follow content too (see
`Store.sync_items`), and a DICOM image's label survives edits to its header (de-identification,
a PACS re-export); those lost because a file now holds another image are listed in
`PROJECT/cleared-labels.csv`. Files that cannot be used are listed with the reason, in the store
and in `PROJECT/skipped.csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labeler import config
from labeler.export import LABEL_FILE_COLUMNS, dated, write_table
from labeler.store import Store, SyncReport

SKIPPED_NAME = "skipped.csv"
# The labels a rescan removed because their file now holds another image, as a label CSV: if
# the image is in fact the same (a header rewritten, say), `labeler label` puts them back.
CLEARED_NAME = "cleared-labels.csv"
# The labels the last `labeler class merge` or `delete` took away, as a label CSV that puts them
# back (the browser undoes with Ctrl+Z instead).
BEFORE_CLASS_EDIT_NAME = "labels-before-class-edit.csv"


@dataclass
class InitReport:
    images: int  # present, usable images
    embedded: int  # newly embedded this time
    sync: SyncReport
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    moved_from: str | None = None  # the images folder scanned before, when it was another
    # files not embedded themselves as another file of the same content was: one vector for both
    same_content: int = 0
    cleared_file: Path | None = None  # where the labels cleared by new content are listed
    # (path, frames) of the new images with more than one frame, shown and labeled by the first
    multi_frame: list[tuple[str, int]] = field(default_factory=list)


def update_images(
    folder: Path,
    store: Store,
    images: Path,
    *,
    backbone: str | None,
    checkpoint: Path | str | None,
    own_weights: bool = False,
    device: str,
    batch_size: int,
    image_size: int | None,
    progress: bool,
) -> InitReport:
    """Scan `images`, embed the new contents into folder's vector cache, sync the store's items.

    None for backbone, checkpoint or image_size: the project's current setting (a new project:
    the default backbone, and an input size chosen from the images); own_weights: checkpoint
    None means the backbone's own weights, not the project's current checkpoint.
    """
    from labeler.embed import VectorCache  # the rest of labeler.embed imports torch: only
    from labeler.ingest import scan  # where a network is needed (not in a no-op rescan)

    # The project folder may lie inside its images; content the project has is only hashed.
    known = {it.hash: (it.width, it.height, it.pixels) for it in store.items()}
    scanned = scan(images, progress=progress, exclude=folder, known=known)
    previous_root = store.get_meta("images_root")
    moved_from = None if previous_root in (None, str(images)) else previous_root
    backbone = backbone or store.get_meta("backbone", config.DEFAULT_BACKBONE)
    if image_size is None and backbone == store.get_meta("backbone"):
        image_size = store.get_meta("image_size")
    # Chosen from no images (an empty folder), the size is not kept: the first images choose.
    provisional = image_size is None and not scanned.images
    if image_size is None:
        from labeler.embed import choose_image_size

        image_size = choose_image_size([(f.width, f.height) for f in scanned.images])
    if checkpoint is None and not own_weights and backbone == store.get_meta("backbone"):
        checkpoint = store.get_meta("checkpoint")
    # The network is built only when an image needs it (a second or two, and torch): a rescan
    # with the project's own settings finds its cached vectors by the key it recorded.
    key = None
    if not own_weights:  # (the recorded key may be of a checkpoint's, not of the own weights)
        key = _recorded_key(store, backbone=backbone, image_size=image_size, checkpoint=checkpoint)
    cache = None if key is None else VectorCache(folder / config.VECTORS_DIR, key)
    embedder = None
    if cache is None or any(f.hash not in cache for f in scanned.images):
        from labeler.embed import create_embedder

        embedder = create_embedder(
            backbone, device=device, image_size=image_size, checkpoint=checkpoint
        )
        key, image_size = embedder.key, embedder.image_size
        cache = VectorCache(folder / config.VECTORS_DIR, key)

    todo = {}  # hash -> first file with that content, not yet embedded
    for f in scanned.images:
        if f.hash not in cache and f.hash not in todo:
            todo[f.hash] = f
    todo_files = list(todo.values())
    embedded, failed_hashes = 0, {}
    if todo_files:
        from labeler.embed import embed_files

        with _checkpoints(cache, [f.hash for f in todo_files]) as keep:
            result = embed_files(
                embedder,
                [f.abs_path for f in todo_files],
                batch_size=batch_size,
                progress=progress,
                on_vectors=keep,
                hashes=[f.hash for f in todo_files],
            )
        embedded = int(result.ok.sum())
        failed_hashes = {todo_files[i].hash: reason for i, reason in result.errors.items()}

    usable = [f for f in scanned.images if f.hash not in failed_hashes]
    skipped = [(s.path, s.reason) for s in scanned.skipped]
    skipped += [(f.path, failed_hashes[f.hash]) for f in scanned.images if f.hash in failed_hashes]
    skipped.sort()

    store.set_meta(
        images_root=str(images),
        backbone=backbone,
        checkpoint=None if checkpoint is None else str(Path(checkpoint).resolve()),
        image_size=None if provisional else image_size,
        model_key=key,
        batch_size=batch_size,
    )
    sync = store.sync_items(
        [(f.path, f.hash, f.width, f.height) for f in usable],
        pixels={f.path: f.pixels for f in usable if f.pixels is not None},
        other_folder=moved_from is not None,
    )
    store.replace_skipped(skipped)
    write_table(folder / SKIPPED_NAME, ("path", "reason"), skipped)
    cleared_file = None
    if sync.cleared:
        cleared_file = dated(folder, CLEARED_NAME)
        write_table(cleared_file, LABEL_FILE_COLUMNS, sync.cleared)
    return InitReport(
        images=len(usable),
        embedded=embedded,
        sync=sync,
        skipped=skipped,
        moved_from=moved_from,
        cleared_file=cleared_file,
        same_content=sum(f.hash in todo and todo[f.hash] is not f for f in usable),
        multi_frame=[(f.path, f.frames) for f in usable if f.frames > 1],
    )


@contextmanager
def _checkpoints(cache, hashes: list[str]) -> Iterator[Callable[[np.ndarray, np.ndarray], None]]:
    """A sink for `embed_files`' `on_vectors` that writes the vectors of `hashes` (by index) to
    `cache` every EMBED_CHECKPOINT_IMAGES images and at the end, also when the run is
    interrupted or fails: a re-run embeds only what is not in the cache yet."""
    rows: list[np.ndarray] = []
    vectors: list[np.ndarray] = []

    def flush() -> None:
        if rows:
            index = np.concatenate(rows)
            cache.put([hashes[i] for i in index], np.concatenate(vectors))
            rows.clear()
            vectors.clear()

    def keep(batch_rows: np.ndarray, batch_vectors: np.ndarray) -> None:
        rows.append(batch_rows)
        vectors.append(batch_vectors)  # rows of the result, not written again: kept as given
        if sum(map(len, rows)) >= config.EMBED_CHECKPOINT_IMAGES:
            flush()

    try:
        yield keep
    finally:
        flush()


def _recorded_key(
    store: Store, *, backbone: str, image_size: int, checkpoint: Path | str | None
) -> str | None:
    """The model key the project recorded, when `backbone` and `image_size` are the ones it was
    embedded with and no checkpoint file is named (its bytes may have changed since, and they
    are part of the key); else None: the embedder must be built to know its key."""
    same = (backbone, image_size) == (store.get_meta("backbone"), store.get_meta("image_size"))
    return store.get_meta("model_key") if same and checkpoint is None else None
