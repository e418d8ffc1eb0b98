"""The command-line contract, run in-process (`labeler.cli.main`) with the fake embedder."""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path

import pytest
from imagegen import coloured, write_colour_set, write_multi_frame_set

from labeler.cli import EXIT_ERROR, main
from labeler.config import DB_NAME


def _write_labels(path: Path, rows: list[tuple[str, str]], header=("path", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_full_flow(proj: Path, colour_images, tmp_path: Path, capsys) -> None:
    _, truth = colour_images
    labeled = [(p, truth[p]) for p in sorted(truth)[::4]]
    labels = _write_labels(tmp_path / "labels.csv", labeled)
    assert main(["label", str(proj), "--csv", str(labels), "--annotator", "dr who"]) == 0
    assert f"{len(labeled)} labels set" in capsys.readouterr().out
    # Before any predict, an export holds the hand labels alone, and says so.
    assert main(["export", str(proj), str(tmp_path / "early.csv")]) == 0
    left = len(truth) - len(labeled)
    assert capsys.readouterr().err.splitlines()[0] == (
        f"warning: no predictions yet: {left} unlabeled images have no label in this file. Run "
        "`labeler predict` (or Export CSV in the app), then export again"
    )
    assert main(["predict", str(proj)]) == 0
    assert "predicted" in capsys.readouterr().out
    assert main(["suggest", str(proj), "-n", "4"]) == 0
    suggested = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(suggested) == 4 and set(suggested[0]) >= {"path", "reason"}
    assert not {s["path"] for s in suggested} & {p for p, _ in labeled}
    out = tmp_path / "out.csv"
    assert main(["export", str(proj), str(out)]) == 0
    assert "warning" not in capsys.readouterr().err  # predicted: nothing to warn of
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(truth)
    human = [r for r in rows if r["source"] == "human"]
    assert len(human) == len(labeled) and {r["annotator"] for r in human} == {"dr who"}
    assert main(["export-embeddings", str(proj), str(tmp_path / "e.npz")]) == 0
    assert main(["status", str(proj)]) == 0
    assert f"labeled: {len(labeled)}" in capsys.readouterr().out


def test_status_of_a_fresh_project_prints_no_none(proj: Path, colour_images, capsys) -> None:
    folder, truth = colour_images
    assert main(["status", str(proj)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"images: {len(truth)}",
        f"images_root: {folder.resolve()}",
        "model: fake@32",
        "labeled: 0",
        "gone_labeled: 0",
        "classes: 0",
        "skipped: 0",
        "last_prediction: never (run `labeler predict`)",
        "estimated_accuracy: none yet (it needs two labels in each of two classes, then predict)",
        "fine_tuned_on: 0",
    ]


def test_status_counts_the_labels_of_images_gone(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, truth = colour_images
    gone, kept = sorted(truth)[:2]
    (tmp_path / "l.csv").write_text(f"path,label\n{gone},red\n{kept},red\n", encoding="utf-8")
    assert main(["label", str(proj), "--csv", str(tmp_path / "l.csv")]) == 0
    (folder / gone).unlink()  # an unmounted drive, say
    assert main(["init", str(proj)]) == 0
    capsys.readouterr()
    assert main(["status", str(proj)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "labeled: 1" in lines
    assert (
        f"gone_labeled: 1 (their images are not in {folder.resolve()}; the labels are kept and "
        f"come back with the images: `labeler init {proj}` once they are back, or `--images "
        "FOLDER` with the folder that holds them)"
    ) in lines
    # The export lists the images present, and says which labels it therefore leaves out.
    assert main(["export", str(proj), str(tmp_path / "out.csv")]) == 0
    err = capsys.readouterr().err
    assert f"warning: 1 label of images gone from {folder.resolve()} is not in this file" in err
    exported = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert gone not in exported and kept in exported


def test_suggest_with_zero_labels(proj: Path, capsys) -> None:
    assert main(["suggest", str(proj), "-n", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("path,") and len(lines) == 4


def test_suggest_says_why_it_gives_fewer_than_asked(proj: Path, colour_images, capsys) -> None:
    _, truth = colour_images
    assert main(["suggest", str(proj), "-n", "5"]) == 0
    assert capsys.readouterr().err == ""  # as many as asked: nothing to say
    assert main(["suggest", str(proj), "-n", str(len(truth) + 10)]) == 0
    captured = capsys.readouterr()
    given = len(captured.out.splitlines()) - 1
    assert given < len(truth)  # the 3 colour classes are near-copies within
    assert captured.err == (
        f"note: {given} of the {len(truth) + 10} asked: the other {len(truth) - given} unlabeled "
        "images are near-copies of these, or in the groups of similar images these come from "
        "(one each); label these and ask again\n"
    )


def test_suggest_file_filled_in_part_way_imports(proj: Path, tmp_path: Path, capsys) -> None:
    assert main(["suggest", str(proj), "-n", "4"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["label"] for r in rows] == [""] * 4  # a column to fill in
    rows[0]["label"], rows[2]["label"] = "red", "blue"
    filled = tmp_path / "first.csv"
    with filled.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["label", str(proj), "--csv", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "2 labels set" in out
    assert "skipped 2 rows with a path but no label (lines 3, 5)" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "{missing}"],
        ["export", "{missing}", "{tmp}/x.csv"],
        ["suggest", "{missing}", "-n", "2"],
        ["label", "{missing}", "--csv", "{tmp}/x.csv"],
    ],
)
def test_missing_project_one_line_error(error_line, argv, tmp_path: Path, capsys) -> None:
    argv = [a.format(missing=tmp_path / "none", tmp=tmp_path) for a in argv]
    assert main(argv) == EXIT_ERROR
    assert "no labeler project" in error_line()
    assert not (tmp_path / "none").exists()


def test_init_on_missing_folder(error_line, tmp_path: Path, capsys) -> None:
    assert main(["init", str(tmp_path / "p"), "--images", str(tmp_path / "nope")]) == EXIT_ERROR
    assert "does not exist" in error_line()
    assert not (tmp_path / "p").exists()  # no project made


def test_label_csv_with_unknown_paths_changes_nothing(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _, truth = colour_images
    first = sorted(truth)[0]
    labels = _write_labels(tmp_path / "l.csv", [(first, "red"), ("ghost.png", "red")])
    assert main(["label", str(proj), "--csv", str(labels)]) == EXIT_ERROR
    assert "ghost.png" in error_line()
    assert main(["status", str(proj)]) == 0
    assert "labeled: 0" in capsys.readouterr().out


def test_label_csv_with_missing_column(error_line, proj: Path, tmp_path: Path, capsys) -> None:
    labels = _write_labels(tmp_path / "l.csv", [("a.png", "red")], header=("file", "label"))
    assert main(["label", str(proj), "--csv", str(labels)]) == EXIT_ERROR
    assert "lacks path" in error_line()


def test_bad_arguments_exit_non_zero(proj: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["suggest", str(proj), "-n", "0"])
    assert e.value.code != 0
    assert "at least 1" in capsys.readouterr().err


def test_export_into_missing_folder_writes_nothing(
    error_line, proj: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "no" / "such" / "out.csv"
    assert main(["export", str(proj), str(out)]) == EXIT_ERROR
    assert "does not exist" in error_line()
    assert not out.parent.exists()


def test_module_entry_point_runs_the_same_program(tmp_path: Path) -> None:
    import subprocess
    import sys

    from labeler import __version__

    done = subprocess.run(
        [sys.executable, "-m", "labeler", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == f"labeler {__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "labeler", "predict", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == EXIT_ERROR
    assert done.stderr.startswith("labeler: error: no labeler project")


def test_bench_active_hands_the_arguments_after_it_to_the_active_benchmark(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "--help"])
    assert e.value.code == 0 and "--active" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["bench", "--active", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert out.startswith("usage: labeler bench --active") and "--strategies" in out


def test_bench_active_refuses_few_shot_options_before_it(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "--shots", "1", "--active", "--seeds", "2"])
    assert e.value.code != 0
    assert "got --shots before it" in capsys.readouterr().err


def test_init_on_an_emptied_folder_warns_and_keeps_the_labels(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, truth = colour_images
    path = sorted(truth)[0]
    labels = _write_labels(tmp_path / "l.csv", [(path, truth[path])])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    away = folder.rename(tmp_path / "away")  # the drive is not mounted
    folder.mkdir()
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    assert "every image is gone" in capsys.readouterr().err
    folder.rmdir()
    away.rename(folder)
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    assert main(["export", str(proj), str(tmp_path / "out.csv")]) == 0
    with (tmp_path / "out.csv").open(encoding="utf-8") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(truth) and rows[path]["source"] == "human"
    assert rows[path]["label"] == truth[path]


def test_init_without_images_rescans_the_projects_own_folder(
    proj: Path, colour_images, tmp_path: Path, capsys, monkeypatch
) -> None:
    from labeler.store import Store

    opened = []

    class CountedStore(Store):
        def __init__(self, path, **options) -> None:
            opened.append(path)
            super().__init__(path, **options)

    monkeypatch.setattr("labeler.project.Store", CountedStore)
    folder, truth = colour_images
    write_colour_set(folder, 1, start_seed=500)  # one new image of each class
    assert main(["init", str(proj), "--backbone", "fake"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"rescanning {folder.resolve()}, the images folder of {proj}\n")
    assert f"{len(truth) + 3} images in {proj} (3 new," in out
    assert len(opened) == 1  # the project is opened once, to read its folder and rescan it


def test_init_without_images_on_a_new_project_is_a_one_line_error(
    error_line, tmp_path: Path, capsys
) -> None:
    new = tmp_path / "new"
    assert main(["init", str(new), "--backbone", "fake"]) == EXIT_ERROR
    assert f"no labeler project at {new}; create it with `labeler init {new} --images DIR`" in (
        error_line()
    )
    assert not new.exists()


def test_init_refuses_a_device_torch_cannot_see_before_scanning(
    error_line, colour_images, tmp_path: Path, monkeypatch, capsys
) -> None:
    import torch

    from labeler.project import Project

    def scan(*args, **kwargs):
        raise AssertionError("the folder was scanned before the device was checked")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(Project, "init", scan)
    folder, _ = colour_images
    argv = ["init", str(tmp_path / "p"), "--images", str(folder), "--device", "cuda"]
    assert main(argv) == EXIT_ERROR
    assert "device 'cuda' was requested but torch" in error_line()
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("kind", ["text", "image", "whole model"])
def test_init_with_a_checkpoint_that_holds_no_weights_says_what_it_takes(
    colour_images, tmp_path: Path, capsys, kind: str
) -> None:
    import torch

    folder, truth = colour_images
    file = {"text": tmp_path / "notes.txt", "image": folder / sorted(truth)[0]}.get(
        kind, tmp_path / "model.pth"
    )
    if kind == "text":
        file.write_text("not weights\n", encoding="utf-8")
    elif kind == "whole model":
        torch.save(torch.nn.Linear(2, 2), file)
    argv = ["init", str(tmp_path / "p"), "--images", str(folder), "--checkpoint", str(file)]
    assert main(argv) == EXIT_ERROR
    why = (
        "it holds pickled Python objects, which are not loaded as they could run code: a whole "
        "model saved with torch.save(model)?"
        if kind == "whole model"
        else "it is not in the format that torch.save writes"
    )
    assert capsys.readouterr().err.splitlines()[-1] == (  # after the scan's progress bar
        f"labeler: error: {file} is not a PyTorch weights file ({why}); --checkpoint takes a "
        "state dict saved with torch.save(model.state_dict(), FILE) as .pth, .pt or .bin, or a "
        ".safetensors file: pass such a file, or leave out --checkpoint to use the backbone's "
        "own weights"
    )
    assert not (tmp_path / "p").exists()


def _label_every_third(proj: Path, colour_images, tmp_path: Path) -> None:
    """Label every third image of colour_images with its true class, by `labeler label`."""
    _, truth = colour_images
    labels = _write_labels(tmp_path / "l.csv", [(p, truth[p]) for p in sorted(truth)[::3]])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0


def test_predict_names_the_method_as_given(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _label_every_third(proj, colour_images, tmp_path)
    capsys.readouterr()
    assert main(["predict", str(proj), "--method", "protonet-euclidean"]) == 0
    out = capsys.readouterr().out
    assert " with protonet-euclidean on " in out
    assert "chose" not in out  # the head describes itself by the method asked for
    assert main(["predict", str(proj)]) == 0
    assert "\nchose auto: " in capsys.readouterr().out  # auto says what it blended


def test_predict_shows_the_training_of_a_trained_head_on_stderr(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _label_every_third(proj, colour_images, tmp_path)
    capsys.readouterr()
    assert main(["predict", str(proj), "--method", "adapter"]) == 0
    out, err = capsys.readouterr()
    assert "adapter: " in err and "step" in err
    assert " with adapter on " in out and "step" not in out


def test_predict_on_many_classes_with_few_labels_shows_no_sklearn_warning(
    tmp_path: Path, capsys
) -> None:
    import warnings

    import numpy as np
    from sklearn.utils.multiclass import check_classification_targets

    from labeler.heads.linear import FEW_SAMPLES_WARNING

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for k in range(16):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        for i in range(3):
            coloured(colour, seed=100 * k + i).save(folder / f"c{k:02d}_{i}.png")
        rows += [(f"c{k:02d}_{i}.png", f"class {k}") for i in range(1 if k < 2 else 2)]
    assert len(rows) == 30  # 16 classes in 30 labels: sklearn's "regression?" hint...
    with pytest.warns(UserWarning, match=FEW_SAMPLES_WARNING):
        check_classification_targets(np.array([label for _, label in rows]))
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", rows))]) == 0
    capsys.readouterr()
    for method in ("auto", "logreg", "svm"):  # ...is not shown where we fit on few labels
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(["predict", str(proj), "--method", method]) == 0
        assert [str(w.message) for w in caught] == []
        assert "predicted 18 images" in capsys.readouterr().out


def test_few_labels_per_class_shows_other_warnings() -> None:
    import warnings

    from labeler.heads.linear import few_labels_per_class

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with few_labels_per_class():
            warnings.warn("another warning", UserWarning, stacklevel=1)
            warnings.warn(
                "The number of unique classes is greater than 50% of the number of samples.",
                UserWarning,
                stacklevel=1,
            )
    assert [str(w.message) for w in caught] == ["another warning"]


@pytest.mark.parametrize("command", ["finetune", "adapt"])
def test_finetune_and_adapt_refuse_a_device_torch_cannot_see_first(
    error_line, proj: Path, monkeypatch, capsys, command: str
) -> None:
    import torch

    from labeler.project import Project

    def work(*args, **kwargs):
        raise AssertionError("the work began before the device was checked")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(Project, command, work)
    assert main([command, str(proj), "--device", "cuda"]) == EXIT_ERROR
    assert "device 'cuda' was requested but torch" in error_line()


@pytest.mark.parametrize(("command", "doing"), [("finetune", "fine-tune"), ("adapt", "adapt")])
def test_finetune_and_adapt_with_the_images_folder_gone_say_how_to_bring_it_back(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys, command: str, doing: str
) -> None:
    _label_every_third(proj, colour_images, tmp_path)
    folder, _ = colour_images
    folder.rename(tmp_path / "away")  # the drive is not mounted
    capsys.readouterr()
    assert main([command, str(proj)]) == EXIT_ERROR
    assert error_line() == (
        f"labeler: error: the images folder {folder.resolve()} is not found (moved, renamed or "
        "not mounted: bring it back there (mount the drive, or move the folder back), or point "
        f"the project at the images' new place with `labeler init {proj} --images NEW_FOLDER`); "
        f"then {doing} again"
    )


@pytest.mark.parametrize(
    ("running", "command"), [("finetune", "finetune"), ("finetune", "adapt"), ("adapt", "finetune")]
)
def test_finetune_or_adapt_refuses_at_start_while_another_changes_the_weights(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys, running: str, command: str
) -> None:
    from labeler.locks import weights_lock

    _label_every_third(proj, colour_images, tmp_path)
    capsys.readouterr()
    with weights_lock(proj, command=running):  # as the running command holds it
        assert main([command, str(proj)]) == EXIT_ERROR
        assert error_line() == (
            f"labeler: error: another `labeler {running}` (process {os.getpid()}) is changing "
            f"this project's weights now; wait until it has finished, then run {command} again "
            "(two at once would each replace the other's weights)"
        )
    assert main([command, str(proj)]) == EXIT_ERROR  # let go: the command starts its work,
    assert "backbone 'fake' has no" in error_line()  # which the fake backbone cannot do


def test_init_warns_of_labels_lost_to_a_file_that_now_holds_another_image(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, truth = colour_images
    red, green = (next(p for p in sorted(truth) if truth[p] == c) for c in ("red", "green"))
    assert (
        main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", [(red, "red")]))])
        == 0
    )
    (folder / red).write_bytes((folder / green).read_bytes())
    capsys.readouterr()
    assert main(["init", str(proj)]) == 0
    err = capsys.readouterr().err
    assert "warning: removed 1 label: its file now holds another image" in err
    listed = re.search(r"--csv (\S+cleared-labels-\d{8}-\d{6}\.csv)` puts them back", err)
    assert listed and Path(listed[1]).parent == proj


def test_label_names_the_classes_it_creates(proj: Path, colour_images, tmp_path: Path, capsys):
    _, truth = colour_images
    first, second = sorted(truth)[:2]
    labels = _write_labels(tmp_path / "l.csv", [(first, "red"), (second, "rde")])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "2 new classes: 'red', 'rde'" in out  # a typo is seen at once
    assert out.startswith("2 labels set; 2 images labeled in all\n")
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    assert "new classes" not in capsys.readouterr().out


def test_label_warns_of_a_file_read_as_windows_1252(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """Excel's "CSV (Comma delimited)" on Windows: read, with a warning to check the names."""
    _, truth = colour_images
    first, second = sorted(truth)[:2]
    labels = tmp_path / "ansi.csv"
    labels.write_bytes(f"path,label\n{first},Ödem\n{second},Ödem\n".encode("cp1252"))
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    out, err = capsys.readouterr()
    assert "1 new class: 'Ödem'" in out
    assert f"warning: {labels} was read as Windows-1252 (cp1252), not UTF-8" in err
    utf8 = _write_labels(tmp_path / "utf8.csv", [(first, "Ödem")])
    assert main(["label", str(proj), "--csv", str(utf8)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_predict_says_when_nothing_can_be_flagged_yet_and_how_big_sets_are(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _, truth = colour_images
    labeled = [(p, truth[p]) for p in sorted(truth)[::4]]
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", labeled))]) == 0
    assert main(["predict", str(proj), "--conformal", "0.1"]) == 0
    out = capsys.readouterr().out
    assert f"none can be flagged yet; {49 - len(labeled)} more labels are needed" in out
    assert "fit no class (column ood" not in out
    assert re.search(r"prediction sets hold \d\.\d of the 3 classes on average", out)


def test_ctrl_c_during_init_says_the_work_is_kept(
    colour_images, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labeler.project import Project

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Project, "init", interrupted)
    folder, _ = colour_images
    assert main(["init", str(tmp_path / "p"), "--images", str(folder)]) == 130
    assert "kept: run it again to go on" in capsys.readouterr().err
    monkeypatch.setattr("labeler.cli.COMMANDS", {"status": interrupted})
    assert main(["status", str(tmp_path / "p")]) == 130
    assert capsys.readouterr().err == "labeler: interrupted\n"  # other commands: no promise


def test_the_command_ignores_ctrl_c_once_it_has_answered(
    proj: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`labeler` (the console script, `entry`) answers, then ignores Ctrl-C while Python shuts
    down: pressed then, it printed a traceback under a finished command's summary."""
    import signal

    from labeler.cli import entry

    monkeypatch.setattr(sys, "argv", ["labeler", "status", str(proj)])
    handler = signal.getsignal(signal.SIGINT)
    try:
        assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        assert entry() == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, handler)
    assert "images: 24" in capsys.readouterr().out


def test_ctrl_c_once_init_is_done_does_not_say_to_run_it_again(
    colour_images, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C while the summary prints: the project is complete, nothing to go on with."""
    import labeler.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(labeler.cli, "_print_init", interrupted)
    folder, _ = colour_images
    assert main(["init", str(tmp_path / "p"), "--images", str(folder), "--backbone", "fake"]) == 130
    assert capsys.readouterr().err.endswith("\nlabeler: interrupted\n")  # after the bars
    monkeypatch.undo()
    assert main(["status", str(tmp_path / "p")]) == 0  # it was saved whole
    assert "images: 24" in capsys.readouterr().out


def test_class_renames_merges_and_deletes(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    from labeler.project import Project

    _, truth = colour_images
    rows = [(p, c) for c in ("red", "green", "blue") for p in sorted(truth) if truth[p] == c][::4]
    assert {c for _, c in rows} == {"red", "green", "blue"}
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", rows))]) == 0
    capsys.readouterr()
    assert main(["class", str(proj), "rename", "red", "dark red"]) == 0
    assert main(["class", str(proj), "merge", "green", "dark red", "--annotator", "ana"]) == 0
    assert main(["class", str(proj), "delete", "blue"]) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if "to undo" not in line]
    assert out[0].startswith("renamed class red to dark red")
    assert out[1].startswith("merged class green into dark red") and "deleted class blue" in out[2]
    with Project(proj) as project:
        assert project.store.classes() == ["dark red"]
        expected = {p for p, c in rows if c in ("red", "green")}
        assert {lab.label for lab in project.store.labels()} == {"dark red"}
        assert len(project.store.labels()) == len(expected)
    assert main(["class", str(proj), "rename", "dark red"]) == EXIT_ERROR
    assert "takes 2 class names, got 1" in error_line()
    marked = ["--annotator", "q (accepted auto)"]  # the name of accepted predictions
    assert main(["class", str(proj), *marked, "delete", "x"]) == EXIT_ERROR
    assert "annotator name 'q (accepted auto)' contains '(accepted auto)'" in error_line()
    assert main(["class", str(proj), "delete", "nope"]) == EXIT_ERROR
    assert error_line().endswith("there is no class 'nope' to delete; the classes are 'dark red'")
    for action in (["rename", "DARK RED", "x"], ["merge", "Dark Red", "x"], ["delete", "DARK red"]):
        assert main(["class", str(proj), *action]) == EXIT_ERROR
        said = error_line()
        assert f"there is no class {action[1]!r} to {action[0]} (did you mean 'dark red'?)" in said


def test_class_rename_to_the_same_name_changes_nothing_and_says_so(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _, truth = colour_images
    red = [(p, c) for p, c in sorted(truth.items()) if c == "red"][:2]
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", red))]) == 0
    capsys.readouterr()
    for new in ("red", "red\u200e"):  # a direction mark is dropped: the same name
        assert main(["class", str(proj), "rename", "red", new]) == EXIT_ERROR
        assert error_line() == (
            "labeler: error: the old and new names are the same ('red'): nothing was changed; "
            "to rename the class, give a new name that differs from it"
        )
    assert main(["class", str(proj), "rename", "red", "Red"]) == 0  # in other case: a rename
    assert capsys.readouterr().out.splitlines() == [
        "renamed class red to Red",
        f"to undo: labeler class {proj} rename Red red",
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("RED", "'RED' differs from 'red' only in case"),
        ("ＲＥＤ", "differs from 'red' only in case or in the form of its characters"),
        ("nonexist", "there is no class 'nonexist' to merge 'green' into; merge into one of"),
    ],
)
def test_merge_is_into_an_existing_class_only(
    error_line, proj: Path, colour_images, tmp_path: Path, target: str, message: str
) -> None:
    _, truth = colour_images
    rows = [(p, c) for c in ("red", "green") for p in sorted(truth) if truth[p] == c][::4]
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", rows))]) == 0
    assert main(["class", str(proj), "merge", "green", target]) == EXIT_ERROR
    assert message in error_line()
    from labeler.project import Project

    with Project(proj) as project:
        assert sorted(project.store.classes()) == ["green", "red"]  # nothing changed


def test_class_edits_say_how_to_undo_them_and_the_saved_labels_put_them_back(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """Each edit saves a file of its own (none overwrites another) with who labeled each image
    and when; importing it puts the labels back as they were, those of a gone image too."""
    from labeler.project import Project

    folder, truth = colour_images
    rows = [(p, c) for c in ("red", "green") for p in sorted(truth) if truth[p] == c][::4]
    labels_csv = _write_labels(tmp_path / "l.csv", rows)
    assert main(["label", str(proj), "--csv", str(labels_csv), "--annotator", "ana"]) == 0
    capsys.readouterr()
    assert main(["class", str(proj), "rename", "red", "-dark red"]) == 0
    undo = capsys.readouterr().out.splitlines()[1]
    assert undo == f"to undo: labeler class {proj} rename -- '-dark red' red"
    assert main(["class", str(proj), "rename", "--", "-dark red", "red"]) == 0  # as it says
    gone = rows[0][0]  # a labeled image gone from the folder (an unmounted share, say)
    (folder / gone).rename(tmp_path / "away.png")
    assert main(["init", str(proj)]) == 0
    capsys.readouterr()

    def labels() -> dict[str, tuple[str, str, str]]:
        """{path: (label, annotator, labeled at)}, gone images' labels included."""
        with Project(proj) as project:
            kept = project.store.labels_and_annotators_of(
                [*project.store.gone_items().values(), *project._vectors().item_ids.tolist()]
            )
            paths = project.store.paths_of(list(kept))
            return {
                paths[i]: (label, who, project.store.label_history(i)[-1][2])
                for i, (label, who) in kept.items()
            }

    before = labels()
    assert {p: label for p, (label, _, _) in before.items()} == dict(rows)
    saved = []
    for edit in (["merge", "green", "red"], ["delete", "red"]):
        assert main(["class", str(proj), *edit]) == 0
        said = capsys.readouterr().out.splitlines()[1]
        file = Path(re.fullmatch(r"the labels as they were are in (\S+); to undo: .*", said)[1])
        assert said.endswith(f"to undo: labeler label {proj} --csv {file}")
        assert file.name.startswith("labels-before-class-edit-") and file not in saved
        saved.append(file)
        assert labels() != before
        assert main(["label", str(proj), "--csv", str(file)]) == 0
        out = capsys.readouterr().out
        assert ("1 of these labels is of images gone from" in out) == (edit[0] == "delete")
        assert labels() == before  # labels, annotators and times as they were
    assert all(f.is_file() for f in saved)  # the first edit's file is still there


def _export_csv(proj: Path, out: Path, capsys) -> tuple[list[dict], str]:
    """`labeler export` to `out`: its rows, and what it said on stderr."""
    capsys.readouterr()
    assert main(["export", str(proj), str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f)), capsys.readouterr().err


def test_export_warns_of_predictions_out_of_date(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """A class merged after `predict` drops the predictions of that class: the class command,
    the export and status say so until `predict` runs again."""
    _, truth = colour_images
    by_class: dict[str, list[str]] = {}
    for p in sorted(truth):
        by_class.setdefault(truth[p], []).append(p)
    red, green, blue = (by_class[c] for c in ("red", "green", "blue"))
    labeled = [(p, "red") for p in red[:2]] + [(p, "green") for p in green[:2]]
    labeled += [(p, "bleu") for p in blue[:2]]  # merged away below
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", labeled))]) == 0
    assert main(["predict", str(proj)]) == 0
    rows, err = _export_csv(proj, tmp_path / "a.csv", capsys)
    assert "warning" not in err and {r["source"] for r in rows} == {"human", "auto"}
    predicted_blue = sum(r["label"] == "bleu" and r["source"] == "auto" for r in rows)
    assert predicted_blue > 0
    assert main(["class", str(proj), "merge", "bleu", "green"]) == 0
    assert "are out of date: 2 label changes came after them" in capsys.readouterr().err
    rows, err = _export_csv(proj, tmp_path / "b.csv", capsys)
    assert f"{predicted_blue} unlabeled images have none" in err
    assert "Run `labeler predict` to bring them up to date" in err
    assert sum(r["source"] == "" for r in rows) == predicted_blue
    assert main(["status", str(proj)]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("last_prediction")]
    assert line.endswith(
        f"(out of date: 2 label changes came after them; {predicted_blue} unlabeled images have "
        "none (added since, or predicted as a class merged or deleted since); run `labeler "
        "predict`)"
    )
    assert line.count(" at ") == 1  # the run is named once
    assert main(["predict", str(proj)]) == 0
    rows, err = _export_csv(proj, tmp_path / "c.csv", capsys)
    assert "warning" not in err and all(r["source"] for r in rows)


def test_export_marks_the_confidences_not_calibrated(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """A class with a single hand label has no held-out label to calibrate on: its auto rows
    say calibrated = 0, the others 1, and the export names the class."""
    _, truth = colour_images
    by_class: dict[str, list[str]] = {}
    for p in sorted(truth):
        by_class.setdefault(truth[p], []).append(p)
    labeled = [(p, c) for c in ("red", "green") for p in by_class[c][:3]]
    labeled.append((by_class["blue"][0], "blue"))
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", labeled))]) == 0
    assert main(["predict", str(proj)]) == 0
    rows, err = _export_csv(proj, tmp_path / "a.csv", capsys)
    assert "the confidences of 1 class with a single hand label ('blue') are not calibrated" in err
    auto = [r for r in rows if r["source"] == "auto" and r["label"]]
    assert {r["calibrated"] for r in auto if r["label"] == "blue"} == {"0"}
    assert {r["calibrated"] for r in auto if r["label"] != "blue"} == {"1"}
    assert all(r["calibrated"] == "" for r in rows if r["source"] == "human")


def test_label_names_the_labels_it_replaces_and_counts_those_it_kept(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """Another annotator's label is not replaced silently: the report names it, who set it and
    the new label; rows that give an image its label again are counted, not changed."""
    _, truth = colour_images
    paths = sorted(truth)
    bob = _write_labels(tmp_path / "bob.csv", [(p, "red") for p in paths[:13]])
    assert main(["label", str(proj), "--csv", str(bob), "--annotator", "bob"]) == 0
    capsys.readouterr()
    carol = [(p, "green") for p in paths[:12]] + [(paths[12], "red"), (paths[13], "blue")]
    carol_csv = _write_labels(tmp_path / "carol.csv", carol)
    assert main(["label", str(proj), "--csv", str(carol_csv), "--annotator", "carol"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "13 labels set; 14 images labeled in all",
        "2 new classes: 'green', 'blue'",
        "replaced 12 earlier labels:",
        *(f"  {p} was 'red' (bob), now 'green'" for p in paths[:10]),
        "  … and 2 more",
        "1 image already had the label given: unchanged",
    ]
    one = _write_labels(tmp_path / "one.csv", [(paths[0], "blue")])
    assert main(["label", str(proj), "--csv", str(one), "--annotator", "dan"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 label set; 14 images labeled in all",
        "replaced 1 earlier label:",
        f"  {paths[0]} was 'green' (carol), now 'blue'",
    ]


def test_label_counts_one_row_and_one_line_in_the_singular(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _, truth = colour_images
    first, second = sorted(truth)[:2]
    labels = _write_labels(tmp_path / "l.csv", [(first, "red"), (second, "")])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 label set; 1 image labeled in all\n")
    assert "skipped 1 row with a path but no label (line 3);" in out


def test_init_on_another_folder_warns_and_the_labels_come_back(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """A mistyped --images on an existing project: a warning names both folders, and init on
    the first folder again brings every label back, also of a name that the other folder
    uses for another image (PACS exports name files IM0001, …: names say nothing there)."""
    folder, truth = colour_images
    path = sorted(truth)[0]
    labels = _write_labels(tmp_path / "l.csv", [(path, truth[path])])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "one.png").write_bytes((folder / sorted(truth)[1]).read_bytes())
    coloured((1, 2, 3), seed=99).save(other / path)  # the labeled file's name, another image
    capsys.readouterr()
    assert main(["init", str(proj), "--images", str(other)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(
        f"2 images in {proj} (1 new, 1 renamed, 0 changed, {len(truth) - 1} gone)"
    )
    assert "removed" not in err
    assert (
        f"warning: this project's images were in {folder.resolve()}; now scanning "
        f"{other.resolve()} (labels of images not found there are kept, and come back when you "
        f"run `labeler init {proj} --images {folder.resolve()}` again)"
    ) in err
    assert main(["init", str(proj), "--images", str(folder)]) == 0
    assert "now scanning" in capsys.readouterr().err  # back: the warning names the move again
    assert main(["init", str(proj)]) == 0
    assert "warning" not in capsys.readouterr().err  # the same folder: nothing to say
    assert main(["status", str(proj)]) == 0
    assert "labeled: 1" in capsys.readouterr().out


def test_init_on_an_empty_other_folder_names_the_first_as_the_way_back(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, truth = colour_images
    path = sorted(truth)[0]
    assert (
        main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", [(path, "red")]))])
        == 0
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(["init", str(proj), "--images", str(empty)]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "warning" in line] == [
        f"warning: no images found in {empty.resolve()}; this project's images were in "
        f"{folder.resolve()}: their labels are kept, and come back when you run `labeler init "
        f"{proj} --images {folder.resolve()}`"
    ]  # not "every image is gone from" the empty folder: they were never there
    assert main(["init", str(proj), "--images", str(folder)]) == 0
    assert main(["status", str(proj)]) == 0
    assert "labeled: 1" in capsys.readouterr().out


def test_init_on_a_folder_with_no_images_warns(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.rtf").write_text("no image")
    assert main(["init", str(tmp_path / "p"), "--images", str(empty), "--backbone", "fake"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("0 images in ")
    assert "skipped 1 file (all listed in" in out
    assert f"warning: no images found in {empty.resolve()}; pass --images with the folder" in err


def test_init_lists_new_images_with_more_than_one_frame_once(tmp_path: Path, capsys) -> None:
    folder, proj = tmp_path / "images", tmp_path / "p"
    frames = write_multi_frame_set(folder)
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("7 images in ")
    at = out.index(
        "4 images have more than one frame (multi-frame DICOM, multi-page TIFF, animated "
        "WebP/PNG): each is shown, embedded and labeled by its first frame"
    )
    # the stills (the phone's MPO photo among them) are not listed, and nothing follows
    assert out[at + 1 :] == [f"  {path}: {n} frames" for path, n in sorted(frames.items())]
    assert main(["init", str(proj)]) == 0  # a rescan: the same files are not new
    assert "frame" not in capsys.readouterr().out


def test_a_project_with_every_image_labeled_says_so(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    _, truth = colour_images
    labels = _write_labels(tmp_path / "all.csv", sorted(truth.items()))
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    capsys.readouterr()
    assert main(["predict", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "predicted 0 images" in out and "every image has a label: nothing was left" in out
    assert "threshold reaches" not in out and "needs two labels" not in out  # wrong reasons
    assert main(["curve", str(proj)]) == 0
    assert capsys.readouterr().out.strip() == (
        "no estimate: every image has a label, so there are no auto-labels to estimate"
    )
    assert main(["status", str(proj)]) == 0
    assert "estimated_accuracy: every image has a label" in capsys.readouterr().out


def test_status_says_when_the_images_folder_is_missing(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, _ = colour_images
    folder.rename(tmp_path / "moved")
    assert main(["status", str(proj)]) == 0
    assert (
        f"images_root: {folder.resolve()} (not found: moved, renamed or not mounted: bring it "
        "back there (mount the drive, or move the folder back), or point the project at the "
        f"images' new place with `labeler init {proj} --images NEW_FOLDER`)"
    ) in capsys.readouterr().out.splitlines()


def test_ctrl_c_while_predict_checks_the_labels_says_what_was_kept(
    proj: Path, colour_images, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labeler.project

    _, truth = colour_images
    labels = _write_labels(tmp_path / "l.csv", [(p, truth[p]) for p in sorted(truth)[::3]])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(labeler.project, "record_estimate", interrupted)
    capsys.readouterr()
    assert main(["predict", str(proj)]) == 130
    err = capsys.readouterr().err
    assert "interrupted while checking the labels" in err and "are saved (export has them)" in err
    assert main(["export", str(proj), str(tmp_path / "out.csv")]) == 0
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as f:
        sources = {row["source"] for row in csv.DictReader(f)}
    assert "auto" in sources  # the predictions the message says are kept
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "the last predict was interrupted while checking the labels" in out
    assert "they changed since" not in out  # they did not


@pytest.mark.parametrize("stage", ["training", "re-embedding"])
def test_ctrl_c_during_finetune_says_the_project_is_as_it_was(
    proj: Path, colour_images, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, stage
) -> None:
    import labeler.finetune.checkpoint
    from labeler.project import Project

    _, truth = colour_images
    labels = _write_labels(tmp_path / "l.csv", [(p, truth[p]) for p in sorted(truth)[::3]])
    assert main(["label", str(proj), "--csv", str(labels)]) == 0
    with Project(proj) as project:
        before = project.model_key

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def trained(folder, *args, **kwargs):
        return folder / "finetuned" / "weights.pt", None

    if stage == "training":
        monkeypatch.setattr(labeler.finetune.checkpoint, "finetune_checkpoint", interrupted)
    else:
        monkeypatch.setattr(labeler.finetune.checkpoint, "finetune_checkpoint", trained)
        monkeypatch.setattr(Project, "update", interrupted)
    capsys.readouterr()
    assert main(["finetune", str(proj), "--steps", "1"]) == 130
    err = capsys.readouterr().err.splitlines()[-1]
    said = "while training: nothing was saved" if stage == "training" else "with the new weights"
    assert err.startswith("labeler: interrupted ") and said in err
    assert "the project keeps its weights and vectors" in err
    monkeypatch.undo()
    with Project(proj) as project:
        assert project.model_key == before


def test_an_export_imported_into_another_project_keeps_who_labeled_and_when(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    """Provenance survives a move: the annotator and time of each label, and a bulk-accepted
    prediction stays one (never trained on as a hand label)."""
    from labeler.project import Project
    from labeler.store.annotator import accepted_annotator

    folder, truth = colour_images
    first, second, third = sorted(truth)[:3]
    with Project(proj) as project:
        v = project._vectors()
        item = {p: int(v.item_ids[v.paths.index(p)]) for p in (first, second)}
        past = "2020-01-02T03:04:05Z"  # not the time of any import
        project.store.set_labels([(item[first], truth[first])], annotator="dr who", at=past)
        project.store.set_labels(
            [(item[second], truth[second])], annotator=accepted_annotator("ana"), at=past
        )
        labels = project.store.labels()
        where = project.store.paths_of([lab.item_id for lab in labels])
        before = {where[lab.item_id]: lab for lab in labels}
    out = tmp_path / "out.csv"
    assert main(["export", str(proj), str(out)]) == 0
    with out.open("a", encoding="utf-8") as f:  # a row filled in by hand, without provenance
        f.write(f"{third},{truth[third]},,,,,,,\n")
    other = tmp_path / "other"
    assert main(["init", str(other), "--images", str(folder), "--backbone", "fake"]) == 0
    capsys.readouterr()
    assert main(["label", str(other), "--csv", str(out), "--annotator", "importer"]) == 0
    said = capsys.readouterr().out
    assert (
        "kept from the file: the annotator of 2 rows and the labeled_at time of 2; other rows "
        "are recorded as 'importer', at the time of this import"
    ) in said
    with Project(other) as moved:
        labels = moved.store.labels()
        where = moved.store.paths_of([lab.item_id for lab in labels])
        after = {where[lab.item_id]: lab for lab in labels}
        _, _, hand = moved._label_rows()
    for path in (first, second):
        assert after[path].annotator == before[path].annotator
        assert after[path].labeled_at == before[path].labeled_at == "2020-01-02T03:04:05Z"
    assert after[third].annotator == "importer"
    assert sorted(hand.tolist()) == [False, True, True]  # the accepted one is still accepted


def test_label_reads_standard_input_and_says_what_a_file_lacks(
    error_line, proj: Path, colour_images, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    _, truth = colour_images
    first = sorted(truth)[0]
    piped = f"path,label\n{first},{truth[first]}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piped)))
    assert main(["label", str(proj), "--csv", "-"]) == 0  # `… | labeler label P --csv -`
    assert capsys.readouterr().out.startswith("1 label set; 1 image labeled in all")
    empty = tmp_path / "header.csv"
    empty.write_text("path,label\n", encoding="utf-8")
    assert main(["label", str(proj), "--csv", str(empty)]) == 0
    said = capsys.readouterr().err.strip()
    assert said == f"warning: {empty} has no rows below its header: nothing to import"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"path,label\nx.png\n")))
    assert main(["label", str(proj), "--csv", "-"]) == EXIT_ERROR
    assert error_line().startswith("labeler: error: standard input, line 2: expected 2 cells")
    short = tmp_path / "short.csv"
    short.write_text(f"path,label\n{first}\n", encoding="utf-8")
    assert main(["label", str(proj), "--csv", str(short)]) == EXIT_ERROR
    assert error_line().endswith(
        "line 2: expected 2 cells, got 1; give the row its path and label cells, or delete it; "
        "nothing was imported"
    )


def test_label_warns_of_byte_identical_images_under_two_labels(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, truth = colour_images
    first = sorted(truth)[0]
    (folder / "copy.png").write_bytes((folder / first).read_bytes())
    assert main(["init", str(proj)]) == 0
    rows = [(first, "red"), ("copy.png", "blue")]
    capsys.readouterr()
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", rows))]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: 1 pair of labeled images hold the same content")
    assert err[1] == f"  {first} is 'red', copy.png is 'blue'" or err[1] == (
        f"  copy.png is 'blue', {first} is 'red'"
    )
    rows = [("copy.png", "red")]  # mended: nothing more to say
    assert main(["label", str(proj), "--csv", str(_write_labels(tmp_path / "l.csv", rows))]) == 0
    assert "same content" not in capsys.readouterr().err


def test_commands_it_suggests_quote_a_path_with_spaces(colour_images, tmp_path: Path, capsys):
    folder, truth = colour_images
    proj = tmp_path / "proj one"
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    gone = sorted(truth)[0]
    (tmp_path / "l.csv").write_text(f"path,label\n{gone},red\n", encoding="utf-8")
    assert main(["label", str(proj), "--csv", str(tmp_path / "l.csv")]) == 0
    (folder / gone).unlink()
    assert main(["init", str(proj)]) == 0
    capsys.readouterr()
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert f"`labeler init '{proj}'` once they are back" in out  # pasted, it runs


def test_lists_keep_a_file_name_with_a_newline_on_one_line(
    proj: Path, colour_images, tmp_path: Path, capsys
) -> None:
    folder, truth = colour_images
    odd = "two\nlines.png"
    (folder / odd).write_bytes((folder / sorted(truth)[0]).read_bytes())
    assert main(["init", str(proj)]) == 0
    csv = tmp_path / "l.csv"
    for label in ("red", "blue"):
        csv.write_text(f'path,label\n"{odd}",{label}\n', encoding="utf-8")
        capsys.readouterr()
        assert main(["label", str(proj), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  two\\nlines.png was 'red' (expert), now 'blue'" in out


def test_a_de_identified_dicom_keeps_its_label_also_in_a_project_made_before(
    tmp_path: Path, capsys
) -> None:
    """An anonymiser rewrites the headers of a project's DICOM files (one also renamed): the
    images keep their labels and are embedded again. The project's items were recorded without
    pixel identities, as a project made before them was: a rescan of the same files adds them."""
    import sqlite3

    import numpy as np
    import pydicom
    from imagegen import write_dicom
    from pydicom.uid import generate_uid

    folder, proj = tmp_path / "images", tmp_path / "proj"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        write_dicom(folder / f"IM{i}", rng.integers(0, 4000, (24, 24)).astype(np.uint16))
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    labels = _write_labels(tmp_path / "l.csv", [("IM0", "nodule"), ("IM1", "clear")])
    assert main(["label", str(proj), "--csv", str(labels), "--annotator", "ana"]) == 0
    with sqlite3.connect(proj / DB_NAME) as db:
        db.execute("UPDATE items SET pixels = NULL")  # as recorded before pixel identities
    assert main(["init", str(proj)]) == 0  # the same files: their identities are recorded
    with sqlite3.connect(proj / DB_NAME) as db:
        assert db.execute("SELECT count(pixels) FROM items").fetchone() == (3,)
    for name, new in (("IM0", "IM0"), ("IM1", "anon-IM1")):
        ds = pydicom.dcmread(folder / name)
        ds.PatientName, ds.SOPInstanceUID = "ANONYMOUS", generate_uid()
        (folder / name).unlink()
        ds.save_as(folder / new)
    capsys.readouterr()
    assert main(["init", str(proj)]) == 0
    out, err = capsys.readouterr()
    assert "(0 new, 1 renamed, 0 changed, 0 gone); embedded 2 with fake" in out
    assert "2 DICOM files with a new header over the same pixels" in out
    assert "removed" not in err
    out_csv = tmp_path / "out.csv"
    assert main(["export", str(proj), str(out_csv)]) == 0
    with out_csv.open(newline="") as f:
        human = {
            r["path"]: (r["label"], r["annotator"])
            for r in csv.DictReader(f)
            if r["source"] == "human"
        }
    assert human == {"IM0": ("nodule", "ana"), "anon-IM1": ("clear", "ana")}
