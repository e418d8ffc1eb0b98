"""The facade end to end on planted colour classes, with the fake embedder."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from imagegen import COLOURS, coloured, noise_rgb, write_bad_files

from labeler import edits
from labeler.errors import LabelerError, ProjectNotFound
from labeler.export import CSV_COLUMNS
from labeler.project import NO_ESTIMATE, NO_PREDICTION, SKIPPED_NAME, Project, ProjectStatus


def _two_per_class(truth: dict[str, str]) -> list[tuple[str, str]]:
    picks: dict[str, list[str]] = {}
    for path, label in sorted(truth.items()):
        picks.setdefault(label, [])
        if len(picks[label]) < 2:
            picks[label].append(path)
    return [(p, label) for label, paths in picks.items() for p in paths]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_init_embeds_and_indexes_every_image(project: Project, colour_images) -> None:
    _, truth = colour_images
    status = project.status()
    assert status["images"] == len(truth)
    assert status["model"] == "fake@32"
    assert sorted(project.index().ids()) == sorted(it.id for it in project.store.items())


def test_status_of_a_fresh_project_sets_every_value(project: Project, colour_images) -> None:
    folder, truth = colour_images
    status = project.status()  # no labels, no predictions, no estimate yet
    assert status == {
        "images": len(truth),
        "images_root": str(folder.resolve()),
        "model": "fake@32",
        "labeled": 0,
        "gone_labeled": 0,
        "classes": {},
        "skipped": [],
        "last_prediction": NO_PREDICTION,
        "estimated_accuracy": NO_ESTIMATE,
        "fine_tuned_on": 0,
    }
    assert list(status) == list(ProjectStatus.__annotations__)  # the order status prints
    first, second, third = sorted(truth)[:3]
    project.label([(first, "b"), (second, "a"), (third, "b")])
    (folder / "broken.png").write_bytes(b"not a png")
    project.rescan(progress=False)
    status = project.status()
    assert status["classes"] == {"b": 2, "a": 1}  # in order of creation, with their labels
    assert [path for path, _ in status["skipped"]] == ["broken.png"]
    (folder / first).unlink()  # gone (an unmounted drive): its label is kept, and counted
    project.rescan(progress=False)
    status = project.status()
    assert (status["labeled"], status["gone_labeled"]) == (2, 1)
    assert status["classes"] == {"b": 1, "a": 1}


def test_reinit_on_grown_folder_embeds_only_new_images(project: Project, colour_images) -> None:
    folder, truth = colour_images
    (folder / "new").mkdir()
    coloured(COLOURS["red"], seed=999).save(folder / "new" / "extra.png")
    shutil.copy(folder / next(iter(truth)), folder / "copy of first.png")  # same content
    p2, report = Project.init(project.path, images=folder, progress=False)
    with p2:
        assert report.embedded == 1  # the copy reuses the cached vector of its content
        assert report.sync.added == 2
        assert p2.status()["images"] == len(truth) + 2


def test_a_rescan_builds_the_network_only_for_new_images(
    project: Project, colour_images, monkeypatch
) -> None:
    import labeler.embed

    folder, _ = colour_images
    built = []
    create = labeler.embed.create_embedder
    monkeypatch.setattr(
        labeler.embed, "create_embedder", lambda *a, **kw: built.append(a) or create(*a, **kw)
    )
    report = project.rescan(progress=False)  # nothing new: the cached vectors are found by key
    assert built == [] and report.embedded == 0 and report.images == project.status()["images"]
    key = project.model_key
    coloured(COLOURS["blue"], seed=4321).save(folder / "new.png")
    report = project.rescan(progress=False)
    assert len(built) == 1 and report.embedded == 1 and project.model_key == key


def test_renamed_file_keeps_its_label(project: Project, colour_images) -> None:
    folder, truth = colour_images
    first = sorted(truth)[0]
    project.label([(first, truth[first])], annotator="ana")
    (folder / first).rename(folder / "renamed é.png")
    p2, report = Project.init(project.path, images=folder, progress=False)
    with p2:
        assert report.sync.renamed == 1 and report.embedded == 0
        rows = {r["path"]: r for r in p2.export_rows()}
        assert rows["renamed é.png"]["label"] == truth[first]
        assert rows["renamed é.png"]["annotator"] == "ana"
        assert first not in rows


def test_labels_follow_the_images_when_files_are_renumbered(
    project: Project, colour_images
) -> None:
    folder, truth = colour_images
    a, b = (next(p for p in sorted(truth) if truth[p] == c) for c in ("red", "green"))
    project.label([(a, "red"), (b, "green")], annotator="ana")
    project.close()
    swap = folder / "swap.tmp"  # a PACS re-export that numbers the same images otherwise
    (folder / a).rename(swap)
    (folder / b).rename(folder / a)
    swap.rename(folder / b)
    p2, report = Project.init(project.path, images=folder, progress=False)
    with p2:
        assert (report.sync.renamed, report.sync.changed, report.embedded) == (2, 0, 0)
        labels = {r["path"]: r["label"] for r in p2.export_rows() if r.get("source") == "human"}
        assert labels == {a: "green", b: "red"}


def test_a_labeled_file_overwritten_by_another_image_loses_its_label(
    project: Project, colour_images
) -> None:
    folder, truth = colour_images
    red, green = (next(p for p in sorted(truth) if truth[p] == c) for c in ("red", "green"))
    project.label([(red, "red")], annotator="ana")
    project.close()
    (folder / red).write_bytes((folder / green).read_bytes())
    p2, report = Project.init(project.path, images=folder, progress=False)
    with p2:
        assert [c[:3] for c in report.sync.cleared] == [(red, "red", "ana")]
        assert red not in {r["path"] for r in p2.export_rows() if r.get("source") == "human"}
        # The list of lost labels is a label file: if the image was in fact the same, one
        # import puts the labels back.
        cleared = report.cleared_file
        assert cleared.parent == p2.path and cleared.name.startswith("cleared-labels-")
        assert p2.import_labels(cleared).changed == 1
        assert {r["path"]: r["label"] for r in p2.export_rows() if r.get("source") == "human"} == {
            red: "red"
        }


def test_label_predict_export_recovers_planted_classes(
    project: Project, colour_images, tmp_path: Path
) -> None:
    _, truth = colour_images
    labeled = _two_per_class(truth)
    assert project.label(labeled) == len(labeled)
    report = project.predict()
    assert report.predicted == len(truth) - len(labeled)
    assert report.ood_short == 49 - len(labeled)  # too few labels to flag any image yet
    assert sorted(report.classes) == sorted(COLOURS)
    out = tmp_path / "out.csv"
    assert project.export_csv(out) == len(truth)
    rows = _read_csv(out)
    assert list(rows[0])[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    assert sorted(r["path"] for r in rows) == sorted(truth)
    human = [r for r in rows if r["source"] == "human"]
    auto = [r for r in rows if r["source"] == "auto"]
    assert len(human) == len(labeled) and len(auto) == len(truth) - len(labeled)
    assert all(r["label"] == truth[r["path"]] for r in rows)
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in auto)
    assert all(r["method"] == "auto" and r["model"] == "fake@32" for r in auto)


@pytest.mark.parametrize("edit", ["rename", "delete"])
def test_a_class_edited_while_predict_runs_voids_its_run(
    project: Project, colour_images, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    from labeler.store import Store

    _, truth = colour_images
    project.label(_two_per_class(truth))
    project.predict()
    before = project.store.latest_run()
    fit = project._fit

    def fit_then_edit(*args, **kwargs):
        out = fit(*args, **kwargs)
        with Store(project.store.path) as other:  # `labeler class` in another window
            if edit == "rename":
                other.rename_class("red", "crimson")
            else:
                edits.delete_class(other, "red", annotator="bob")
        return out

    monkeypatch.setattr(project, "_fit", fit_then_edit)
    with pytest.raises(LabelerError, match="classes changed while the predictions were made"):
        project.predict()
    assert project.store.latest_run() == before  # the last complete run is kept
    assert "red" not in project.store.classes()  # and the old class is not made again


def test_predict_needs_two_classes(project: Project, colour_images) -> None:
    _, truth = colour_images
    project.label(_two_per_class(truth)[:2])  # both of one class
    with pytest.raises(LabelerError, match="at least two classes"):
        project.predict()


def test_label_with_unknown_path_changes_nothing(project: Project, colour_images) -> None:
    _, truth = colour_images
    good = sorted(truth)[0]
    with pytest.raises(LabelerError, match="1 path with no image in this project"):
        project.label([(good, "red"), ("nope.png", "red")])
    assert project.store.labels() == []
    unknown = [(f"nope{i}.png", "red") for i in range(6)]
    with pytest.raises(
        LabelerError, match=r"6 path.*'nope0.png'; also 'nope1.png', .*'nope3.png' …"
    ):
        project.label(unknown)


def test_a_gone_image_is_named_gone(project: Project, colour_images) -> None:
    folder, truth = colour_images
    first = sorted(truth)[0]
    (folder / first).unlink()
    p2, _ = Project.init(project.path, images=folder, progress=False)
    with p2, pytest.raises(LabelerError, match="it is gone from the images folder"):
        p2.label([(first, "red")])


def test_a_path_in_another_unicode_form_is_the_same_image(project: Project, colour_images) -> None:
    import unicodedata

    folder, truth = colour_images
    first = sorted(truth)[0]
    (folder / first).rename(folder / "Müller.png")  # NFC on disk, as Linux keeps what it is given
    p2, _ = Project.init(project.path, images=folder, progress=False)
    with p2:
        decomposed = unicodedata.normalize("NFD", "Müller.png")  # as macOS writes it
        assert p2.label([(decomposed, "red")]) == 1
        assert {r["path"] for r in p2.export_rows() if r.get("label")} == {"Müller.png"}


def test_label_accepts_absolute_paths_inside_the_root(project: Project, colour_images) -> None:
    folder, truth = colour_images
    first = sorted(truth)[0]
    project.label([(str(folder.resolve() / first), "red")])
    assert [lab.label for lab in project.store.labels()] == ["red"]


def test_one_image_under_two_spellings_is_one_image(project: Project, colour_images) -> None:
    folder, truth = colour_images
    first = sorted(truth)[0]
    spellings = [first, str(folder.resolve() / first), f"./{first}"]
    with pytest.raises(LabelerError, match=rf"image '{first}' is labeled both 'red' .* 'blue'"):
        project.label([(spellings[0], "red"), (spellings[1], "red"), (spellings[2], "blue")])
    assert project.store.labels() == []
    assert project.label([(p, "red") for p in spellings]) == 1
    assert [lab.label for lab in project.store.labels()] == ["red"]


def test_label_refuses_a_case_twin_of_a_class(project: Project, colour_images) -> None:
    _, truth = colour_images
    first, second = sorted(truth)[:2]
    project.label([(first, "Red")])
    with pytest.raises(LabelerError, match="'red' differs from 'Red' only in case"):
        project.label([(second, "red")])
    assert project.store.classes() == ["Red"]
    project.label([(second, "Re\u0064")])  # the same name, however it is typed
    assert [lab.label for lab in project.store.labels()] == ["Red", "Red"]


def test_import_skips_rows_without_label_and_says_which(
    project: Project, colour_images, tmp_path: Path
) -> None:
    _, truth = colour_images
    paths = sorted(truth)[:3]
    csv_path = tmp_path / "first.csv"
    csv_path.write_text(f"path,label\n{paths[0]},red\n{paths[1]},\n{paths[2]},blue\n")
    report = project.import_labels(csv_path)
    assert (report.changed, report.unlabeled) == (2, [3])
    assert {lab.label for lab in project.store.labels()} == {"red", "blue"}
    assert report.new_classes == ["red", "blue"]  # in order of creation, and named once:
    csv_path.write_text(f"path,label\n{paths[1]},red\n{paths[2]},green\n")
    assert project.import_labels(csv_path).new_classes == ["green"]


def test_import_reports_the_labels_it_replaced_and_those_it_kept(
    project: Project, colour_images, tmp_path: Path
) -> None:
    _, truth = colour_images
    a, b, c = sorted(truth)[:3]
    project.label([(a, "red"), (b, "red")], annotator="bob")
    csv_path = tmp_path / "carol.csv"
    csv_path.write_text(f"path,label\n{a},green\n./{b},red\n{b},red\n{c},red\n")
    report = project.import_labels(csv_path, annotator="carol")
    assert (report.changed, report.unchanged) == (2, 1)  # b, given twice, is one image
    assert report.replaced == [(a, "red", "bob", "green")]
    path_of = {item.id: item.path for item in project.store.items()}
    who = {path_of[lab.item_id]: lab.annotator for lab in project.store.labels()}
    assert who == {a: "carol", b: "bob", c: "carol"}  # an unchanged label keeps its annotator


def test_a_refused_import_names_its_file(project: Project, colour_images, tmp_path: Path) -> None:
    _, truth = colour_images
    project.label([(sorted(truth)[0], "red")])
    csv_path = tmp_path / "twins.csv"
    csv_path.write_text(f"path,label\n{sorted(truth)[1]},RED\n")
    with pytest.raises(
        LabelerError, match=r"twins\.csv, line 2: class name 'RED' .*; nothing was imported"
    ):
        project.import_labels(csv_path)


@pytest.mark.parametrize(
    ("names", "where", "why"),
    [
        (["red", "two\nlines", "red"], "line 3", "must be one line of at most 100"),
        (["red", "red", "x" * 101], "line 4", "must be one line of at most 100"),
        (["red", "Cells", "red"], "line 3", "'Cells' differs from 'cells' only in case"),
        (["\uff43ells", "red", "red"], "line 2", "from 'cells' only in case or in the form"),
        (["Bag", "red", "BAG"], "lines 2, 4", "differs from"),
        (["red", "zero\u200bwidth", "red"], "line 3", "invisible or control characters"),
    ],
)
def test_a_class_name_refused_in_an_import_names_its_lines(
    project: Project, colour_images, tmp_path: Path, names: list[str], where: str, why: str
) -> None:
    _, truth = colour_images
    project.label([(sorted(truth)[0], "cells")])
    csv_path = tmp_path / "names.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("path", "label"), *zip(sorted(truth)[1:4], names, strict=True)])
    with pytest.raises(LabelerError) as refused:
        project.import_labels(csv_path)
    message = str(refused.value)
    assert message.startswith(f"{csv_path}, {where}: ")
    assert why in message and message.endswith("; nothing was imported")
    assert [lab.label for lab in project.store.labels()] == ["cells"]


def test_export_reimports_class_names_a_spreadsheet_would_run(
    project: Project, colour_images, tmp_path: Path
) -> None:
    _, truth = colour_images
    labeled = [(p, "-neg" if i % 2 else "+pos") for i, p in enumerate(sorted(truth)[:4])]
    project.label(labeled)
    out = tmp_path / "out.csv"
    project.export_csv(out)
    assert "'-neg" in out.read_text()  # escaped for spreadsheets ...
    report = project.import_labels(out)  # ... and read back as the same classes
    assert report.changed == 0 and len(report.unlabeled) == len(truth) - 4
    assert sorted(project.store.classes()) == ["+pos", "-neg"]


def test_a_path_cell_beginning_with_an_apostrophe_finds_the_file_it_names(tmp_path: Path) -> None:
    """`'-neg.png` in a label CSV is how our exports write -neg.png; it may also be the name of
    a file. One of the two: that one; both: refused, not guessed."""
    folder = tmp_path / "images"
    names = ["-neg.png", "'-neg.png", "'only.png", "=both.png"]
    folder.mkdir()
    for i, name in enumerate(names):
        noise_rgb(16, 16, seed=i).save(folder / name)
    project, _ = Project.init(tmp_path / "p", images=folder, backbone="fake", progress=False)
    with project:
        csv = tmp_path / "labels.csv"
        csv.write_text("path,label\n'-neg.png,x\n", encoding="utf-8")
        with pytest.raises(LabelerError, match=r"names more than one image, '-neg\.png' and"):
            project.import_labels(csv)
        rows = ["''-neg.png,apostrophe", "-neg.png,dash", "'only.png,only", "'=both.png,both"]
        csv.write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
        project.import_labels(csv)
        labeled = {
            project.store.paths_of([r.item_id])[r.item_id]: r.label for r in project.store.labels()
        }
    assert labeled == {
        "'-neg.png": "apostrophe",
        "-neg.png": "dash",
        "'only.png": "only",
        "=both.png": "both",
    }


@pytest.mark.parametrize("annotator", ["", " ana", "ana (accepted auto)", "a\nb", "x" * 101])
def test_label_refuses_bad_annotator_names(project: Project, colour_images, annotator: str) -> None:
    _, truth = colour_images
    with pytest.raises(LabelerError, match="annotator name"):
        project.label([(sorted(truth)[0], "red")], annotator=annotator)
    csv = project.path.parent / "labels.csv"
    csv.write_text(f"path,label\n{sorted(truth)[0]},red\n", encoding="utf-8")
    with pytest.raises(LabelerError, match=r"^annotator name") as refused:  # not the file's fault
        project.import_labels(csv, annotator=annotator)
    assert str(csv) not in str(refused.value)
    assert project.store.labels() == []


def test_reimporting_an_export_with_predictions_imports_nothing(
    project: Project, colour_images, tmp_path: Path
) -> None:
    _, truth = colour_images
    labeled = _two_per_class(truth)
    project.label(labeled)
    project.predict()
    out = tmp_path / "out.csv"
    project.export_csv(out)
    n_auto = len(truth) - len(labeled)
    with pytest.raises(LabelerError, match=rf"{n_auto} rows whose source is not 'human'"):
        project.import_labels(out)
    assert len(project.store.labels()) == len(labeled)
    rows = [r for r in _read_csv(out) if r["source"] == "human"]
    with out.open("w", newline="", encoding="utf-8") as f:  # the expert rows alone are fine
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert project.import_labels(out, annotator="ana").changed == 0  # the same: no change


def test_suggest_cold_start_then_uncertain_never_labeled(project: Project, colour_images) -> None:
    _, truth = colour_images
    cold = project.suggest(3)
    assert len(cold) == 3
    assert all(s["reason"].startswith("typical of a group of") for s in cold)
    # one per planted class: the cold start covers the data
    assert sorted(truth[s["path"]] for s in cold) == sorted(COLOURS)
    labeled = _two_per_class(truth)
    project.label(labeled)
    warm = project.suggest(5)
    assert len(warm) == 5
    assert not {s["path"] for s in warm} & {p for p, _ in labeled}
    assert "model: " in warm[0]["reason"]  # with labels, a reason gives the model's view


def test_similar_returns_neighbours_of_the_same_class(project: Project, colour_images) -> None:
    _, truth = colour_images
    first = sorted(truth)[0]
    similar = project.similar(first, k=5)
    assert len(similar) == 5 and first not in {p for p, _ in similar}
    assert all(truth[p] == truth[first] for p, _ in similar)
    sims = [s for _, s in similar]
    assert sims == sorted(sims, reverse=True)


def test_export_embeddings_matches_paths(project: Project, colour_images, tmp_path) -> None:
    _, truth = colour_images
    out = tmp_path / "emb.npz"
    assert project.export_embeddings(out) == len(truth)
    data = np.load(out)
    assert sorted(data["paths"].tolist()) == sorted(truth)
    assert data["embeddings"].shape == (len(truth), 16)
    assert data["embeddings"].dtype == np.float32


def test_missing_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match="labeler init"):
        Project(tmp_path / "nothing")


def test_bad_files_are_reported_and_good_ones_exported(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    names = ["plain.png", "with space.png", "ünïcødé 名前.png"]
    truth = dict(zip(names, COLOURS, strict=True))
    for name, label in truth.items():
        coloured(COLOURS[label], seed=len(name)).save(folder / name)
    bad = write_bad_files(folder / "bad")
    project, report = Project.init(
        tmp_path / "proj", images=folder, backbone="fake", progress=False
    )
    with project:
        reasons = dict(report.skipped)
        assert set(reasons) == {f"bad/{p.name}" for p in bad.values()}
        assert "empty" in reasons["bad/empty.png"]
        assert "30000" in reasons["bad/bomb.png"]
        skipped_csv = _read_csv(project.path / SKIPPED_NAME)
        assert {r["path"] for r in skipped_csv} == set(reasons)
        out = tmp_path / "out.csv"
        assert project.export_csv(out) == 3
        assert sorted(r["path"] for r in _read_csv(out)) == sorted(truth)


def test_the_ui_sees_a_rescan_made_by_another_process(project: Project, colour_images) -> None:
    """A running server's project labels by the file names as a `labeler init` in another
    process left them (two files swapped), not as it loaded them at its start."""
    folder, truth = colour_images
    red, green = (next(p for p in sorted(truth) if truth[p] == c) for c in ("red", "green"))
    before = project.workbench()
    swap = folder / "swap.tmp"
    (folder / red).rename(swap)
    (folder / green).rename(folder / red)
    swap.rename(folder / green)
    with Project(project.path) as cli:
        assert cli.rescan(progress=False).sync.renamed == 2
    now = project.workbench()
    assert now is not before
    now.assign([red], "green", annotator="ana")  # the image now at `red` is the green one
    with Project(project.path) as cli:
        human = {r["path"]: r["label"] for r in cli.export_rows() if r.get("source") == "human"}
    assert human == {red: "green"}
