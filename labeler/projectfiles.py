"""The files of a project folder: what `init` writes there, the database it creates, and the
clean-up that leaves no half-made project behind when a first init fails."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labeler import config
from labeler.errors import LabelerError, os_reason
from labeler.store import Store
from labeler.update import SKIPPED_NAME

INDEX_NAME = "index.faiss"

# What `init` writes into a project folder; a failed first init removes those it created.
# (It clears no labels: a new project has none, so it writes no cleared-labels-….csv.)
_PROJECT_FILES = (config.DB_NAME, config.VECTORS_DIR, INDEX_NAME, SKIPPED_NAME)
# Those a first init would overwrite; vectors left by an interrupted init are reused instead.
_OVERWRITTEN = (INDEX_NAME, SKIPPED_NAME)


def check_new_project_folder(path: Path, images: Path) -> None:
    """Refuse to make a project whose folder would hide images from its own scan: the folder
    of the images itself (the project's files would sit among them), or a folder inside the
    images folder that already holds images (a scan leaves the project's folder out); or one
    holding files of the names that init writes (skipped.csv, index.faiss), which it would
    overwrite.
    `images` resolved; `path` need not exist."""
    folder = path.expanduser().resolve()
    taken = sorted(name for name in _OVERWRITTEN if (folder / name).exists())
    if taken:
        raise LabelerError(
            f"the folder {path} is not a labeler project (it has no {config.DB_NAME}) but holds "
            f"{', '.join(taken)}, which making a project there would overwrite: move "
            f"{'it' if len(taken) == 1 else 'them'} away, or choose a new or empty folder for "
            "the project"
        )
    if folder == images:
        raise LabelerError(
            f"the project folder is the images folder {images}; a project keeps its database "
            f"and vectors in a folder of its own: choose another, e.g. {images}-labels"
        )
    if images not in folder.parents or not folder.is_dir():
        return
    held = next((f for f in folder.rglob("*") if f.suffix.lower() in config.IMAGE_SUFFIXES), None)
    if held is not None:
        raise LabelerError(
            f"the project folder {path} is inside the images folder and holds images "
            f"({held.relative_to(folder)} among them); a scan leaves the project's folder "
            "out, so they would never be labeled: choose a new or empty folder for the project"
        )


def create_store(path: Path) -> Store:
    """The database of project folder `path`, with the folder made if need be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabelerError(
            f"cannot create the project folder {path} ({os_reason(e)}); "
            "choose a folder you can write to"
        ) from e
    return Store(path / config.DB_NAME, create=True)


@contextmanager
def undone_on_failure(path: Path) -> Iterator[None]:
    """Around a first `init` of `path` (no database there yet): if it fails or is interrupted,
    remove what it created, so no half-made project is left behind: the folders it made, or, in
    a folder that existed, the project files that were not there before. The vectors written
    before a Ctrl-C are kept (see `_kept_vectors`): they are no project, and a second init
    reuses them. A folder that already held a database is never touched."""
    if (path / config.DB_NAME).exists():
        yield
        return
    made = None  # the outermost folder that init will make
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            break
        made = folder
    before = set() if made else {p.name for p in path.iterdir()}
    try:
        yield
    except BaseException as e:
        keep = {config.VECTORS_DIR} if _kept_vectors(path, e) else set()
        if made and not keep:
            shutil.rmtree(made, ignore_errors=True)
        else:
            for p in path.iterdir():
                if p.name not in before | keep and _is_project_file(p.name):
                    _remove(p)
        raise


def _kept_vectors(path: Path, e: BaseException) -> bool:
    """Whether a first init of `path` stopped by `e` keeps its vectors: when the user interrupted
    it (Ctrl-C) after some were written, so that running init again goes on from there."""
    vectors = path / config.VECTORS_DIR
    return isinstance(e, KeyboardInterrupt) and any(vectors.rglob("shard-*.npz"))


def _is_project_file(name: str) -> bool:
    return name in _PROJECT_FILES or name.startswith(f"{config.DB_NAME}-")  # -wal, -shm


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)
