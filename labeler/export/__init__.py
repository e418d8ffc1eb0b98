"""Exports: the labels CSV of the export contract, and the embeddings as .npz.

Both are written to a temporary file beside the target and moved into place, so a failed export
leaves nothing half-written. A symlink is followed (its target is replaced, the link stays); a
folder, pipe or device is refused, and so is a path inside a project folder other than its
`exports/` (`check_outside_project`): the project's own files are not export targets.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from labeler.atomic import atomic_file
from labeler.errors import LabelerError, os_reason

__all__ = [
    "CSV_COLUMNS",
    "EXPORTS_DIR",
    "LABEL_FILE_COLUMNS",
    "check_outside_project",
    "dated",
    "escape_cell",
    "write_csv",
    "write_embeddings",
    "write_rows",
    "write_table",
]

# The columns of the label files a project writes for `labeler label` to read back (the labels a
# class edit or a rescan took away), with who labeled and when, as the export has them.
LABEL_FILE_COLUMNS = ("path", "label", "annotator", "labeled_at")
EXPORTS_DIR = "exports"  # inside a project folder: the one place there that exports may go
BYTE_ORDER_MARK = "\ufeff"  # before UTF-8 text: how Excel knows that a CSV is UTF-8

CSV_COLUMNS = (
    "path",
    "label",
    "source",
    "confidence",
    "margin",
    "method",
    "model",
    "annotator",
    "labeled_at",
)
# Text cells escaped with a leading apostrophe: those a spreadsheet would run as a formula, and
# those starting with an apostrophe already (so that `unescape_cell` gives every cell back).
_ESCAPED_START = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value: object) -> str:
    """Render a cell; text a spreadsheet would run as a formula gets a leading apostrophe (and
    so does text starting with an apostrophe, so that `unescape_cell` can tell them apart).

    Numbers are written as numbers (a negative margin stays -0.5, not '-0.5).
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, np.integer, np.floating)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_ESCAPED_START) else text


def unescape_cell(text: str) -> str:
    """Undo `escape_cell` on a text cell read back: drop the apostrophe it put in front."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_ESCAPED_START) else text


def check_outside_project(out: Path, project: Path, *, images: Path | None = None) -> None:
    """Refuse `out` (or the file its symlink points to) inside the folder of `project`, other
    than in its `EXPORTS_DIR`: the database, vectors and index there belong to the project;
    and inside the `images` folder, where it would replace an image, or be scanned as one.
    A file straight in `EXPORTS_DIR` gets that folder made if need be (only that one)."""
    target, home = Path(out).resolve(), Path(project).resolve()
    if images is not None and target.is_relative_to(Path(images).resolve()):
        raise LabelerError(
            f"refusing to write {out}: it is inside the images folder {images}, where it would "
            "replace an image or be scanned as one; write it outside that folder"
        )
    exports = home / EXPORTS_DIR
    if target.is_relative_to(home) and not target.is_relative_to(exports):
        raise LabelerError(
            f"refusing to write {out}: it is inside the project folder {project}, whose files "
            f"the project owns; write it outside that folder or into {Path(project) / EXPORTS_DIR}"
        )
    if target.parent == exports and not exports.is_dir():
        try:
            exports.mkdir()
        except OSError as e:
            raise LabelerError(
                f"cannot create {Path(project) / EXPORTS_DIR} for {out} ({os_reason(e)}); "
                "write the export outside the project folder instead"
            ) from e


def _target(out: Path) -> Path:
    """The regular file that writing `out` creates or replaces: `out`, or the file its symlink
    points to (the link stays a link). Raises LabelerError for anything else."""
    if out.exists() and not out.is_file():  # both follow symlinks
        kind = "a folder" if out.is_dir() else "not a regular file (a pipe, device or socket)"
        raise LabelerError(f"cannot write {out}: it is {kind}; give the path of a file instead")
    target = Path(os.path.realpath(out))
    if not target.parent.is_dir():
        # The nearest ancestor there is: a file where a folder should be (`a.csv/x.csv`)?
        blocker = next(p for p in target.parents if p.exists())
        if not blocker.is_dir():
            kind = "a file, not a folder" if blocker.is_file() else "not a folder"
            raise LabelerError(f"cannot write {out}: {blocker} is {kind}; choose another path")
        raise LabelerError(
            f"cannot write {out}: folder {target.parent} does not exist; create it first or choose "
            "another"
        )
    return target


def _cannot_write(out: Path, error: OSError) -> LabelerError:
    return LabelerError(
        f"cannot write {out}: {os_reason(error)}; choose a folder you can write to, with free space"
    )


def _atomic(out: Path, mode: str):
    """A file object to write `out` through (`atomic_file`): the file it names, or the one its
    symlink points to, replaced only when the block ends without an error."""
    out = Path(out)
    try:
        target = _target(out)
    except OSError as e:
        raise _cannot_write(out, e) from e
    return atomic_file(target, mode=mode, error=lambda _, e: _cannot_write(out, e))


def write_rows(
    f: TextIO,
    rows: Iterable[Mapping[str, object]],
    *,
    columns: Sequence[str] = CSV_COLUMNS,
    extra_columns: Sequence[str] = (),
    lineterminator: str = "\r\n",
    excel: bool = False,
) -> int:
    """Write a header, then rows (dicts keyed by column) under `columns` then `extra_columns`,
    every cell through `escape_cell`, to the text stream `f`; return the row count. excel:
    begin with a byte-order mark, without which Excel reads UTF-8 in the machine's code page
    and garbles every letter outside ASCII (`Ödem` shows as `Ã–dem`)."""
    if excel:
        f.write(BYTE_ORDER_MARK)
    columns = list(columns) + [c for c in extra_columns if c not in columns]
    writer = csv.writer(f, lineterminator=lineterminator)
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([escape_cell(row.get(c)) for c in columns])
        n += 1
    return n


def write_csv(
    out: Path,
    rows: Iterable[Mapping[str, object]],
    *,
    columns: Sequence[str] = CSV_COLUMNS,
    extra_columns: Sequence[str] = (),
    excel: bool = False,
) -> int:
    """`write_rows` to the file `out`, atomically, in UTF-8; return the row count."""
    with _atomic(out, "w") as f:
        return write_rows(f, rows, columns=columns, extra_columns=extra_columns, excel=excel)


def dated(folder: Path, name: str) -> Path:
    """folder/STEM-YYYYmmdd-HHMMSS.SUFFIX of file `name`, at the time now (UTC), not yet taken
    (-2, -3, … added within one second): a file per event, none overwriting another."""
    stem, suffix = Path(name).stem, Path(name).suffix
    base = f"{stem}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    out = folder / f"{base}{suffix}"
    n = 1
    while out.exists():
        n += 1
        out = folder / f"{base}-{n}{suffix}"
    return out


def write_table(out: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """A plain CSV (e.g. the skipped-files report), cells escaped; return the row count."""
    return write_csv(out, (dict(zip(header, r, strict=True)) for r in rows), columns=header)


def write_embeddings(out: Path, paths: Sequence[str], embeddings: np.ndarray) -> None:
    """Save arrays `paths` (N,) str and `embeddings` (N, D) float32 to an .npz file."""
    with _atomic(out, "wb") as f:
        np.savez(f, paths=np.asarray(paths, dtype=str), embeddings=embeddings.astype(np.float32))
