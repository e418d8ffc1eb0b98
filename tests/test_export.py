"""Tests for labeler.export: cell escaping, the labels CSV, atomic writes, embeddings .npz."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.export import CSV_COLUMNS, escape_cell, write_csv, write_embeddings, write_table


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+x", "'+x"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('=HYPERLINK("http://e.vil")', '\'=HYPERLINK("http://e.vil")'),
        ("normal text", "normal text"),
        ("a=b", "a=b"),
        ("dir/img-1.png", "dir/img-1.png"),
        ("日本語", "日本語"),
        ("", ""),
        (None, ""),
        (0.123456789, "0.123457"),
        (-0.5, "-0.5"),
        (1e-7, "1e-07"),
        (np.float64(0.25), "0.25"),
        (np.float32(-0.5), "-0.5"),
        (3, "3"),
        (-3, "-3"),
        (np.int64(42), "42"),
    ],
)
def test_escape_cell(value: object, expected: str) -> None:
    assert escape_cell(value) == expected


def test_write_csv_columns_then_extra_columns(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    rows = [
        {  # keys in no particular order, one not exported, several missing
            "cluster": 3,
            "label": "cat",
            "path": "a/1.png",
            "source": "human",
            "annotator": "ann",
            "ignored": "x",
        },
        {
            "path": "b/2.png",
            "label": "=cmd",
            "source": "auto",
            "confidence": 0.87654321,
            "margin": -0.25,
            "method": "protonet",
            "model": "lite0@112",
        },
    ]
    assert write_csv(out, rows, extra_columns=["cluster", "path"]) == 2
    header, *body = _read(out)
    assert header == [*CSV_COLUMNS, "cluster"]
    assert header[:4] == ["path", "label", "source", "confidence"]
    assert [dict(zip(header, r, strict=True)) for r in body] == [
        {
            "path": "a/1.png",
            "label": "cat",
            "source": "human",
            "confidence": "",
            "margin": "",
            "method": "",
            "model": "",
            "annotator": "ann",
            "labeled_at": "",
            "cluster": "3",
        },
        {
            "path": "b/2.png",
            "label": "'=cmd",
            "source": "auto",
            "confidence": "0.876543",
            "margin": "-0.25",
            "method": "protonet",
            "model": "lite0@112",
            "annotator": "",
            "labeled_at": "",
            "cluster": "",
        },
    ]


def test_write_csv_quotes_commas_newlines_and_keeps_unicode(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    write_csv(out, [{"path": "x, y.png", "label": 'say "hi"\nbye'}, {"path": "ä/ß.png"}])
    _, first, second = _read(out)
    assert first[:2] == ["x, y.png", 'say "hi"\nbye']
    assert second[0] == "ä/ß.png"


def test_write_csv_with_no_rows_writes_the_header(tmp_path: Path) -> None:
    out = tmp_path / "empty.csv"
    assert write_csv(out, iter(())) == 0
    assert _read(out) == [list(CSV_COLUMNS)]


def test_failed_export_leaves_no_file_and_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"

    def rows():
        yield {"path": "a.png", "label": "cat"}
        yield {"path": "b.png", "label": "dog"}
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_csv(out, rows())
    assert list(tmp_path.iterdir()) == []


def test_failed_export_keeps_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    write_csv(out, [{"path": "old.png", "label": "cat"}])
    before = out.read_bytes()

    def rows():
        yield {"path": "new.png", "label": "dog"}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_csv(out, rows())
    assert out.read_bytes() == before
    assert list(tmp_path.iterdir()) == [out]


def test_export_to_a_missing_folder_is_a_labeler_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "labels.csv"
    with pytest.raises(LabelerError, match="does not exist"):
        write_csv(missing, [{"path": "a.png"}])
    with pytest.raises(LabelerError, match="does not exist"):
        write_embeddings(missing.with_suffix(".npz"), ["a.png"], np.zeros((1, 2)))
    assert not (tmp_path / "no").exists()


def test_write_embeddings_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "emb.npz"
    paths = ["a/1.png", "b/ü 2.png", "c.png"]
    emb = np.random.default_rng(0).normal(size=(3, 5))  # float64 in, float32 out
    write_embeddings(out, paths, emb)
    with np.load(out) as data:  # no pickle needed
        assert sorted(data.files) == ["embeddings", "paths"]
        assert data["paths"].tolist() == paths
        assert data["embeddings"].dtype == np.float32
        assert data["embeddings"].shape == (3, 5)
        np.testing.assert_allclose(data["embeddings"], emb.astype(np.float32))
    assert list(tmp_path.iterdir()) == [out]


def test_write_table_escapes_cells(tmp_path: Path) -> None:
    out = tmp_path / "skipped.csv"
    n = write_table(out, ["path", "reason"], [("a.png", "truncated"), ("-b.png", "=bad")])
    assert n == 2
    assert _read(out) == [["path", "reason"], ["a.png", "truncated"], ["'-b.png", "'=bad"]]


def test_write_table_with_a_ragged_row_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "skipped.csv"
    with pytest.raises(ValueError):
        write_table(out, ["path", "reason"], [("a.png", "ok"), ("b.png",)])
    assert list(tmp_path.iterdir()) == []
