"""Matching the path cells of an expert's label CSV to a project's images (the fake embedder).

Planted: files whose names a Windows or Excel user spells differently (backslashes, stray
spaces), and pairs of files that such a spelling could confuse; each cell must reach the image
it names, or be refused, never reach another one.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from imagegen import COLOURS, coloured

from labeler.cli import EXIT_ERROR, main
from labeler.errors import LabelerError
from labeler.export import escape_cell
from labeler.project import Project
from labeler.wording import quoted

NAMES = (
    "sub/img 1.png",
    " lead.png",  # a real leading space, and no "lead.png"
    "twin.png",  # ... and its twin with a leading space
    " twin.png",
    "back\\slash.png",  # a real backslash (Linux allows it), and no "back/slash.png"
    "pair\\x.png",  # ... and a folder twin
    "pair/x.png",
    "-x.png",  # ... and a file whose name starts with an apostrophe before a formula sign
    "'-x.png",
    "'=y.png",  # ... and one with no twin
    "bäd.png",
    "Müller.png",
)


@pytest.fixture
def awkward(tmp_path: Path) -> Project:
    """A project on NAMES, one seeded image each."""
    folder = tmp_path / "images"
    for seed, name in enumerate(NAMES):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        coloured(COLOURS["red"], seed=seed).save(folder / name)
    project, _ = Project.init(tmp_path / "proj", images=folder, backbone="fake", progress=False)
    assert sorted(r["path"] for r in project.export_rows()) == sorted(NAMES)
    yield project
    project.close()


def _labels(project: Project) -> dict[str, str]:
    return {r["path"]: r["label"] for r in project.export_rows() if r.get("source") == "human"}


def _import(
    project: Project, tmp_path: Path, rows: list[tuple[str, str]], encoding: str = "utf-8"
) -> int:
    """Import `rows` as a comma-separated label CSV, each path quoted, saved in `encoding`."""
    csv_path = tmp_path / "labels.csv"
    text = "path,label\r\n" + "".join(f'"{p}",{label}\r\n' for p, label in rows)
    csv_path.write_bytes(text.encode(encoding))
    return project.import_labels(csv_path).changed


@pytest.mark.parametrize(
    ("cell", "image"),
    [
        ("sub\\img 1.png", "sub/img 1.png"),  # typed on Windows
        ("  sub\\img 1.png ", "sub/img 1.png"),  # ... in a cell with stray spaces
        ("sub/img 1.png\t", "sub/img 1.png"),
        (" lead.png", " lead.png"),  # the real name, spaces and all
        (" lead.png  ", " lead.png"),  # ... with a stray space after it
        ("twin.png", "twin.png"),  # no space: only one image it can be
        ("twin.png ", "twin.png"),  # spaces are removed, never added: not " twin.png"
        ("back\\slash.png", "back\\slash.png"),  # a real backslash, with no folder twin
        ("pair/x.png", "pair/x.png"),
        (" pair/x.png", "pair/x.png"),
        (escape_cell("'-x.png"), "'-x.png"),  # as our export writes it: ''-x.png
        ("'=y.png", "'=y.png"),  # as written: no "=y.png" that our export would write so
        (f" {escape_cell('=y.png')}  ", "'=y.png"),  # ... with stray spaces
        (unicodedata.normalize("NFD", " Müller.png"), "Müller.png"),  # macOS's form, a space
    ],
)
def test_a_cell_reaches_the_image_it_names(
    awkward: Project, tmp_path: Path, cell: str, image: str
) -> None:
    assert _import(awkward, tmp_path, [(cell, "red")]) == 1
    assert _labels(awkward) == {image: "red"}


@pytest.mark.parametrize(
    ("cell", "images"),
    [
        (" twin.png", [" twin.png", "twin.png"]),  # as written, and without the space
        (" twin.png\t", [" twin.png", "twin.png"]),
        ("pair\\x.png", ["pair\\x.png", "pair/x.png"]),  # as written, and with / for \\
        # As our export writes -x.png, and as written: a file "'-x.png" is there too.
        (escape_cell("-x.png"), ["-x.png", "'-x.png"]),
        (f" {escape_cell('-x.png')}  ", ["-x.png", "'-x.png"]),
    ],
)
def test_a_cell_that_could_be_two_images_is_refused(
    awkward: Project, tmp_path: Path, cell: str, images: list[str]
) -> None:
    rows = [("sub/img 1.png", "red"), (cell, "blue")]
    with pytest.raises(LabelerError) as refused:
        _import(awkward, tmp_path, rows)
    message = str(refused.value)
    assert f"labels.csv: the path {quoted(cell)} names more than one image, " in message
    assert " or label it in the browser; nothing was imported" in message
    assert all(quoted(image) in message for image in images)
    assert _labels(awkward) == {}


def test_spaces_are_removed_never_added(awkward: Project, tmp_path: Path) -> None:
    with pytest.raises(
        LabelerError, match=r"1 path with no image in this project, e\.g\. 'lead\.png'"
    ):
        _import(awkward, tmp_path, [("lead.png", "red")])  # the image is " lead.png"


@pytest.mark.parametrize(
    ("cell", "meant"),
    [
        ("MÜLLER.png", "Müller.png"),  # in other case
        ("sub/img  1.png", "sub/img 1.png"),  # two spaces for one
        ("images/sub/img 1.png", "sub/img 1.png"),  # from above the images folder
        ("lead.png", " lead.png"),  # spaces are never added, but said
    ],
)
def test_a_path_of_no_image_names_the_one_meant_and_its_line(
    awkward: Project, tmp_path: Path, cell: str, meant: str
) -> None:
    with pytest.raises(LabelerError) as refused:
        _import(awkward, tmp_path, [("bäd.png", "red"), (cell, "red")])
    message = str(refused.value)
    assert message.startswith(
        f"{tmp_path / 'labels.csv'}, line 3: 1 path with no image in this project, e.g. "
        f"{quoted(cell)} (did you mean {quoted(meant)}?)"
    )
    assert _labels(awkward) == {}


def test_the_api_takes_paths_as_given(awkward: Project) -> None:
    """`label` (the UI, scripts) gets the project's own paths: no spelling is guessed."""
    assert awkward.label([(" twin.png", "red"), ("pair\\x.png", "blue"), ("'-x.png", "red")]) == 3
    assert _labels(awkward) == {" twin.png": "red", "pair\\x.png": "blue", "'-x.png": "red"}
    with pytest.raises(LabelerError, match=r"no image in this project, e.g. 'sub\\img 1"):
        awkward.label([("sub\\img 1.png", "red")])


def test_two_spellings_of_one_image_with_two_labels_are_refused(
    awkward: Project, tmp_path: Path
) -> None:
    rows = [("sub/img 1.png", "red"), (" sub\\img 1.png", "blue")]
    with pytest.raises(LabelerError, match=r"line 3: ' sub\\img 1\.png' is labeled both 'red'"):
        _import(awkward, tmp_path, rows)
    assert _labels(awkward) == {}


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_windows_encodings_reach_the_images(
    awkward: Project, tmp_path: Path, encoding: str
) -> None:
    rows = [("bäd.png", "Ödem"), ("Müller.png", "Läsion")]
    assert _import(awkward, tmp_path, rows, encoding=encoding) == 2
    assert _labels(awkward) == {"bäd.png": "Ödem", "Müller.png": "Läsion"}


@pytest.mark.parametrize(
    "cell", ["C:\\Users\\ana\\images\\sub\\img 1.png", "\\\\pacs\\share\\img 1.png"]
)
def test_a_windows_path_is_named_as_one(
    awkward: Project, tmp_path: Path, error_line, cell: str
) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(f"path,label\n{cell},red\n", encoding="utf-8")
    assert main(["label", str(awkward.path), "--csv", str(csv_path)]) == EXIT_ERROR
    line = error_line()
    assert f"e.g. {quoted(cell)} (a path on a Windows machine, which names no file here);" in line
    assert f"paths must be relative to {awkward.images_root} or absolute inside it" in line
    assert _labels(awkward) == {}


def test_a_windows_path_among_other_unknown_ones_is_named(awkward: Project) -> None:
    unknown = [("ghost.png", "red"), ("D:/scans/img 1.png", "red")]
    with pytest.raises(
        LabelerError,
        match=r"e\.g\. 'ghost\.png'; also 'D:/scans/img 1\.png'; 'D:/scans/img 1\.png' is a path "
        r"on a Windows machine, which names no file here; paths must be relative",
    ):
        awkward.label(unknown, csv_cells=True)


def test_a_hidden_file_is_said_to_be_left_out_by_scans(awkward: Project, tmp_path: Path) -> None:
    folder = awkward.images_root
    (folder / ".hidden.png").write_bytes((folder / "twin.png").read_bytes())
    (folder / ".cache").mkdir()
    for cell in (".hidden.png", ".cache/x.png"):
        with pytest.raises(LabelerError, match=r"a hidden file or folder.*scans leave those out"):
            _import(awkward, tmp_path, [(cell, "red")])


def test_a_file_renumbered_since_the_scan_is_refused_not_labeled(
    awkward: Project, tmp_path: Path, error_line
) -> None:
    """PACS re-exports renumber files: labeling by name before a rescan would label the image
    the name held at the scan, not the one the expert looked at. Refused, naming the file;
    after a rescan the label reaches the image now there."""
    folder = awkward.images_root
    a, b = folder / "twin.png", folder / "bäd.png"
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,label\nMüller.png,red\ntwin.png,blue\n", encoding="utf-8")
    assert main(["label", str(awkward.path), "--csv", str(csv_path)]) == EXIT_ERROR
    line = error_line()
    assert "labels.csv, line 3: 1 image changed on disk since the folder was last scanned" in line
    assert "e.g. 'twin.png'" in line and "to rescan the folder" in line
    assert line.endswith("nothing was imported")
    with pytest.raises(LabelerError, match=r"changed on disk.*e\.g\. 'bäd\.png'"):
        awkward.label([("bäd.png", "red")])
    assert _labels(awkward) == {}
    rescanned, _ = Project.init(awkward.path, images=folder, progress=False)
    rescanned.close()
    assert main(["label", str(awkward.path), "--csv", str(csv_path)]) == 0
    assert _labels(awkward) == {"twin.png": "blue", "Müller.png": "red"}  # sees the rescan
