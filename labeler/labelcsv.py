"""Reading the experts' label CSV (columns `path,label`, more columns allowed and ignored)."""

from __future__ import annotations

import csv
from pathlib import Path

from labeler.errors import LabelerError

REQUIRED_COLUMNS = ("path", "label")


def read_label_csv(path: Path | str) -> list[tuple[str, str]]:
    """Return (path, label) pairs in file order, stripped of surrounding whitespace.

    Raises LabelerError for a missing or unreadable file, missing columns, empty cells, or one path
    given two different labels. A repeated path with the same label is kept once.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelerError(f"label file {path} does not exist; pass a CSV with columns path,label")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise LabelerError(
            f"cannot read {path} as a UTF-8 CSV file ({e}); save it as CSV with columns path,label"
        ) from e
    if not rows:
        raise LabelerError(f"label file {path} is empty; it needs a header row path,label")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise LabelerError(
            f"label file {path} has columns {rows[0]} but lacks {', '.join(missing)}; "
            "the first row must name the columns path,label"
        )
    ip, il = header.index("path"), header.index("label")
    pairs: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(ip, il):
            raise LabelerError(f"{path}, line {line}: expected {len(header)} cells, got {len(row)}")
        p, label = row[ip].strip(), row[il].strip()
        if not p or not label:
            raise LabelerError(f"{path}, line {line}: empty path or label; fill in both or drop it")
        if pairs.get(p, label) != label:
            raise LabelerError(
                f"{path}, line {line}: {p!r} is labeled both {pairs[p]!r} and {label!r}; keep one"
            )
        pairs[p] = label
    return list(pairs.items())
