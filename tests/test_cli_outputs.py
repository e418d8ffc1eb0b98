"""The command line's outputs and option ranges: exports never overwrite the project's own files
or anything but a regular file, write problems are one-line errors, suggest escapes formulas as
export does, and meaningless numbers are refused by the parser."""

from __future__ import annotations

import csv
import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from imagegen import write_colour_set

from labeler.cli import EXIT_BROKEN_PIPE, EXIT_ERROR, main
from labeler.cliargs import build_parser

FORMULA_NAMES = ["=a.png", "+b.png", "-c.png", "@d.png"]


def _label_first(proj: Path, tmp_path: Path, capsys) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\nimg_00000.png,red\n", encoding="utf-8")
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("command", ["export", "export-embeddings"])
@pytest.mark.parametrize(
    "name", ["labeler.sqlite", "labeler.sqlite-wal", "index.faiss", "vectors", "new.csv"]
)
def test_export_onto_the_projects_own_files_is_refused(
    error_line, proj: Path, tmp_path: Path, capsys, command: str, name: str
) -> None:
    _label_first(proj, tmp_path, capsys)
    before = {p: p.read_bytes() for p in proj.rglob("*") if p.is_file()}
    assert main([command, str(proj), str(proj / name)]) == EXIT_ERROR
    assert "inside the project folder" in error_line()
    assert {p: p.read_bytes() for p in proj.rglob("*") if p.is_file()} == before
    assert main(["status", str(proj)]) == 0
    assert "labeled: 1" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["export", "export-embeddings"])
@pytest.mark.parametrize("name", ["img_00000.png", "new.csv"])
def test_export_into_the_images_folder_is_refused(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys, command: str, name: str
) -> None:
    """`labeler export p imgs/im000.png` (a slip of tab completion) overwrote a labeled image."""
    folder, _ = colour_images
    _label_first(proj, tmp_path, capsys)
    before = {p: p.read_bytes() for p in folder.rglob("*")}
    assert main([command, str(proj), str(folder / name)]) == EXIT_ERROR
    assert "inside the images folder" in error_line()
    assert {p: p.read_bytes() for p in folder.rglob("*")} == before


def test_export_into_the_projects_exports_folder_works(proj: Path, capsys) -> None:
    (proj / "exports").mkdir()
    assert main(["export", str(proj), str(proj / "exports" / "labels.csv")]) == 0
    assert "wrote 24 rows" in capsys.readouterr().err


def test_export_for_excel_begins_with_a_byte_order_mark(
    proj: Path, colour_images, tmp_path: Path
) -> None:
    """Excel reads a CSV without the mark in the machine's code page: `Ödem` as `Ã–dem`."""
    first = sorted(colour_images[1])[0]
    labels = tmp_path / "l.csv"
    labels.write_text(f"path,label\n{first},Ödem\n", encoding="utf-8")
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    assert main(["export", str(proj), str(plain)]) == 0
    assert main(["export", str(proj), str(excel), "--excel"]) == 0
    assert plain.read_bytes().startswith(b"path,") and "Ödem" in plain.read_text("utf-8")
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()


@pytest.mark.parametrize("command", ["export", "export-embeddings"])
def test_export_into_the_projects_exports_folder_makes_it(proj: Path, capsys, command: str) -> None:
    assert not (proj / "exports").exists()
    assert main([command, str(proj), str(proj / "exports" / "x.out")]) == 0
    assert (proj / "exports" / "x.out").is_file()
    assert "wrote 24 " in capsys.readouterr().err


def test_export_into_a_missing_folder_under_exports_is_an_error(
    error_line, proj: Path, capsys
) -> None:
    out = proj / "exports" / "2024" / "x.csv"
    assert main(["export", str(proj), str(out)]) == EXIT_ERROR
    assert f"folder {out.parent.resolve()} does not exist; create it first" in error_line()
    assert not (proj / "exports").exists()  # only a file straight in exports/ makes that


@pytest.mark.parametrize("command", ["export", "export-embeddings"])
def test_export_onto_a_folder_is_a_one_line_error(
    error_line, proj: Path, tmp_path: Path, capsys, command: str
) -> None:
    (tmp_path / "somedir").mkdir()
    assert main([command, str(proj), str(tmp_path / "somedir")]) == EXIT_ERROR
    assert "is a folder" in error_line()
    assert list((tmp_path / "somedir").iterdir()) == []


@pytest.mark.parametrize("command", ["export", "export-embeddings"])
def test_export_below_a_file_says_it_is_a_file(
    error_line, proj: Path, tmp_path: Path, capsys, command: str
) -> None:
    (tmp_path / "out6.csv").write_text("an earlier export")
    assert main([command, str(proj), str(tmp_path / "out6.csv" / "x.csv")]) == EXIT_ERROR
    line = error_line()
    assert f"{(tmp_path / 'out6.csv').resolve()} is a file, not a folder" in line
    assert "does not exist" not in line
    assert (tmp_path / "out6.csv").read_text() == "an earlier export"


@pytest.mark.parametrize("excel", [False, True])
def test_export_to_dash_writes_the_csv_to_stdout(
    proj: Path, tmp_path: Path, capsys, excel: bool
) -> None:
    flag = ["--excel"] if excel else []
    assert main(["export", str(proj), str(tmp_path / "file.csv"), *flag]) == 0
    capsys.readouterr()
    assert main(["export", str(proj), "-", *flag]) == 0
    out, err = capsys.readouterr()
    assert err == "wrote 24 rows to stdout\n"
    assert not (Path.cwd() / "-").exists()
    in_file = (tmp_path / "file.csv").read_bytes().decode("utf-8")
    assert out == in_file.replace("\r\n", "\n")  # lines end as suggest's do
    assert out.startswith("\ufeffpath," if excel else "path,")


def test_export_embeddings_to_dash_is_refused(error_line, proj: Path, capsys) -> None:
    assert main(["export-embeddings", str(proj), "-"]) == EXIT_ERROR
    assert "binary .npz file, which cannot go to stdout" in error_line()
    assert capsys.readouterr().out == ""
    assert not (Path.cwd() / "-").exists()


def test_export_to_an_empty_path_is_refused_by_the_parser(proj: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["export", str(proj), ""])
    assert e.value.code != 0
    assert "expected a file name" in capsys.readouterr().err


def test_init_where_no_folder_can_be_made_is_a_one_line_error(
    error_line, tmp_path: Path, colour_images, capsys
) -> None:
    folder, _ = colour_images
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "proj"
    assert main(["init", str(out), "--images", str(folder), "--backbone", "fake"]) == EXIT_ERROR
    assert str(out) in error_line()


def _refuse_replacing(monkeypatch, name: str) -> None:
    """Make moving a written file into place as `name` fail, as in a read-only project folder."""
    replace = os.replace

    def refusing(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(src), None, str(dst))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", refusing)


@pytest.mark.parametrize(
    ("command", "name"), [("predict", "knn_graph.npz"), ("init", "index.faiss")]
)
def test_a_project_file_that_cannot_be_written_is_named_not_its_temporary(
    proj: Path, colour_images, tmp_path: Path, capsys, monkeypatch, command, name
) -> None:
    _, truth = colour_images
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"{p},{truth[p]}\n" for p in sorted(truth)))
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    (proj / name).unlink(missing_ok=True)  # predict writes the graph once, then reads it
    capsys.readouterr()
    _refuse_replacing(monkeypatch, name)
    assert main([command, str(proj)]) == EXIT_ERROR
    assert capsys.readouterr().err.splitlines()[-1] == (  # after init's progress bars
        f"labeler: error: cannot write {proj / name} (read-only file system); check that the "
        "project folder is writable and its disk not full, then run the command again"
    )
    assert not [p.name for p in proj.iterdir() if p.name.startswith(f".{name}")]  # no temporary


def test_suggest_escapes_formulas_and_label_maps_them_back(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "images"
    truth = write_colour_set(folder, 8)
    for old, new in zip(sorted(truth)[::6], FORMULA_NAMES, strict=True):
        (folder / old).rename(folder / new)
        truth[new] = truth.pop(old)
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    capsys.readouterr()
    assert main(["suggest", str(proj), "-n", str(len(truth))]) == 0
    suggested = [r["path"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    escaped = [p for p in suggested if p.startswith("'")]
    assert escaped and {p[1:] for p in escaped} <= set(FORMULA_NAMES)
    assert not set(suggested) & set(FORMULA_NAMES)  # none raw
    filled = tmp_path / "filled.csv"  # the suggest file, a label filled in on each row
    with filled.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [("path", "label")] + [(p, truth[p.removeprefix("'")]) for p in suggested]
        )
    assert main(["label", str(proj), "--csv", str(filled)]) == 0
    assert f"{len(suggested)} labels set" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["export", str(proj), str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        human = {r["path"]: r["label"] for r in csv.DictReader(f) if r["source"] == "human"}
    assert human == {p: truth[p.removeprefix("'")] for p in suggested}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["suggest", "P", "-n", "5", "--seed", "-1"], "at least 0, got -1"),
        (["suggest", "P", "-n", "5", "--seed", "x"], "expected a whole number"),
        (["init", "P", "--images", "D", "--image-size", "100000"], "16 to 1024 pixels"),
        (["init", "P", "--images", "D", "--image-size", "8"], "16 to 1024 pixels"),
        (["finetune", "P", "--minutes", "0"], "above 0, got '0'"),
        (["finetune", "P", "--minutes", "-1"], "above 0"),
        (["finetune", "P", "--minutes", "nan"], "above 0"),
        (["finetune", "P", "--minutes", "inf"], "above 0"),
        (["finetune", "P", "--blocks", "-5"], "-1 for all of them, got -5"),
        (["finetune", "P", "--blocks", "-2"], "-1 for all of them, got -2"),
        (["serve", "P", "--port", "99999"], "expected a port from 1 to 65535, got 99999"),
        (["serve", "P", "--port", "0"], "expected a port from 1 to 65535, got 0"),
        (["serve", "P", "--port", "http"], "expected a whole number, got 'http'"),
    ],
)
def test_meaningless_numbers_are_refused_by_the_parser(argv, message: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code != 0
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "name", "value"),
    [
        (["suggest", "P", "-n", "5", "--seed", "0"], "seed", 0),
        (["init", "P", "--images", "D", "--image-size", "1024"], "image_size", 1024),
        (["init", "P", "--images", "D", "--image-size", "16"], "image_size", 16),
        (["finetune", "P", "--minutes", "0.5"], "minutes", 0.5),
        (["finetune", "P", "--blocks", "0"], "blocks", 0),  # only the layers after the blocks
        (["finetune", "P", "--blocks", "-1"], "blocks", -1),  # the whole backbone
        (["serve", "P", "--port", "1"], "port", 1),
        (["serve", "P", "--port", "65535"], "port", 65535),
    ],
)
def test_meaningful_numbers_at_the_edges_are_accepted(argv, name: str, value) -> None:
    assert getattr(build_parser().parse_args(argv), name) == value


def _run_into_a_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess:
    """`python -m labeler ARGV` with stdout a pipe whose reader is gone (as `| head -1` leaves
    it once it has read its line): every write to it fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "labeler", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "argv", [["suggest", "{proj}", "-n", "20"], ["status", "{proj}"], ["export", "{proj}", "-"]]
)
def test_a_reader_that_stops_early_ends_the_command_quietly(proj: Path, argv) -> None:
    done = _run_into_a_closed_pipe([a.format(proj=proj) for a in argv])
    assert done.stderr == ""  # no BrokenPipeError traceback
    assert done.returncode == EXIT_BROKEN_PIPE


@pytest.mark.parametrize("argv", [["suggest", "{proj}", "-n", "30"], ["export", "{proj}", "-"]])
def test_csv_on_stdout_is_utf8_whatever_the_locale(proj: Path, colour_images, argv) -> None:
    """Redirected on Windows, stdout is in the code page (cp1252), which has no Cyrillic."""
    folder, _ = colour_images
    for image in folder.glob("*.png"):
        image.rename(folder / f"снимок {image.name}")
    assert main(["init", str(proj)]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "labeler", *(a.format(proj=proj) for a in argv)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "cp1252"},
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "\nснимок img_" in done.stdout.decode("utf-8")


def test_reading_a_project_imports_no_torch(proj: Path) -> None:
    """status, curve and a rescan that finds nothing new read cached vectors: torch (a second to
    import, 600 MB) is left for the commands that embed or train."""
    code = (
        "import sys\n"
        "from labeler.cli import main\n"
        f"assert main(['init', {str(proj)!r}]) == 0\n"
        f"assert main(['status', {str(proj)!r}]) == 0\n"
        f"assert main(['curve', {str(proj)!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_status_is_readable(proj: Path, tmp_path: Path, capsys) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        'path,label\nimg_00000.png,"red, dark"\nimg_00001.png,"red, dark"\nimg_01000.png,green\n',
        encoding="utf-8",
    )
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    capsys.readouterr()
    assert main(["status", str(proj)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "labeled: 3" in lines
    at = lines.index("classes: 2")
    assert lines[at + 1 : at + 3] == ["  red, dark: 2 labels", "  green: 1 label"]
    assert "last_prediction: never (run `labeler predict`)" in lines
    assert any(line.startswith("estimated_accuracy: none yet (") for line in lines)
    assert not [line for line in lines if "None" in line]


@pytest.mark.parametrize(
    ("command", "snippets"),
    [
        (
            "label",
            [
                "columns path,label",
                "relative to the project's images folder, or absolute",
                "commas, semicolons or tabs",
                "--annotator NAME name recorded with each label whose annotator cell is empty or "
                "absent (default expert)",
                "examples: labeler suggest",
            ],
        ),
        (
            "suggest",
            [
                "-n N images to suggest",
                "--seed N random seed (default 0)",
                "Written to stdout (redirect it to a file)",
                "example: labeler suggest runs/cells -n 20 > next.csv",
            ],
        ),
        ("predict", ["auto (default) or one of: adapter,", "protonet-euclidean", "examples:"]),
        (
            "init",
            [
                "--device {auto,cpu,cuda,mps} where the network runs (default auto: a CUDA GPU",
                "--batch-size N images embedded at once (default 64)",
                "--images may be left out",
                "examples:",
            ],
        ),
        ("serve", ["--port N 1 to 65535 (default 7860)", "add --auth", "examples:"]),
        ("export", ["but for its exports/ folder", "examples: labeler export", "--excel"]),
        ("status", ["PROJECT the project folder (made by `labeler init`)"]),
        ("class", ["labeler class runs/cells rename -- -neg negative # a name that begins"]),
    ],
)
def test_help_says_what_the_options_take(command: str, snippets: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # as argparse wraps it, on one line
    for snippet in snippets:
        assert snippet in text


def test_a_class_name_that_begins_with_a_dash_is_told_to_go_after_two_dashes(capsys) -> None:
    """argparse reads `-neg` as an unknown option; the refusal says how to pass it."""
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["class", "P", "rename", "-neg", "negative"])
    assert e.value.code != 0
    assert capsys.readouterr().err.endswith(
        "labeler: error: unrecognized arguments: -neg; a class name that begins with '-' goes "
        "after `--`, e.g. `labeler class runs/cells rename -- -neg negative`\n"
    )
    args = build_parser().parse_args(["class", "P", "rename", "--", "-neg", "negative"])
    assert args.names == ["-neg", "negative"]
    with pytest.raises(SystemExit):  # other commands: argparse's own words
        build_parser().parse_args(["status", "P", "-neg"])
    assert capsys.readouterr().err.endswith("labeler: error: unrecognized arguments: -neg\n")


@pytest.mark.parametrize(
    ("n", "noun", "many", "said"),
    [
        (0, "label", None, "0 labels"),
        (1, "label", None, "1 label"),
        (2, "label", None, "2 labels"),
        (1, "class", "classes", "1 class"),
        (3, "class", "classes", "3 classes"),
    ],
)
def test_plural_counts_a_noun(n: int, noun: str, many, said: str) -> None:
    from labeler.wording import plural

    assert plural(n, noun, many) == said


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (0, ""),
        (1, " (1 file has the same content as another: one vector for both)"),
        (3, " (3 files have the same content as other files: they share their vectors)"),
    ],
)
def test_same_content_says_why_fewer_were_embedded(n: int, said: str) -> None:
    from labeler.wording import same_content

    assert same_content(n) == said
