"""Reading the experts' label CSV (columns `path,label`, more columns allowed and ignored).

A `source` column, as in our own export, marks each row `human` (an expert label) or `auto` (a
prediction); predictions are refused, so that re-importing an export never turns them into
expert labels.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from labeler.errors import LabelerError
from labeler.export import unescape_cell

REQUIRED_COLUMNS = ("path", "label")
DELIMITERS = (",", ";", "\t")  # tried in this order on the header row
# Excel's first line `sep=;` names the separator (repeated when the sheet had more columns).
SEPARATOR_LINE = re.compile(r"sep=(.)\1*(?:\r\n|\r|\n)", re.IGNORECASE)
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

    Cells are separated by commas, semicolons or tabs, whichever splits the header into `path`
    and `label` (spreadsheets in many locales save CSV with semicolons); Excel's `sep=;` line
    above the header names the separator and is skipped. A row with a path and an empty label is
    left out and its line reported (a `suggest` file filled in part-way). Raises LabelerError
    for a missing or unreadable file, missing or repeated columns, a label with no path, one
    path given two different labels, or rows whose `source` (where the file has that column) is
    neither `human` nor empty. A repeated path with the same label is kept once.
    """
    path = Path(path)
    rows, first = _read_rows(path)
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


def _read_rows(path: Path) -> tuple[list[list[str]], int]:
    """The rows of CSV file `path`, at least one, and the index of the header row (1 below
    Excel's `sep=` line, else 0)."""
    text = _read_text(path)
    sep_line = SEPARATOR_LINE.match(text)
    body = text[sep_line.end() :] if sep_line else text
    delimiter = sep_line.group(1) if sep_line else _sniff_delimiter(body)
    rows: list[list[str]] = [[]] if sep_line else []  # the `sep=` line keeps its line number
    try:
        for row in csv.reader(io.StringIO(body, newline=""), delimiter=delimiter):
            rows.append(row)  # row by row: on an error, `rows` says where
    except csv.Error as e:  # in practice: a cell longer than csv.field_size_limit()
        raise LabelerError(
            f"{path}, line {len(rows) + 1}: a cell is longer than {csv.field_size_limit()} "
            f"characters; {UNCLOSED_QUOTE}"
        ) from e
    if len(rows) == bool(sep_line):
        raise LabelerError(f"label file {path} is empty; it needs a header row path,label")
    return rows, int(bool(sep_line))


def _read_text(path: Path) -> str:
    """The text of label file `path`, UTF-8 with or without a byte-order mark."""
    if path.is_dir():
        raise LabelerError(
            f"label file {path} is a folder; pass a CSV file with columns path,label"
        )
    if not path.is_file():
        raise LabelerError(f"label file {path} does not exist; pass a CSV with columns path,label")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # "\r" in a quoted cell kept
            return f.read()
    except UnicodeDecodeError as e:
        raise LabelerError(
            f"cannot read {path} as a UTF-8 CSV file ({e}); save it as CSV UTF-8 (a choice of "
            "'Save as' in spreadsheets) with columns path,label"
        ) from e


def _sniff_delimiter(text: str) -> str:
    """The first of DELIMITERS that splits the header row of `text` into both required columns;
    a comma when none does (the header check then names what is missing)."""
    for delimiter in DELIMITERS:
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        except csv.Error:  # a header cell that never ends: reading the rows will say where
            continue
        if set(REQUIRED_COLUMNS) <= {cell.strip().lower() for cell in header}:
            return delimiter
    return DELIMITERS[0]


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
        raise LabelerError(
            f"label file {path} has columns {first} but lacks {', '.join(missing)}; "
            "the first row must name the columns path,label (separated by commas, semicolons "
            "or tabs)"
        )
    return header
