"""Reading the experts' label CSV (columns `path,label`, more columns allowed and ignored).

A `source` column, as in our own export, marks each row `human` (an expert label) or `auto` (a
prediction); predictions are refused, so that re-importing an export never turns them into
expert labels. `annotator` and `labeled_at` columns, also as in our export, keep who labeled
each image and when (`LabelRows.provenance`).

The file may come from Excel on Windows: UTF-8 with or without a byte-order mark ("CSV UTF-8"),
the ANSI code page Windows-1252 ("CSV (Comma delimited)" in Western Europe and the US), or
UTF-16 with a byte-order mark ("Unicode Text", tab-separated). Its path cells may carry stray
spaces or Windows backslashes: `path_spellings` names what a cell may stand for, and the project
matches each spelling, refusing a cell whose spellings name two different images.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath

from labeler.errors import LabelerError
from labeler.export import unescape_cell
from labeler.store.annotator import check_annotator
from labeler.wording import plural, quoted

REQUIRED_COLUMNS = ("path", "label")
DELIMITERS = (",", ";", "\t")  # tried in this order on the header row
# Excel's first line `sep=;` names the separator (repeated when the sheet had more columns).
SEPARATOR_LINE = re.compile(r"sep=(.)\1*(?:\r\n|\r|\n)", re.IGNORECASE)
HUMAN_SOURCE = "human"  # the export's `source` of an expert label
STDIN = "-"  # the label file name that reads standard input, as `export -` writes stdout
# Optional columns read as in our export: which rows are predictions, who labeled, and when.
PROVENANCE_COLUMNS = ("source", "annotator", "labeled_at")
# Said of a row that swallowed the lines after it: a stray quote opened a cell never closed.
UNCLOSED_QUOTE = (
    'a quote (") in it probably opens a cell that is never closed, so that cell runs on over the '
    "lines after it; close the quote or remove it"
)
# Encodings a label file is read in (`LabelRows.encoding`), tried in this order: UTF-16 only
# behind its byte-order mark, UTF-8 with or without one, else Windows' ANSI code page of Western
# Europe and the US (which leaves the bytes 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined).
UTF16, UTF8, CP1252 = "utf-16", "utf-8", "cp1252"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# What the user is told of a file read in an encoding that may not be the one it was saved in.
ENCODING_NOTES = {
    CP1252: (
        "read as Windows-1252 (cp1252), not UTF-8; check the class names (a file saved in "
        'another code page reads as wrong letters), or save it as "CSV UTF-8" to be sure'
    )
}
# A multi-byte UTF-8 character: in a file that is not UTF-8 as a whole, a sign of mixed encodings.
UTF8_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
SAVE_AS_UTF8 = (
    'save it as "CSV UTF-8" (in Excel: File > Save As > CSV UTF-8) with columns path,label'
)
# A path on a Windows machine, by drive letter or network share: `C:\…`, `C:/…`, `\\server\…`.
WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:[\\/]|\\\\")


@dataclass(frozen=True)
class LabelRows:
    """What a label CSV holds."""

    # (path cell as written, label) in file order, each path once (by `plain_path`)
    pairs: list[tuple[str, str]]
    unlabeled: list[int]  # lines of rows with a path but no label (not filled in yet): skipped
    encoding: str = UTF8  # what the file was read as: UTF8, CP1252 or UTF16
    lines: list[int] = field(default_factory=list, compare=False)  # the line of each pair
    # Per pair, from the file's optional `annotator` and `labeled_at` columns (as our export
    # writes them): who labeled the image and when (ISO 8601 UTC), None where the cell is empty.
    provenance: list[tuple[str | None, str | None]] = field(default_factory=list, compare=False)
    unread_times: list[int] = field(default_factory=list)  # lines whose labeled_at is no time

    def lines_of_paths(self, cells: Iterable[str]) -> list[int]:
        """The lines, ascending, of the pairs whose path cell is one of `cells`."""
        wanted = set(cells)
        return sorted(n for (p, _), n in zip(self.pairs, self.lines, strict=True) if p in wanted)

    def lines_of(self, labels: Iterable[str]) -> list[int]:
        """The lines, ascending, of the pairs labeled one of `labels`."""
        wanted = set(labels)
        return sorted(
            n for (_, label), n in zip(self.pairs, self.lines, strict=True) if label in wanted
        )


def encoding_note(encoding: str) -> str | None:
    """What to tell the user of a file read as `encoding` (`LabelRows.encoding`), or None when
    the encoding is certain (UTF-8, or UTF-16 behind its byte-order mark)."""
    return ENCODING_NOTES.get(encoding)


def plain_path(cell: str) -> str:
    """Path cell `cell` without the spaces around it and with slashes for backslashes."""
    return cell.strip().replace("\\", "/")


def path_spellings(cell: str) -> list[str]:
    """The image paths that path cell `cell` may stand for, each once: the cell as our exports
    mean it (`'-neg.png` for `-neg.png`: the apostrophe they put before a name a spreadsheet
    would run as a formula dropped), then as written where that differs (a file whose name
    begins with that apostrophe); of each, most literal first: as it is; without the spaces
    after it, before it, or both (stray spaces in a spreadsheet cell, around a name that may
    have spaces of its own); and each of those with slashes for backslashes (a relative path
    typed on Windows, `sub\\img 1.png`)."""
    out: list[str] = []
    for form in (_unescape_path(cell), cell):
        unspaced = (form, form.rstrip(), form.lstrip(), form.strip())
        out += [*unspaced, *(s.replace("\\", "/") for s in unspaced)]
    return list(dict.fromkeys(out))


def is_windows_path(cell: str) -> bool:
    """Whether `cell` is an absolute Windows path (`C:\\…`, `\\\\server\\…`) on a machine where
    that is not an absolute path: it names a file on another machine, never an image here."""
    path = cell.strip()
    return bool(WINDOWS_ABSOLUTE.match(path)) and not PurePath(path).is_absolute()


def read_label_csv(path: Path | str) -> LabelRows:
    """Read (path, label) pairs: labels stripped of surrounding whitespace, with the apostrophe
    our exports put before cells a spreadsheet would run as formulas undone (`'-neg` reads as
    `-neg`); path cells as written (the project tries them in their spellings, unescaped and
    stripped among them, see `path_spellings`).

    The file is UTF-16 behind a byte-order mark, else UTF-8 (with or without one), else
    Windows-1252 (`LabelRows.encoding` says which; `encoding_note` what to tell the user).
    Cells are separated by commas, semicolons or tabs, whichever splits the header into `path`
    and `label` (spreadsheets in many locales save CSV with semicolons); Excel's `sep=;` line
    above the header names the separator and is skipped. A row with a path and an empty label is
    left out and its line reported (a `suggest` file filled in part-way). Raises LabelerError
    for a missing or unreadable file, one in none of those encodings or in two at once, missing
    or repeated columns, a label with no path, one path (by `plain_path`) given two different
    labels, or rows whose `source` (where the file has that column) is neither `human` nor
    empty. A repeated path with the same label is kept once, as first written.
    """
    rows, lines, first, encoding = _read_rows(Path(path))
    path = file_name(path)  # from here on, for messages only
    header = _header(path, rows[first])
    ip, il = header.index("path"), header.index("label")
    isrc, iwho, iwhen = (header.index(c) if c in header else None for c in PROVENANCE_COLUMNS)
    # plain path -> (cell, label, line, (annotator, time)), as first seen
    pairs: dict[str, tuple[str, str, int, tuple[str | None, str | None]]] = {}
    unread_times: list[int] = []
    unlabeled: list[int] = []
    predicted: list[tuple[int, str]] = []  # (line, source) of rows that are not expert labels
    for line, row in zip(lines[first + 1 :], rows[first + 1 :], strict=True):
        if not any(cell.strip() for cell in row):
            continue
        source = _cell(row, isrc)
        if source.lower() not in ("", HUMAN_SOURCE):
            predicted.append((line, source))
            continue
        if len(row) <= max(ip, il):
            raise LabelerError(
                f"{path}, line {line}: expected {len(header)} cells, got {len(row)}"
                + (
                    f"; {UNCLOSED_QUOTE}"
                    if any("\n" in cell for cell in row)
                    else "; give the row its path and label cells, or delete it"
                )
            )
        if any(cell.strip() for cell in row[len(header) :]):  # ',' in a cell left unquoted
            raise LabelerError(
                f"{path}, line {line}: expected {len(header)} cells, got {len(row)}; a "
                "separator inside a label or path cuts it in two: put that cell in double "
                'quotes, e.g. "red, atypical"'
            )
        p, label = row[ip], unescape_cell(row[il].strip())
        if not p.strip() and not label:  # other cells only, such as a note: nothing to import
            continue
        if not p.strip():
            raise LabelerError(
                f"{path}, line {line}: label {label!r} has no path; fill in the image's path "
                "or delete the row"
            )
        if not label:
            unlabeled.append(line)
            continue
        key = plain_path(p)
        if key not in pairs:
            who, time, unread = _provenance(row, iwho, iwhen, where=f"{path}, line {line}")
            if unread:
                unread_times.append(line)
            pairs[key] = (p, label, line, (who, time))
        p0, label0, line0, _ = pairs[key]
        if label0 != label:
            spelt = f", as {quoted(p0)}" if p0 != p else ""
            raise LabelerError(
                f"{path}, line {line}: {quoted(p)} is labeled both {label0!r} (on line "
                f"{line0}{spelt}) and {label!r}; keep one"
            )
    if predicted:
        line, source = predicted[0]
        raise LabelerError(
            f"{path} has {plural(len(predicted), 'row')} whose source is not {HUMAN_SOURCE!r} "
            f"(e.g. line {line}: {source!r}): predictions, not expert labels; delete those rows "
            "to import the expert labels only, or delete the source column to import every row "
            "as an expert label on purpose"
        )
    return LabelRows(
        pairs=[(p, label) for p, label, _, _ in pairs.values()],
        unlabeled=unlabeled,
        encoding=encoding,
        lines=[line for _, _, line, _ in pairs.values()],
        provenance=[by for _, _, _, by in pairs.values()],
        unread_times=unread_times,
    )


def file_name(path: Path | str) -> str:
    """Label file `path` as messages name it: 'standard input' for '-'."""
    return "standard input" if str(path) == STDIN else str(path)


def _cell(row: list[str], index: int | None) -> str:
    """The stripped cell of an optional column ('' where the file has no such column or cell)."""
    return row[index].strip() if index is not None and index < len(row) else ""


def _provenance(
    row: list[str], iwho: int | None, iwhen: int | None, *, where: str
) -> tuple[str | None, str | None, bool]:
    """(annotator, UTC time) of a row's optional annotator and labeled_at cells (None where
    empty), and whether its labeled_at cell holds no time; an annotator the store would refuse
    is refused here, `where` naming the file and line."""
    who, when = _cell(row, iwho), _cell(row, iwhen)
    if who:
        who = unescape_cell(who)
        try:
            check_annotator(who, accepted=True)
        except LabelerError as e:
            raise LabelerError(f"{where}, column annotator: {e}") from e
    time = _utc_time(when) if when else None
    return who or None, time, bool(when) and time is None


def _utc_time(cell: str) -> str | None:
    """An ISO 8601 time cell as the store writes times ('2026-11-24T07:04:37Z'), or None when
    the cell is no such time (a spreadsheet may have rewritten it as '24/11/2026 07:04').
    A time without a zone is taken as UTC, which is what our export writes."""
    try:
        t = datetime.fromisoformat(cell)
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        t = t.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a time, or one beyond year 1 to 9999 in UTC
        return None
    # isoformat, not strftime: the year has its four digits even before 1000
    return t.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _unescape_path(cell: str) -> str:
    """Path cell `cell` with `unescape_cell` undone inside the spaces around it, which are kept
    (`path_spellings` tries it with and without them)."""
    lead = len(cell) - len(cell.lstrip())
    core = cell.strip()
    return cell[:lead] + unescape_cell(core) + cell[lead + len(core) :]


def _read_rows(path: Path) -> tuple[list[list[str]], list[int], int, str]:
    """The rows of CSV file `path`, at least one; the line (from 1) each row starts on, which a
    quoted cell spanning lines moves past the row's index; the index of the header row (1 below
    Excel's `sep=` line, else 0); and the encoding the file was read in."""
    text, encoding = _read_text(path)
    sep_line = SEPARATOR_LINE.match(text)
    body = text[sep_line.end() :] if sep_line else text
    delimiter = sep_line.group(1) if sep_line else _sniff_delimiter(body)
    above = int(bool(sep_line))  # the `sep=` line keeps its line number
    rows: list[list[str]] = [[]] * above
    lines: list[int] = [1] * above
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    read = 0  # lines of the body read so far
    try:
        for row in reader:  # row by row: on an error, `read` says where the row began
            lines.append(above + read + 1)
            rows.append(row)
            read = reader.line_num
    except csv.Error as e:  # in practice: a cell longer than csv.field_size_limit()
        raise LabelerError(
            f"{path}, line {above + read + 1}: a cell is longer than "
            f"{csv.field_size_limit()} characters; {UNCLOSED_QUOTE}"
        ) from e
    if len(rows) == above:
        raise LabelerError(f"label file {path} is empty; it needs a header row path,label")
    return rows, lines, above, encoding


def _read_text(path: Path) -> tuple[str, str]:
    """The text of label file `path` ('-': standard input) and the encoding it was read in (see
    `_decode`)."""
    if str(path) == STDIN:
        return _decode(file_name(path), sys.stdin.buffer.read())
    if path.is_dir():
        raise LabelerError(
            f"label file {path} is a folder; pass a CSV file with columns path,label"
        )
    if not path.is_file():
        raise LabelerError(f"label file {path} does not exist; pass a CSV with columns path,label")
    return _decode(path, path.read_bytes())  # bytes as they are: "\r" in a quoted cell kept


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    """Bytes `data` of label file `path` as text, and the encoding used: UTF16 behind its
    byte-order mark, else UTF8 (a byte-order mark dropped), else CP1252 (see `_decode_cp1252`).
    Refuses NUL bytes outside UTF-16: no text CSV holds them."""
    if data.startswith(UTF16_BOMS):
        return _decode_utf16(path, data), UTF16
    if b"\0" in data:
        raise LabelerError(
            f"cannot read {path}: it holds NUL bytes (line {_line_at(data, data.index(0))}), so "
            "it is no text CSV (an Excel workbook .xlsx, say, or UTF-16 without its byte-order "
            f"mark); {SAVE_AS_UTF8}"
        )
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode(UTF8), UTF8
    except UnicodeDecodeError as e:
        not_utf8 = f"byte 0x{data[bom + e.start]:02X} on line {_line_at(data, bom + e.start)}"
    if bom:
        raise LabelerError(
            f"cannot read {path}: it starts as UTF-8 but {not_utf8} is not UTF-8 (rows in "
            f"another encoding pasted in?); {SAVE_AS_UTF8}"
        )
    return _decode_cp1252(path, data, not_utf8), CP1252


def _decode_utf16(path: Path, data: bytes) -> str:
    """Bytes `data` of label file `path`, which start with a UTF-16 byte-order mark, as text."""
    try:
        return data.decode(UTF16)
    except UnicodeDecodeError as e:
        raise LabelerError(
            f'cannot read {path}: it starts as UTF-16 (Excel\'s "Unicode Text") but byte '
            f"{e.start} is not ({e.reason}); {SAVE_AS_UTF8}"
        ) from e


def _decode_cp1252(path: Path, data: bytes, not_utf8: str) -> str:
    """Bytes `data` of label file `path`, which are not UTF-8 (`not_utf8` says where), as
    Windows-1252 text; refused where a byte is undefined there, or where a UTF-8 character
    shows that two encodings are mixed (which no single one reads right)."""
    try:
        text = data.decode(CP1252)
    except UnicodeDecodeError as e:
        raise LabelerError(
            f"cannot read {path}: it is neither UTF-8 ({not_utf8} is not) nor Windows-1252 text "
            f"(byte 0x{data[e.start]:02X} on line {_line_at(data, e.start)} is undefined there); "
            f"{SAVE_AS_UTF8}"
        ) from e
    mixed = UTF8_CHARACTER.search(data)
    if mixed:
        raise LabelerError(
            f"cannot read {path}: it mixes encodings, UTF-8 (line "
            f"{_line_at(data, mixed.start())}) and another one ({not_utf8} is not UTF-8), as when "
            f"rows from two files are pasted together; {SAVE_AS_UTF8}"
        )
    return text


def _line_at(data: bytes, offset: int) -> int:
    """The line (from 1) of byte `offset` of `data`."""
    return data.count(b"\n", 0, offset) + 1


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
