"""Tests for labeler.export: cell escaping, the labels CSV, atomic writes, embeddings .npz."""

from __future__ import annotations

import csv
import errno
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.export import (
    CSV_COLUMNS,
    EXPORTS_DIR,
    check_outside_project,
    escape_cell,
    write_csv,
    write_embeddings,
    write_rows,
    write_table,
)


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


def test_write_rows_to_a_stream_escapes_like_the_file_export() -> None:
    f = io.StringIO()
    rows = [{"path": "=a.png", "score": -0.5}, {"path": "b.png", "reason": "@x"}]
    assert write_rows(f, rows, columns=["path", "reason", "score"], lineterminator="\n") == 2
    assert f.getvalue() == "path,reason,score\n'=a.png,,-0.5\nb.png,'@x,\n"


def test_export_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to("real.csv")
    write_csv(link, [{"path": "a.png", "label": "cat"}])
    assert link.is_symlink() and link.readlink() == Path("real.csv")
    assert _read(target)[1][:2] == ["a.png", "cat"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_export_through_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.npz"
    link.symlink_to("made.npz")
    write_embeddings(link, ["a.png"], np.ones((1, 2)))
    assert link.is_symlink() and (tmp_path / "made.npz").is_file()


def test_export_onto_a_folder_pipe_or_device_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for out, kind in [(tmp_path, "a folder"), (fifo, "not a regular file")]:
        with pytest.raises(LabelerError, match=f"cannot write {out}: it is {kind}"):
            write_csv(out, [{"path": "a.png"}])
        with pytest.raises(LabelerError, match=kind):
            write_embeddings(out, ["a.png"], np.zeros((1, 2)))
    assert fifo.is_fifo() and sorted(tmp_path.iterdir()) == [fifo]
    if Path("/dev/null").exists():
        with pytest.raises(LabelerError, match="not a regular file"):
            write_csv(Path("/dev/null"), [{"path": "a.png"}])
        assert Path("/dev/null").is_char_device()


def test_unwritable_folder_is_a_labeler_error(tmp_path: Path, monkeypatch) -> None:
    def refuse(**_):  # root may write anywhere, so the folder's refusal is simulated
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(LabelerError, match=r"cannot write .*out\.csv: permission denied"):
        write_csv(tmp_path / "out.csv", [{"path": "a.png"}])
    assert list(tmp_path.iterdir()) == []


def test_failed_move_into_place_is_a_labeler_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(LabelerError, match="no space left on device"):
        write_embeddings(tmp_path / "e.npz", ["a.png"], np.zeros((1, 2)))
    assert list(tmp_path.iterdir()) == []


def test_check_outside_project_refuses_the_projects_own_files(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / EXPORTS_DIR).mkdir(parents=True)
    (project / "labeler.sqlite").write_bytes(b"db")
    link = tmp_path / "innocent.csv"
    link.symlink_to(project / "labeler.sqlite")
    for out in [
        project / "labeler.sqlite",
        project / "labeler.sqlite-wal",
        project / "vectors" / "x.npy",
        project,
        project / "sub" / ".." / "labels.csv",
        link,
    ]:
        with pytest.raises(LabelerError, match="inside the project folder"):
            check_outside_project(out, project)
    check_outside_project(project / EXPORTS_DIR / "labels.csv", project)
    check_outside_project(tmp_path / "labels.csv", project)
    check_outside_project(tmp_path / "proj2.csv", project)  # a name that only starts alike


def test_check_outside_project_makes_the_exports_folder_and_only_that(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    check_outside_project(tmp_path / "labels.csv", project)
    check_outside_project(project / EXPORTS_DIR / "sub" / "labels.csv", project)
    assert list(project.iterdir()) == []  # a file elsewhere, or deeper, makes no folder
    check_outside_project(project / EXPORTS_DIR / "labels.csv", project)
    assert [p.name for p in project.iterdir()] == [EXPORTS_DIR]
    assert (project / EXPORTS_DIR).is_dir()
    check_outside_project(project / EXPORTS_DIR / "labels.csv", project)  # there already


def test_check_outside_project_where_exports_cannot_be_made_is_a_labeler_error(
    tmp_path: Path,
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / EXPORTS_DIR).write_text("a file in the way")
    with pytest.raises(LabelerError, match=r"cannot create .*exports .*outside the project"):
        check_outside_project(project / EXPORTS_DIR / "labels.csv", project)
