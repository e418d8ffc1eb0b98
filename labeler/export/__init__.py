"""Exports: the labels CSV of the export contract, and the embeddings as .npz.

Both are written to a temporary file beside the target and moved into place, so a failed export
leaves nothing half-written.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from labeler.errors import LabelerError

__all__ = ["CSV_COLUMNS", "escape_cell", "write_csv", "write_embeddings", "write_table"]

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
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: object) -> str:
    """Render a cell; text a spreadsheet would run as a formula gets a leading apostrophe.

    Numbers are written as numbers (a negative margin stays -0.5, not '-0.5).
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, np.integer, np.floating)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@contextmanager
def _atomic(out: Path, mode: str):
    out = Path(out)
    if not out.parent.is_dir():
        raise LabelerError(f"cannot write {out}: folder {out.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(
            fd, mode, **({"newline": "", "encoding": "utf-8"} if "b" not in mode else {})
        ) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only; exports are ordinary files
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(
    out: Path,
    rows: Iterable[Mapping[str, object]],
    *,
    columns: Sequence[str] = CSV_COLUMNS,
    extra_columns: Sequence[str] = (),
) -> int:
    """Write rows (dicts keyed by column) under `columns` then `extra_columns`; return the count."""
    columns = list(columns) + [c for c in extra_columns if c not in columns]
    n = 0
    with _atomic(out, "w") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([escape_cell(row.get(c)) for c in columns])
            n += 1
    return n


def write_table(out: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """A plain CSV (e.g. the skipped-files report), cells escaped; return the row count."""
    return write_csv(out, (dict(zip(header, r, strict=True)) for r in rows), columns=header)


def write_embeddings(out: Path, paths: Sequence[str], embeddings: np.ndarray) -> None:
    """Save arrays `paths` (N,) str and `embeddings` (N, D) float32 to an .npz file."""
    with _atomic(out, "wb") as f:
        np.savez(f, paths=np.asarray(paths, dtype=str), embeddings=embeddings.astype(np.float32))
