"""A failed or interrupted `init` leaves no half-made project; unfinished ones are named as such."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from fakes import FAKE_SIZE, FakeEmbedder
from imagegen import COLOURS, coloured

from labeler import config
from labeler.errors import LabelerError, ProjectNotFound
from labeler.project import Project


def _init(path: Path, images: Path, **options) -> Project:
    project, _ = Project.init(path, images=images, progress=False, **options)
    return project


def _interrupt(self) -> None:
    raise KeyboardInterrupt  # Ctrl-C at the very end: database, vectors, skipped.csv all written


def _ctrl_c_after(batches: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the fake embedder's forward raise KeyboardInterrupt after `batches` batches."""
    calls = []
    forward = FakeEmbedder.forward

    def interrupted(self, batch):
        calls.append(len(batch))
        if len(calls) > batches:
            raise KeyboardInterrupt
        return forward(self, batch)

    monkeypatch.setattr(FakeEmbedder, "forward", interrupted)
    monkeypatch.setattr(config, "EMBED_CHECKPOINT_IMAGES", 4)


@pytest.mark.parametrize("first", [True, False], ids=["first-init", "rescan"])
def test_ctrl_c_while_embedding_keeps_the_vectors_made(
    tmp_path: Path, colour_images, monkeypatch: pytest.MonkeyPatch, first: bool
) -> None:
    folder, truth = colour_images
    path = tmp_path / "runs" / "pa"
    if not first:  # a project whose folder gets 12 more images
        held = {name: tmp_path / f"held-{i}.png" for i, name in enumerate(sorted(truth)[:12])}
        for name, away in held.items():
            (folder / name).rename(away)
        _init(path, folder, backbone="fake").close()
        for name, away in held.items():
            away.rename(folder / name)
    total = len(truth) if first else 12
    _ctrl_c_after(3, monkeypatch)  # 3 batches of 2 images: 6 embedded, in checkpoints of 4+
    with pytest.raises(KeyboardInterrupt):
        _init(path, folder, backbone="fake", batch_size=2)
    if first:
        assert sorted(p.name for p in path.iterdir()) == [config.VECTORS_DIR]  # no project
        with pytest.raises(ProjectNotFound, match="only the vectors of an interrupted init"):
            Project(path)
    monkeypatch.undo()
    project, report = Project.init(path, images=folder, backbone="fake", progress=False)
    with project:
        assert report.embedded == total - 6  # what was embedded before Ctrl-C is not again
        assert project.status()["images"] == len(truth)


def test_failed_first_init_removes_the_folders_it_made(tmp_path: Path, colour_images) -> None:
    folder, _ = colour_images
    with pytest.raises(LabelerError, match="nosuchnet"):
        _init(tmp_path / "runs" / "pa", folder, backbone="nosuchnet")
    assert not (tmp_path / "runs").exists()  # the parent it made too
    with pytest.raises(ProjectNotFound, match="no labeler project"):
        Project(tmp_path / "runs" / "pa")


def test_interrupted_first_init_in_a_user_folder_removes_only_its_files(
    tmp_path: Path, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = colour_images
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / "vectors").mkdir()  # a user's own folder that happens to share a name
    monkeypatch.setattr(Project, "_save_index", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        _init(mine, folder, backbone="fake")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "vectors"]
    assert (mine / "notes.txt").read_text() == "keep me"
    monkeypatch.undo()
    with _init(mine, folder, backbone="fake") as project:  # and init works after it
        assert project.status()["images"] > 0


def test_failed_reinit_of_a_project_keeps_it(
    project: Project, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, truth = colour_images
    path = project.path
    project.label([(sorted(truth)[0], "red")])
    project.close()
    with pytest.raises(LabelerError, match="nosuchnet"):
        _init(path, folder, backbone="nosuchnet")
    monkeypatch.setattr(Project, "_save_index", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        _init(path, folder)
    monkeypatch.undo()
    with Project(path) as again:
        assert again.status()["images"] == len(truth)
        assert [lab.label for lab in again.store.labels()] == ["red"]


@pytest.mark.parametrize("make", ["empty file", "schema, no model"])
def test_unfinished_project_is_named_and_not_written_to(
    tmp_path: Path, colour_images, make: str
) -> None:
    path = tmp_path / "pa"
    path.mkdir()
    db = path / config.DB_NAME
    db.touch()
    if make == "schema, no model":  # what a failed init of an older labeler left behind
        from labeler.store import Store

        Store(db, create=True).close()
    before = db.read_bytes()
    for _ in range(2):
        with pytest.raises(ProjectNotFound, match=r"pa was never finished: run `labeler init .*pa"):
            Project(path)
    assert db.read_bytes() == before
    folder, truth = colour_images
    with _init(path, folder, backbone="fake") as project:  # running init again mends it
        assert project.status()["images"] == len(truth)


def test_project_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path, colour_images) -> None:
    folder, _ = colour_images
    (tmp_path / "a file").write_text("x")
    with pytest.raises(LabelerError, match=r"cannot create the project folder .*a file/proj"):
        _init(tmp_path / "a file" / "proj", folder, backbone="fake")
    assert (tmp_path / "a file").read_text() == "x"


def test_damaged_project_database_is_a_clear_error(project: Project) -> None:
    path, db = project.path, project.path / config.DB_NAME
    project.close()
    with sqlite3.connect(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as f:
        f.seek(page)
        f.write(b"\xff" * 3000)
    with pytest.raises(LabelerError, match=r"labeler\.sqlite is not a readable project database"):
        Project(path)


def test_deleted_vectors_are_named_and_init_brings_them_back(
    project: Project, colour_images
) -> None:
    import shutil

    folder, truth = colour_images
    project.label([(sorted(truth)[0], "red")])
    path = project.path
    project.close()
    shutil.rmtree(path / config.VECTORS_DIR)
    with Project(path) as damaged, pytest.raises(LabelerError, match="vectors of 24 of the"):
        damaged.predict()
    again, report = Project.init(path, images=folder, progress=False)
    with again:
        assert report.embedded == len(truth)
        assert again.status()["labeled"] == 1


def test_a_project_inside_its_images_folder_does_not_scan_itself(
    tmp_path: Path, colour_images
) -> None:
    folder, truth = colour_images
    for _ in range(2):  # the first init, and a rescan once the project holds its files
        project, report = Project.init(
            folder / "proj", images=folder, backbone="fake", progress=False
        )
        project.close()
        assert report.skipped == []
        assert report.images == len(truth)


def test_another_project_kept_among_the_images_is_left_out_of_the_scan(
    tmp_path: Path, colour_images
) -> None:
    folder, truth = colour_images
    Project.init(folder / "sub" / "other", images=folder, backbone="fake", progress=False)[
        0
    ].close()
    project, report = Project.init(tmp_path / "p", images=folder, backbone="fake", progress=False)
    assert report.skipped == []  # not its database, index and vectors as "unsupported" files
    assert report.images == len(truth)
    # An image put into a project's folder afterwards is reported, not left out unseen.
    first = sorted(truth)[0]
    shutil.copy(folder / first, folder / "sub" / "other" / "stray.png")
    (folder / "sub" / "other" / "deeper").mkdir()
    shutil.copy(folder / first, folder / "sub" / "other" / "deeper" / "ünï.jpg")
    with project:
        report = project.rescan(progress=False)
    assert [path for path, _ in report.skipped] == [
        "sub/other/deeper/ünï.jpg",
        "sub/other/stray.png",
    ]
    assert all("labeler project's folder" in reason for _, reason in report.skipped)
    assert report.images == len(truth)


def test_an_image_put_into_the_projects_own_folder_is_reported(
    tmp_path: Path, colour_images
) -> None:
    folder, truth = colour_images
    project, _ = Project.init(folder / "labels", images=folder, backbone="fake", progress=False)
    shutil.copy(folder / sorted(truth)[0], folder / "labels" / "x.png")
    with project:
        report = project.rescan(progress=False)
    assert [(path, "move the image out" in reason) for path, reason in report.skipped] == [
        ("labels/x.png", True)
    ]
    assert report.images == len(truth)


def test_a_project_folder_that_would_hide_images_from_its_scan_is_refused(
    tmp_path: Path, colour_images
) -> None:
    import shutil

    folder, _ = colour_images
    with pytest.raises(LabelerError, match="the project folder is the images folder"):
        Project.init(folder, images=folder, backbone="fake", progress=False)
    inner = folder / "sub"
    inner.mkdir()
    shutil.copy(next(folder.glob("*.png")), inner / "kept.png")
    with pytest.raises(LabelerError, match=r"inside the images folder and holds images \(kept"):
        Project.init(inner, images=folder, backbone="fake", progress=False)
    assert sorted(p.name for p in inner.iterdir()) == ["kept.png"]  # nothing written
    assert not (folder / config.DB_NAME).exists()
    elsewhere = tmp_path / "proj"  # a folder beside the images is fine
    Project.init(elsewhere, images=folder, backbone="fake", progress=False)[0].close()


def test_a_new_project_does_not_overwrite_files_of_the_names_it_writes(
    tmp_path: Path, colour_images
) -> None:
    folder, _ = colour_images
    path = tmp_path / "study"
    path.mkdir()
    (path / "skipped.csv").write_text("my own notes\n")
    with pytest.raises(LabelerError, match=r"not a labeler project .* holds skipped\.csv"):
        Project.init(path, images=folder, backbone="fake", progress=False)
    assert (path / "skipped.csv").read_text() == "my own notes\n"
    assert sorted(p.name for p in path.iterdir()) == ["skipped.csv"]  # nothing written
    (path / "skipped.csv").unlink()
    Project.init(path, images=folder, backbone="fake", progress=False)[0].close()
    Project.init(path, images=folder, backbone="fake", progress=False)[0].close()  # a rescan


def test_an_empty_folder_does_not_fix_the_input_size(
    tmp_path: Path, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    import labeler.embed as embed
    from labeler.embed import choose_image_size

    asked = []
    create = embed.create_embedder

    def recording(name, **options):
        asked.append(options["image_size"])
        return create(name, **options)

    monkeypatch.setattr(embed, "create_embedder", recording)
    folder, truth = colour_images
    empty = tmp_path / "empty"
    empty.mkdir()
    path = tmp_path / "p"
    _init(path, empty, backbone="fake").close()  # nothing to choose from yet
    _init(path, folder, backbone="fake").close()  # the first images choose
    sizes = [Image.open(folder / name).size for name in truth]
    Image.new("RGB", (40, 30), (9, 99, 199)).save(folder / "new.png")  # a new image to embed
    _init(path, folder, backbone="fake").close()  # kept: the size the embedder took (32 here)
    assert asked == [choose_image_size([]), choose_image_size(sizes), FAKE_SIZE]
    assert len(set(asked)) == 3


def test_files_of_the_same_content_are_embedded_once_and_said_so(
    tmp_path: Path, colour_images, capsys
) -> None:
    from labeler.cli import main

    folder, truth = colour_images
    (folder / "copy.png").write_bytes((folder / sorted(truth)[0]).read_bytes())
    proj = tmp_path / "p"
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    out, err = capsys.readouterr()
    n = len(truth)
    assert out.splitlines()[0] == (
        f"{n + 1} images in {proj} ({n + 1} new, 0 renamed, 0 changed, 0 gone); embedded {n} "
        "with fake@32 (1 file has the same content as another: one vector for both)"
    )
    assert f"| {n + 1}/{n + 1} [" in err  # the scan bar counts every file
    with Project(proj) as project:
        assert project.rescan(progress=False).same_content == 0  # nothing embedded this time


def test_a_file_replaced_between_scan_and_embedding_is_taken_in_by_the_next_scan(
    project: Project, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labeler.embed
    from labeler.embed.pipeline import CHANGED

    folder, truth = colour_images
    coloured(COLOURS["red"], seed=99).save(folder / "new.png")  # content new to the project
    embed = labeler.embed.embed_files

    def replaced_first(*args, **kwargs):  # a copy into the folder still running, say
        coloured(COLOURS["blue"], seed=98).save(folder / "new.png")
        return embed(*args, **kwargs)

    monkeypatch.setattr(labeler.embed, "embed_files", replaced_first)
    report = project.rescan(progress=False)
    assert report.skipped == [("new.png", CHANGED)]  # not embedded under the red file's hash
    monkeypatch.undo()
    coloured(COLOURS["red"], seed=99).save(folder / "red-again.png")  # the content scanned first
    report = project.rescan(progress=False)
    assert report.skipped == [] and report.sync.added == 2
    nearest = {path: project.similar(path, k=1)[0][0] for path in ("new.png", "red-again.png")}
    assert truth[nearest["new.png"]] == "blue"
    assert truth[nearest["red-again.png"]] == "red"  # no blue vector kept under red's hash
