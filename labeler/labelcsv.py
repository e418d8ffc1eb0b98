"""Reading the experts' label CSV (columns `path,label`, more columns allowed and ignored).

A `source` column, as in our own export, marks each row `human` (an expert label) or `auto` (a
prediction); predictions are refused, so that re-importing an export never turns them into
expert labels.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from labeler.errors import LabelerError
from labeler.export import unescape_cell

REQUIRED_COLUMNS = ("path", "label")
HUMAN_SOURCE = "human"  # the export's `source` of an expert label
# Said of a row that swallowed the lines after it: a stray quote opened a cell never closed.
UNCLOSED_QUOTE = (
    'a quote (") in it probably opens a cell that is never closed, so that cell runs on over the '
    "lines after it; close the quote or remove it"
)


@dataclass(frozen=True)
class LabelRows:
    """What a label CSV holds."""

    pairs: list[tuple[str, str]]  # (path, label) in file order, each path once
    unlabeled: list[int]  # lines of rows with a path but no label (not filled in yet): skipped


def read_label_csv(path: Path | str) -> LabelRows:
    """Read (path, label) pairs, stripped of surrounding whitespace, and undo the apostrophe our
    exports put before cells a spreadsheet would run as formulas (`'-neg` reads as `-neg`).

    Excel's `sep=,` line above the header is skipped. A row with a path and an empty label is
    left out and its line reported (a `suggest` file filled in part-way). Raises LabelerError
    for a missing or unreadable file, missing or repeated columns, a label with no path, one
    path given two different labels, or rows whose `source` (where the file has that column) is
    neither `human` nor empty. A repeated path with the same label is kept once.
    """
    path = Path(path)
    rows = _read_rows(path)
    first = 1 if len(rows) > 1 and _is_separator_line(rows[0]) else 0
    header = _header(path, rows[first])
    ip, il = header.index("path"), header.index("label")
    isrc = header.index("source") if "source" in header else None
    pairs: dict[str, str] = {}
    unlabeled: list[int] = []
    predicted: list[tuple[int, str]] = []  # (line, source) of rows that are not expert labels
    for line, row in enumerate(rows[first + 1 :], start=first + 2):
        if not any(cell.strip() for cell in row):
            continue
        source = row[isrc].strip() if isrc is not None and isrc < len(row) else ""
        if source.lower() not in ("", HUMAN_SOURCE):
            predicted.append((line, source))
            continue
        if len(row) <= max(ip, il):
            raise LabelerError(
                f"{path}, line {line}: expected {len(header)} cells, got {len(row)}"
                + (f"; {UNCLOSED_QUOTE}" if any("\n" in cell for cell in row) else "")
            )
        p, label = (unescape_cell(row[i].strip()) for i in (ip, il))
        if not p and not label:  # other cells only, such as a note: nothing to import
            continue
        if not p:
            raise LabelerError(
                f"{path}, line {line}: label {label!r} has no path; fill in the image's path "
                "or delete the row"
            )
        if not label:
            unlabeled.append(line)
            continue
        if pairs.get(p, label) != label:
            raise LabelerError(
                f"{path}, line {line}: {p!r} is labeled both {pairs[p]!r} and {label!r}; keep one"
            )
        pairs[p] = label
    if predicted:
        line, source = predicted[0]
        raise LabelerError(
            f"{path} has {len(predicted)} rows whose source is not {HUMAN_SOURCE!r} (e.g. line "
            f"{line}: {source!r}): predictions, not expert labels, so nothing was imported; delete "
            "those rows to import the expert labels only, or delete the source column to import "
            "every row as an expert label on purpose"
        )
    return LabelRows(pairs=list(pairs.items()), unlabeled=unlabeled)


def _is_separator_line(row: list[str]) -> bool:
    """Whether `row` is Excel's `sep=,` line, written above the header in some exports."""
    text = ",".join(row).strip().lower()
    return text.startswith("sep=") and len(text) <= len("sep=,,")


def _read_rows(path: Path) -> list[list[str]]:
    """The rows of CSV file `path`, at least one (the header)."""
    if path.is_dir():
        raise LabelerError(
            f"label file {path} is a folder; pass a CSV file with columns path,label"
        )
    if not path.is_file():
        raise LabelerError(f"label file {path} does not exist; pass a CSV with columns path,label")
    rows: list[list[str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f):  # row by row: on an error, `rows` says where
                rows.append(row)
    except UnicodeDecodeError as e:
        raise LabelerError(
            f"cannot read {path} as a UTF-8 CSV file ({e}); save it as CSV UTF-8 (a choice of "
            "'Save as' in spreadsheets) with columns path,label"
        ) from e
    except csv.Error as e:  # in practice: a cell longer than csv.field_size_limit()
        raise LabelerError(
            f"{path}, line {len(rows) + 1}: a cell is longer than {csv.field_size_limit()} "
            f"characters; {UNCLOSED_QUOTE}"
        ) from e
    if not rows:
        raise LabelerError(f"label file {path} is empty; it needs a header row path,label")
    return rows


def _header(path: Path, first: list[str]) -> list[str]:
    """Column names of the header row `first`, lower-cased; every required one, none twice."""
    header = [h.strip().lower() for h in first]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        raise LabelerError(
            f"label file {path} has the column(s) {', '.join(repeated)} more than once "
            f"(header {first}); keep one of each"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        separated = ";" in "".join(first) or "\t" in "".join(first)
        hint = "; the file must be comma-separated, not with ';' or tabs" if separated else ""
        raise LabelerError(
            f"label file {path} has columns {first} but lacks {', '.join(missing)}; "
            f"the first row must name the columns path,label{hint}"
        )
    return header
