"""Tests for labeler.labelcsv: reading the experts' path,label CSV; clear errors on bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labeler.errors import LabelerError
from labeler.export import escape_cell
from labeler.labelcsv import (
    LabelRows,
    encoding_note,
    is_windows_path,
    path_spellings,
    plain_path,
    read_label_csv,
)


def _write(tmp_path: Path, content: str | bytes, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_good_file(tmp_path: Path) -> None:
    content = (
        "\ufeff Label ,extra, PATH \r\n"  # BOM, header in any case, spaces, columns in any order
        "cat,note 1,a/1.png\r\n"
        "\r\n"
        "  dog  ,, b/2.png  \r\n"
        ",,\r\n"  # a row of empty cells is a blank line
        "cat,again,a/1.png\r\n"  # the same pair twice: kept once
        'Äpfel und Birnen,"quoted, comma",c/ü 3.png\r\n'
        "\r\n"
    )
    path = _write(tmp_path, content)
    assert read_label_csv(path) == LabelRows(
        pairs=[
            ("a/1.png", "cat"),
            (" b/2.png  ", "dog"),  # as written: the project tries it stripped too
            ("c/ü 3.png", "Äpfel und Birnen"),
        ],
        unlabeled=[],
        encoding="utf-8",
    )
    assert read_label_csv(str(path)) == read_label_csv(path)


def test_header_only_gives_no_labels(tmp_path: Path) -> None:
    assert read_label_csv(_write(tmp_path, "path,label\n")) == LabelRows(pairs=[], unlabeled=[])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LabelerError, match=r"absent\.csv does not exist"):
        read_label_csv(tmp_path / "absent.csv")


def test_folder_is_named_a_folder(tmp_path: Path) -> None:
    with pytest.raises(LabelerError, match=r"is a folder; pass a CSV file"):
        read_label_csv(tmp_path)


@pytest.mark.parametrize("content", ["", "\ufeff"], ids=["empty", "bom-only"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    with pytest.raises(LabelerError, match="is empty"):
        read_label_csv(_write(tmp_path, content))


@pytest.mark.parametrize(
    ("header", "lacking"),
    [
        ("path,class", "lacks label"),
        ("file,label", "lacks path"),
        ("filename;label", "lacks path, label"),  # semicolons: one column named "filename;label"
        ("a.png,cat", "lacks path, label"),  # no header row at all
    ],
)
def test_missing_columns(tmp_path: Path, header: str, lacking: str) -> None:
    path = _write(tmp_path, f"{header}\nx.png,cat\n")
    with pytest.raises(LabelerError, match=lacking):
        read_label_csv(path)


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolons", "tabs"])
def test_semicolon_and_tab_separated_files(tmp_path: Path, delimiter: str) -> None:
    d = delimiter  # as spreadsheets save CSV in locales whose decimal separator is a comma
    content = (
        f"Label{d}note{d}Path\r\n"
        f"cat{d}1,5 cm{d}a,1.png\r\n"  # commas are plain characters here
        f'dog{d}"quoted{d} with the separator"{d}"b{d}2.png"\r\n'
        f"{d}{d}c.png\r\n"  # no label yet: skipped, its line reported
    )
    rows = read_label_csv(_write(tmp_path, content))
    assert rows == LabelRows(pairs=[("a,1.png", "cat"), (f"b{d}2.png", "dog")], unlabeled=[4])


def test_semicolons_in_a_comma_separated_file_are_characters(tmp_path: Path) -> None:
    rows = read_label_csv(_write(tmp_path, "path,label,x;y\na;1.png,cat;dog,z\n"))
    assert rows.pairs == [("a;1.png", "cat;dog")]


@pytest.mark.parametrize("header", ["path|label", "path label", "path,label;note"])
def test_other_separators_are_named(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, f"{header}\nx.png|cat\n")
    with pytest.raises(LabelerError, match="separated by commas, semicolons or tabs"):
        read_label_csv(path)


@pytest.mark.parametrize("header", ["path,label,label", "Path,label,note, PATH "])
def test_repeated_column_is_refused(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, f"{header}\na.png,cat,dog,x\n")
    with pytest.raises(LabelerError, match=r"has the column\(s\) (label|path) more than once"):
        read_label_csv(path)


def test_export_with_predictions_is_refused_whole(tmp_path: Path) -> None:
    content = (
        "path,label,source,confidence\n"
        "a.png,cat,human,\n"
        "b.png,dog,auto,0.33\n"
        "c.png,,auto,\n"  # a prediction flagged as fitting no class: no label
        "d.png,dog,,\n"  # no label or prediction in the export, filled in by the expert
    )
    with pytest.raises(LabelerError, match=r"2 rows whose source is not 'human' \(e\.g\. line 3"):
        read_label_csv(_write(tmp_path, content))


def test_source_column_of_expert_labels_only_is_read(tmp_path: Path) -> None:
    content = "path,label,source\na.png,cat,human\nb.png,dog, Human \nc.png,dog,\nd.png,cat\n"
    assert read_label_csv(_write(tmp_path, content)).pairs == [
        ("a.png", "cat"),
        ("b.png", "dog"),
        ("c.png", "dog"),
        ("d.png", "cat"),
    ]


@pytest.mark.parametrize("row", [",cat", "  ,cat"])
def test_label_without_path_is_refused(tmp_path: Path, row: str) -> None:
    path = _write(tmp_path, f"path,label\nok.png,dog\n{row}\n")
    with pytest.raises(LabelerError, match="line 3: label 'cat' has no path"):
        read_label_csv(path)


def test_rows_without_label_are_skipped_and_reported(tmp_path: Path) -> None:
    content = (
        "path,label,reason\n"
        "a.png,cat,typical\n"
        "b.png,,typical\n"  # not filled in yet
        "c.png,   ,uncertain\n"
        ",,a note on its own\n"  # neither path nor label: nothing to import or report
        "d.png,dog,uncertain\n"
    )
    rows = read_label_csv(_write(tmp_path, content))
    assert rows == LabelRows(pairs=[("a.png", "cat"), ("d.png", "dog")], unlabeled=[3, 4])
    assert rows.lines == [2, 6] and rows.lines_of(["dog", "cow"]) == [6]  # each pair's line


@pytest.mark.parametrize(
    "text",
    ["-neg", "+ control", "=SUM(A1)", "@home.png", "'quoted.png", "''twice", "'-both", "plain"],
)
def test_cells_escaped_by_our_exports_read_back_as_written(tmp_path: Path, text: str) -> None:
    content = f"path,label\n{escape_cell(text)},{escape_cell(text)}\n"
    ((cell, label),) = read_label_csv(_write(tmp_path, content)).pairs
    assert (path_spellings(cell)[0], label) == (text, text)  # the path is matched as meant
    assert cell == escape_cell(text)  # ... and as written (a name that begins with "'")


def test_export_writer_and_reader_round_trip_awkward_cells(tmp_path: Path) -> None:
    import io

    from labeler.export import write_rows

    texts = ["\tindented", "\rcr", "=", "'", "-", "two\nlines", '"quoted", too', "-\n=x"]
    rows = [{"path": f"{text}.png", "label": text} for text in texts]
    out = io.StringIO()
    write_rows(out, rows, columns=("path", "label"))
    pairs = read_label_csv(_write(tmp_path, out.getvalue())).pairs
    assert [(path_spellings(cell)[0], label) for cell, label in pairs] == [
        (f"{text}.png", text) for text in texts
    ]


def test_a_hundred_thousand_rows(tmp_path: Path) -> None:
    body = "".join(f"images/{i:06d}.png,class {i % 7}\r\n" for i in range(100_000))
    path = _write(tmp_path, "path,label\r\n" + body + "images/000001.png,\r\n")
    rows = read_label_csv(path)
    assert len(rows.pairs) == 100_000 and rows.unlabeled == [100_002]


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("x" * 10, r"line 3: expected 2 cells, got 1; a quote \(\"\) in it probably opens"),
        ("b.png,dog\n" * 20_000, r"line 3: a cell is longer than \d+ characters; a quote"),
    ],
    ids=["small-file", "beyond-the-cell-limit"],
)
def test_a_quote_never_closed_is_named(tmp_path: Path, tail: str, message: str) -> None:
    path = _write(tmp_path, f'path,label\na.png,cat\n"b.png,dog\n{tail}\n')
    with pytest.raises(LabelerError, match=message):
        read_label_csv(path)


def test_a_quote_never_closed_in_the_header_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, '"path,label\n' + "b.png,dog\n" * 20_000)
    with pytest.raises(LabelerError, match=r"line 1: a cell is longer than \d+ characters"):
        read_label_csv(path)


def test_apostrophe_before_other_text_is_kept(tmp_path: Path) -> None:
    content = "path,label\n'a.png,'t Hooft\n"  # not something our export escaped
    assert read_label_csv(_write(tmp_path, content)).pairs == [("'a.png", "'t Hooft")]


@pytest.mark.parametrize(
    ("again", "message"),
    [
        ("a.png", r"line 4: 'a\.png' is labeled both 'cat' \(on line 2\) and 'dog'; keep one"),
        (" a.png ", r"line 4: ' a\.png ' is labeled both 'cat' \(on line 2, as 'a\.png'\) and"),
    ],
    ids=["same-cell", "with-spaces"],
)
def test_conflicting_labels(tmp_path: Path, again: str, message: str) -> None:
    path = _write(tmp_path, f"path,label\na.png,cat\nb.png,dog\n{again},dog\n")
    with pytest.raises(LabelerError, match=message):
        read_label_csv(path)


def test_conflicting_labels_under_windows_backslashes(tmp_path: Path) -> None:
    path = _write(tmp_path, "path,label\nsub/a.png,cat\nsub\\a.png,dog\n")
    with pytest.raises(LabelerError, match=r"line 3: 'sub\\a\.png' is labeled both 'cat'"):
        read_label_csv(path)


def test_one_path_spelt_twice_with_one_label_is_kept_once_as_first_written(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "path,label\nsub\\a.png ,cat\nsub/a.png,cat\nb.png,dog\n")
    assert read_label_csv(path).pairs == [("sub\\a.png ", "cat"), ("b.png", "dog")]


@pytest.mark.parametrize("above", ["", "sep=,\n"])
def test_lines_are_the_files_own_after_a_cell_that_spans_lines(tmp_path: Path, above: str) -> None:
    content = above + 'path,label,note\na.png,cat,"two\nlines"\nb.png,,\nc.png,dog,\nd.png\n'
    shift = len(above.splitlines())
    with pytest.raises(LabelerError, match=f"line {6 + shift}: expected 3 cells, got 1"):
        read_label_csv(_write(tmp_path, content))
    rows = read_label_csv(_write(tmp_path, content.removesuffix("d.png\n")))
    assert rows.lines == [2 + shift, 5 + shift] and rows.unlabeled == [4 + shift]


def test_ragged_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "path,note,label\na.png,x,cat\nb.png\n")
    with pytest.raises(LabelerError, match="line 3: expected 3 cells, got 1"):
        read_label_csv(path)


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_row_with_more_cells_than_the_header_is_refused(tmp_path: Path, sep: str) -> None:
    path = _write(tmp_path, f"path{sep}label\na.png{sep}cat\nb.png{sep}red{sep} atypical\n")
    with pytest.raises(LabelerError, match=r'line 3: expected 2 cells, got 3; .* "red, atypical"'):
        read_label_csv(path)
    trailing = _write(tmp_path, f"path{sep}label\na.png{sep}cat{sep}{sep} \n")  # Excel's
    assert read_label_csv(trailing).pairs == [("a.png", "cat")]


def test_short_row_without_trailing_optional_cells_is_fine(tmp_path: Path) -> None:
    path = _write(tmp_path, "path,label,note\na.png,cat\n")
    assert read_label_csv(path).pairs == [("a.png", "cat")]


# -- encodings: what Excel on Windows saves -------------------------------------------------------

CP1252_CSV = (
    "path;label\r\nbäd.png;Ödem\r\nsub/ö 2.png;Ödem\r\nc.png;Läsion € Größe µm\r\n"
    "Ærø/naïve café.png;Ödème à 37 °C\r\n"
)
CP1252_PAIRS = [
    ("bäd.png", "Ödem"),
    ("sub/ö 2.png", "Ödem"),
    ("c.png", "Läsion € Größe µm"),
    ("Ærø/naïve café.png", "Ödème à 37 °C"),
]


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "with-bom"])
def test_utf8_is_read_as_utf8(tmp_path: Path, bom: str) -> None:
    rows = read_label_csv(_write(tmp_path, bom + CP1252_CSV))
    assert (rows.pairs, rows.encoding) == (CP1252_PAIRS, "utf-8")
    assert encoding_note(rows.encoding) is None


def test_excels_ansi_csv_is_read_as_cp1252_and_said_so(tmp_path: Path) -> None:
    data = CP1252_CSV.encode("cp1252")  # Excel's "CSV (Comma delimited)" in Western Europe
    assert b"b\xe4d.png;\xd6dem" in data and b"\x80" in data  # ä, Ö and € as one byte each
    rows = read_label_csv(_write(tmp_path, data))
    assert rows == LabelRows(pairs=CP1252_PAIRS, unlabeled=[], encoding="cp1252")
    note = encoding_note(rows.encoding)
    assert note is not None and "read as Windows-1252 (cp1252), not UTF-8" in note
    assert "check the class names" in note


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_excels_unicode_text_is_read_as_utf16(tmp_path: Path, codec: str) -> None:
    content = 'path\tlabel\tnote\r\nbäd.png\tÖdem\t"a\ttab"\r\nc.png\t\r\nd.png\t日本\r\n'
    data = "\ufeff".encode(codec) + content.encode(codec)  # Excel's "Unicode Text": BOM, tabs
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    rows = read_label_csv(_write(tmp_path, data))
    assert rows == LabelRows(
        pairs=[("bäd.png", "Ödem"), ("d.png", "日本")], unlabeled=[3], encoding="utf-16"
    )
    assert encoding_note(rows.encoding) is None


def test_broken_utf16_is_refused(tmp_path: Path) -> None:
    data = b"\xff\xfe" + "path\tlabel\r\n".encode("utf-16-le") + b"a"  # one byte too few
    with pytest.raises(LabelerError, match=r"starts as UTF-16 .* but byte \d+ is not .*CSV UTF-8"):
        read_label_csv(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (  # 0x81 is not UTF-8, and one of the five bytes cp1252 leaves undefined
            b"path,label\nb\xe4d.png,cat\nx\x81.png,dog\n",
            r"neither UTF-8 \(byte 0xE4 on line 2 is not\) nor Windows-1252 text \(byte 0x81 "
            r"on line 3 is undefined there\); save it as \"CSV UTF-8\"",
        ),
        (  # UTF-8 (é) and cp1252 (ä) rows pasted together
            "path,label\ncafé.png,cat\n".encode() + "bäd.png,dog\n".encode("cp1252"),
            r"mixes encodings, UTF-8 \(line 2\) and another one \(byte 0xE4 on line 3 is not "
            r"UTF-8\).*save it as \"CSV UTF-8\"",
        ),
        (  # a BOM says UTF-8, a cp1252 row says otherwise
            b"\xef\xbb\xbfpath,label\na.png,cat\nb\xe4d.png,dog\n",
            r"starts as UTF-8 but byte 0xE4 on line 3 is not UTF-8",
        ),
        (b"path,label\n\xff\xfe\x00\x01\x80\x81garbage\n", r"holds NUL bytes \(line 2\)"),
        (bytes(range(256)) * 4, r"holds NUL bytes \(line 1\)"),
        (b"PK\x03\x04\x14\x00\x06\x00", r"holds NUL bytes .*an Excel workbook \.xlsx"),
        (  # UTF-16 without its byte-order mark
            "path,label\na.png,cat\n".encode("utf-16-le"),
            r"holds NUL bytes .*UTF-16 without its byte-order mark",
        ),
    ],
    ids=["neither", "mixed", "bom-then-cp1252", "garbage", "all-bytes", "xlsx", "utf16-no-bom"],
)
def test_text_in_no_known_encoding_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(LabelerError, match=rf"cannot read {re.escape(str(path))}: .*{message}"):
        read_label_csv(path)


# -- path cells: as written, for the project to match in their spellings -------------------------


@pytest.mark.parametrize(
    ("cell", "spellings"),
    [
        ("sub/a.png", ["sub/a.png"]),
        (" a.png", [" a.png", "a.png"]),
        (" a.png ", [" a.png ", " a.png", "a.png ", "a.png"]),
        ("sub\\img 1.png", ["sub\\img 1.png", "sub/img 1.png"]),
        ("sub\\a.png\t", ["sub\\a.png\t", "sub\\a.png", "sub/a.png\t", "sub/a.png"]),
        ("a.png\u00a0", ["a.png\u00a0", "a.png"]),  # a no-break space from a web page
    ],
)
def test_path_spellings_most_literal_first(cell: str, spellings: list[str]) -> None:
    assert path_spellings(cell) == spellings
    assert plain_path(cell) == spellings[-1]


@pytest.mark.parametrize(
    ("cell", "windows"),
    [
        ("C:\\Users\\ana\\img.png", True),
        (" d:/scans/img.png", True),
        ("\\\\pacs\\share\\img.png", True),
        ("sub\\img.png", False),
        ("/data/img.png", False),
        ("C:img.png", False),  # relative to drive C's current folder: a plain file name here
    ],
)
def test_windows_paths_are_told_apart(cell: str, windows: bool) -> None:
    assert is_windows_path(cell) is windows


def test_excels_separator_line_above_the_header_is_skipped(tmp_path: Path) -> None:
    rows = read_label_csv(_write(tmp_path, "sep=,\r\npath,label\r\na.png,cat\r\nb.png,\r\n"))
    assert rows == LabelRows(pairs=[("a.png", "cat")], unlabeled=[4])  # lines as in the file
    assert rows.lines == [3]


@pytest.mark.parametrize(
    ("line", "delimiter"), [("sep=;", ";"), ("SEP=\t", "\t"), ("sep=|||", "|")]
)
def test_excels_separator_line_names_the_separator(
    tmp_path: Path, line: str, delimiter: str
) -> None:
    d = delimiter
    content = f"{line}\npath{d}label{d}note\na,1.png{d}cat{d}\nb.png{d}{d}x\n"
    rows = read_label_csv(_write(tmp_path, content))
    assert rows == LabelRows(pairs=[("a,1.png", "cat")], unlabeled=[4])


def test_a_separator_line_alone_is_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(LabelerError, match="is empty"):
        read_label_csv(_write(tmp_path, "sep=;\n"))


def test_escaped_path_cell_keeps_its_stray_spaces(tmp_path: Path) -> None:
    rows = read_label_csv(_write(tmp_path, "path,label\n '-x.png  , '-neg \n"))
    assert rows.pairs == [(" '-x.png  ", "-neg")]
    # The project tries it unescaped first, then as written; with and without the spaces.
    assert path_spellings(" '-x.png  ") == [
        *(" -x.png  ", " -x.png", "-x.png  ", "-x.png"),
        *(" '-x.png  ", " '-x.png", "'-x.png  ", "'-x.png"),
    ]


def test_annotator_and_labeled_at_columns_are_read_as_provenance(tmp_path: Path) -> None:
    content = (
        "path,label,source,annotator,labeled_at\n"
        "a.png,cat,human,dr who,2026-11-24T07:04:37Z\n"
        "b.png,dog,human,ana (accepted auto),2026-11-24T08:04:37+01:00\n"  # a bulk accept
        "c.png,dog,,,\n"  # filled in by hand: no provenance
        "d.png,cat,human,ana,2026-11-24 07:04\n"  # no zone: UTC, as our export writes
        "e.png,cat,human,ana,24/11/2026 07:04\n"  # rewritten by a spreadsheet: not a time
        "f.png,cat,human,ana,0001-01-01T00:00:00Z\n"  # the year keeps its four digits
        "a.png,cat,human,someone else,2020-01-01T00:00:00Z\n"  # repeated: the first is kept
    )
    rows = read_label_csv(_write(tmp_path, content))
    assert rows.pairs == [("a.png", "cat"), ("b.png", "dog"), ("c.png", "dog"), ("d.png", "cat"),
                          ("e.png", "cat"), ("f.png", "cat")]  # fmt: skip
    assert rows.provenance == [
        ("dr who", "2026-11-24T07:04:37Z"),
        ("ana (accepted auto)", "2026-11-24T07:04:37Z"),
        (None, None),
        ("ana", "2026-11-24T07:04:00Z"),
        ("ana", None),
        ("ana", "0001-01-01T00:00:00Z"),
    ]
    assert rows.unread_times == [6]


def test_a_bad_annotator_cell_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, f"path,label,annotator\na.png,cat, ana \nb.png,dog,{'x' * 101}\n")
    with pytest.raises(LabelerError, match=r"line 3, column annotator: annotator name 'xxx"):
        read_label_csv(path)
