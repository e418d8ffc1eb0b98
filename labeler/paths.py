"""Finding a project's images by the paths a user gives them.

A path is relative to the images root or absolute inside it, found as written, else in Unicode
NFC; a label CSV's path cell is also tried in its other spellings (`labelcsv.path_spellings`).
A path that names no image gets an error saying why, where the project knows (skipped, gone).
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from labeler.errors import LabelerError
from labeler.ingest.scan import sha256_file
from labeler.labelcsv import is_windows_path, path_spellings
from labeler.wording import plural, quoted, shell

if TYPE_CHECKING:
    from labeler.store import Store


def image_rows(
    given: Sequence[str],
    paths: Sequence[str],
    *,
    root: Path,
    store: Store,
    csv_cells: bool = False,
) -> list[int]:
    """Indexes in `paths` (the project's images, relative to `root`) of the image paths `given`
    (relative, or absolute inside `root`), each found as given, else in Unicode NFC (see
    `_path_finder`). `store` says why a path is unknown, for the error.

    csv_cells: the paths are path cells of a label CSV, each also tried in its other
    spellings (`path_spellings`: without surrounding spaces, with / for \\); a cell whose
    spellings name two different images is refused rather than guessed.
    """
    find = _path_finder(paths)
    rows, unknown = [], []
    for p in given:
        named = (find(_relative(s, root)) for s in _spellings(p, csv_cells=csv_cells))
        found = list(dict.fromkeys(row for row in named if row is not None))
        if len(found) > 1:
            raise LabelerError(
                f"the path {quoted(p)} names more than one image, "
                f"{' and '.join(quoted(paths[r]) for r in found)} (a path is read as written, "
                "and also without the spaces around it, with / for \\, and without an "
                "apostrophe before - + = @ or ', which our exports put there for spreadsheets); "
                "rename one of these files (then run `labeler init` again) or label it in the "
                "browser"
            )
        if found:
            rows.append(found[0])
        else:
            unknown.append(p)
    if unknown:
        raise _unknown_paths(unknown, paths, root=root, store=store, csv_cells=csv_cells)
    return rows


class UnknownPaths(LabelerError):
    """Paths that name no image of the project; `cells`: those paths as given (a label CSV's
    refusal names the lines that hold them)."""

    def __init__(self, message: str, cells: Sequence[str]) -> None:
        super().__init__(message)
        self.cells = tuple(cells)


class ChangedImages(UnknownPaths):
    """Paths whose file now holds other bytes than the image the project knows by that name
    (renamed, renumbered or replaced since the last scan): a label given by such a path would
    land on the image the user did not see."""


def check_unchanged(
    rows: Sequence[int],
    paths: Sequence[str],
    hashes: Sequence[str],
    *,
    root: Path,
    project: Path,
    then: str,
    need_files: bool = False,
) -> None:
    """Raise `ChangedImages` if the file of any of `rows` (indexes in `paths` and `hashes`,
    the project's images and their sha256 at the last scan) holds other bytes now: renamed,
    renumbered or replaced, its label would go to the image the name held at the scan, not
    the one the expert looked at. A file missing now is left out (its label is kept for the
    image last seen there), or refused where the work reads it (`need_files`: fine-tuning).
    The error says to rescan `project`, then `then` ("fine-tune again")."""
    changed, gone = [], []
    for r in dict.fromkeys(rows):
        try:
            if sha256_file(root / paths[r]) != hashes[r]:
                changed.append(paths[r])
        except FileNotFoundError:
            gone.append(paths[r])
        except OSError as e:
            raise LabelerError(
                f"cannot read {quoted(paths[r])} to check it is the image the project knows "
                f"({e.strerror or e}); make it readable and try again"
            ) from e
    rescan = f"run `labeler init {shell(project)}` to rescan the folder"
    if gone and need_files:
        raise LabelerError(
            f"{plural(len(gone), 'labeled image')} cannot be read (gone since the folder was "
            f"last scanned), e.g. {quoted(gone[0])}{_also(gone)}; {rescan} (labels of gone "
            f"images are kept), then {then}"
        )
    if changed:
        raise ChangedImages(
            f"{plural(len(changed), 'image')} changed on disk since the folder was last "
            f"scanned, e.g. {quoted(changed[0])}{_also(changed)} (the file holds other bytes "
            "than the image the project knows by that name: renamed, renumbered or replaced); "
            f"{rescan} (the labels of changed files are cleared, and listed), then {then}",
            changed,
        )


def _also(paths: Sequence[str]) -> str:
    """The rest of `paths` after the first is named, as `; also 'b', 'c', 'd' …` (three more
    at most), or nothing."""
    more = f"; also {', '.join(map(quoted, paths[1:4]))}" if len(paths) > 1 else ""
    return more + (" …" if len(paths) > 4 else "")


def _unknown_paths(
    unknown: Sequence[str], paths: Sequence[str], *, root: Path, store: Store, csv_cells: bool
) -> UnknownPaths:
    """The error for `unknown` paths (one at least), naming why the first is unknown where
    the project knows (skipped, gone), the image of `paths` it may have meant, and any that is
    a path on a Windows machine."""
    skipped = dict(store.skipped())
    first = unknown[0]
    spelt = [_relative(s, root) for s in _spellings(first, csv_cells=csv_cells)]
    reason = next((skipped[rel] for rel in spelt if rel in skipped), None)
    windows = next((p for p in unknown if is_windows_path(p)), None)
    on_windows = "a path on a Windows machine, which names no file here"
    why = elsewhere = ""
    if reason:
        why = f" (it was skipped: {reason})"
    elif set(spelt) & set(store.gone_paths()):
        why = (
            " (it is gone from the images folder; its labels come back with it: bring "
            "it back and run `labeler init` again)"
        )
    elif windows == first:
        why = f" ({on_windows})"
    elif any(part.startswith(".") and part not in (".", "..") for part in spelt[-1].split("/")):
        why = " (a hidden file or folder, its name beginning with '.': scans leave those out)"
    else:
        meant = _near(spelt[-1], paths)
        why = f" (did you mean {quoted(meant)}?)" if meant else ""
    if windows not in (None, first):
        elsewhere = f"; {quoted(windows)} is {on_windows}"
    return UnknownPaths(
        f"{plural(len(unknown), 'path')} with no image in this project, e.g. {quoted(first)}{why}"
        f"{_also(unknown)}{elsewhere}; paths must be relative to "
        f"{root} or absolute inside it",
        unknown,
    )


def _near(rel: str, paths: Sequence[str]) -> str | None:
    """The one image of `paths` that relative path `rel` most likely meant, or None: the same
    path in other case or with its spaces run together, or one that `rel` ends with (a path
    that starts with the images folder's own name, or a folder above it)."""
    squeeze = " ".join
    keys = (
        lambda p: p.casefold(),
        lambda p: squeeze(p.split()).casefold(),
    )
    for key in keys:
        found = [p for p in paths if key(p) == key(rel)]
        if len(found) == 1:
            return found[0]
    ends = [p for p in paths if rel.endswith("/" + p)]
    return max(ends, key=len) if ends else None


def _relative(p: str, root: Path) -> str:
    """Image path `p` relative to the images `root`, normalised ('./a.png', 'a//b.png' ->
    'a.png', 'a/b.png'); an absolute path outside the root as given."""
    candidate = Path(p)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(root).as_posix()
        except ValueError:
            return p
    return posixpath.normpath(p)


def _spellings(path: str, *, csv_cells: bool) -> list[str]:
    """The spellings of image `path` to look for: the cell's (`path_spellings`) for a label CSV's
    path cell, else the path alone."""
    return path_spellings(path) if csv_cells else [path]


def _path_finder(paths: Sequence[str]) -> Callable[[str], int | None]:
    """A function: relative path -> its index in `paths`, or None. A path is found as given,
    else by its NFC form where no two of `paths` share that form (the same name typed in another
    Unicode form, as macOS writes 'u' + '¨')."""
    index = {p: i for i, p in enumerate(paths)}
    by_nfc: dict[str, int] | None = None  # made only for a path not found as given

    def find(rel: str) -> int | None:
        nonlocal by_nfc
        if rel in index:
            return index[rel]
        by_nfc = _unique_nfc(paths) if by_nfc is None else by_nfc
        return by_nfc.get(_nfc(rel))

    return find


def _nfc(path: str) -> str:
    return unicodedata.normalize("NFC", path)


def _unique_nfc(paths: Sequence[str]) -> dict[str, int]:
    """{NFC form: index} of `paths`, leaving out forms that two paths share."""
    forms = [_nfc(p) for p in paths]
    count = Counter(forms)
    return {form: i for i, form in enumerate(forms) if count[form] == 1}
