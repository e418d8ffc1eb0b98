"""Tests for labeler.labelcsv: reading the experts' path,label CSV; clear errors on bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeler.errors import LabelerError
from labeler.export import escape_cell
from labeler.labelcsv import LabelRows, read_label_csv


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
    assert read_label_csv(path).pairs == [
        ("a/1.png", "cat"),
        ("b/2.png", "dog"),
        ("c/ü 3.png", "Äpfel und Birnen"),
    ]
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


@pytest.mark.parametrize("header", ["path;label", "path\tlabel", "path,label;note"])
def test_other_separators_get_a_hint(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, f"{header}\nx.png;cat\n")
    with pytest.raises(LabelerError, match="must be comma-separated"):
        read_label_csv(path)


def test_missing_columns_without_separator_have_no_hint(tmp_path: Path) -> None:
    with pytest.raises(LabelerError, match=r"path,label$"):
        read_label_csv(_write(tmp_path, "file,label\nx.png,cat\n"))


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


@pytest.mark.parametrize(
    "text",
    ["-neg", "+ control", "=SUM(A1)", "@home.png", "'quoted.png", "''twice", "'-both", "plain"],
)
def test_cells_escaped_by_our_exports_read_back_as_written(tmp_path: Path, text: str) -> None:
    content = f"path,label\n{escape_cell(text)},{escape_cell(text)}\n"
    assert read_label_csv(_write(tmp_path, content)).pairs == [(text, text)]


def test_export_writer_and_reader_round_trip_awkward_cells(tmp_path: Path) -> None:
    import io

    from labeler.export import write_rows

    texts = ["\tindented", "\rcr", "=", "'", "-", "two\nlines", '"quoted", too', "-\n=x"]
    rows = [{"path": f"{text}.png", "label": text} for text in texts]
    out = io.StringIO()
    write_rows(out, rows, columns=("path", "label"))
    pairs = read_label_csv(_write(tmp_path, out.getvalue())).pairs
    assert pairs == [(f"{text}.png", text) for text in texts]


def test_a_hundred_thousand_rows_are_read_fast(tmp_path: Path) -> None:
    import time

    body = "".join(f"images/{i:06d}.png,class {i % 7}\r\n" for i in range(100_000))
    path = _write(tmp_path, "path,label\r\n" + body + "images/000001.png,\r\n")
    start = time.perf_counter()
    rows = read_label_csv(path)
    assert time.perf_counter() - start < 5.0  # about 0.3 s; a quadratic step would take minutes
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


def test_apostrophe_before_other_text_is_kept(tmp_path: Path) -> None:
    content = "path,label\n'a.png,'t Hooft\n"  # not something our export escaped
    assert read_label_csv(_write(tmp_path, content)).pairs == [("'a.png", "'t Hooft")]


def test_conflicting_labels(tmp_path: Path) -> None:
    path = _write(tmp_path, "path,label\na.png,cat\nb.png,dog\n a.png ,dog\n")
    with pytest.raises(LabelerError, match=r"line 4: 'a\.png' is labeled both 'cat' and 'dog'"):
        read_label_csv(path)


def test_ragged_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "path,note,label\na.png,x,cat\nb.png\n")
    with pytest.raises(LabelerError, match="line 3: expected 3 cells, got 1"):
        read_label_csv(path)


def test_short_row_without_trailing_optional_cells_is_fine(tmp_path: Path) -> None:
    path = _write(tmp_path, "path,label,note\na.png,cat\n")
    assert read_label_csv(path).pairs == [("a.png", "cat")]


@pytest.mark.parametrize(
    "content",
    [
        b"path,label\n\xff\xfe\x00\x01\x80\x81garbage\n",
        bytes(range(256)) * 4,
        "path,label\ncaf\u00e9.png,cat\n".encode("latin-1"),  # not UTF-8
    ],
    ids=["garbage-after-header", "all-bytes", "latin-1"],
)
def test_binary_garbage(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(LabelerError, match=r"cannot read .* as a UTF-8 CSV file .* as CSV UTF-8"):
        read_label_csv(path)


def test_excels_separator_line_above_the_header_is_skipped(tmp_path: Path) -> None:
    rows = read_label_csv(_write(tmp_path, "sep=,\r\npath,label\r\na.png,cat\r\nb.png,\r\n"))
    assert rows == LabelRows(pairs=[("a.png", "cat")], unlabeled=[4])  # lines as in the file


def test_a_semicolon_separator_line_still_gets_the_separator_hint(tmp_path: Path) -> None:
    with pytest.raises(LabelerError, match="must be comma-separated"):
        read_label_csv(_write(tmp_path, "sep=;\npath;label\na.png;cat\n"))
