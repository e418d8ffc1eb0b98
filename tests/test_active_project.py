"""Active learning through the facade and the command line: suggestions, the accuracy estimate
recorded as labels change, and the learning curve (fake embedder, planted colour classes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import labeler.project
from labeler.browse import ANY_CLASS
from labeler.cli import main
from labeler.errors import LabelerError
from labeler.project import Project
from labeler.store import Store
from labeler.store.annotator import accepted_annotator
from labeler.store.schema import MIGRATIONS


def _per_class(truth: dict[str, str], k: int, start: int = 0) -> list[tuple[str, str]]:
    by_class: dict[str, list[str]] = {}
    for path in sorted(truth):
        by_class.setdefault(truth[path], []).append(path)
    return [(p, c) for c, paths in sorted(by_class.items()) for p in paths[start : start + k]]


def test_predict_records_an_estimate_and_the_curve_grows_with_labels(
    project: Project, colour_images
) -> None:
    _, truth = colour_images
    assert project.learning_curve() == []  # no labels: nothing to estimate
    project.label(_per_class(truth, 1))
    report = project.predict()
    assert report.estimate is None  # one label per class cannot be checked
    assert report.uncalibrated == sorted(set(truth.values()))
    assert project.learning_curve() == []

    project.label(_per_class(truth, 1, start=1))
    report = project.predict()
    e = report.estimate
    assert report.uncalibrated == []
    assert e is not None and e.n_labels == 6 and e.checked == 6
    # Planted colour classes are easy: every auto-label is right, and the estimate says so.
    assert e.low <= 1.0 <= e.high + 1e-9 and e.accuracy > 0.9
    assert project.learning_curve() == [(6, e.accuracy, e.low, e.high)]
    assert project.learning_curve() == [(6, e.accuracy, e.low, e.high)]  # no refit, no new point

    project.label(_per_class(truth, 1, start=2))  # labels changed: the curve fits a new point
    curve = project.learning_curve()
    assert [n for n, *_ in curve] == [6, 9]
    assert all(0 <= low <= acc <= high <= 1 for _, acc, low, high in curve)
    assert "from 9 labels" in project.status()["estimated_accuracy"]


def test_a_label_given_while_the_check_is_fitted_does_not_void_it(
    project: Project, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI's accuracy check refits out of fold (slow); another expert's label given
    meanwhile once made it say that no check could be made. It is the check of the labels it
    was fitted on, and says how many."""
    _, truth = colour_images
    project.label(_per_class(truth, 2))
    fit = project._fit

    def fit_while_a_label_comes(*args, **kwargs):
        project.label(_per_class(truth, 1, start=2))
        return fit(*args, **kwargs)

    monkeypatch.setattr(project, "_fit", fit_while_a_label_comes)
    check = project.workbench().accuracy_check()  # as the Trust tab makes it
    assert check.labels == 6 and check.current is not None and check.current[0] == 6
    assert check.curve == [check.current]


def test_status_gives_the_estimate_of_the_labels_now(project: Project, colour_images) -> None:
    from labeler.reports import NOT_FOR_THESE_LABELS

    _, truth = colour_images
    project.label(_per_class(truth, 2))
    project.predict()
    six = project.status()["estimated_accuracy"]
    assert six.endswith("from 6 labels")
    bench = project.workbench()
    edit = bench.assign([_per_class(truth, 1, start=2)[0][0]], "blue", annotator="ana")
    assert project.status()["estimated_accuracy"] == NOT_FOR_THESE_LABELS  # not the 6's
    bench.undo(edit, annotator="ana")
    assert project.status()["estimated_accuracy"] == six  # those labels again


def test_suggest_with_a_committee_strategy_and_zero_labels(project: Project, colour_images) -> None:
    _, truth = colour_images
    with pytest.raises(LabelerError, match="committee"):
        project.suggest(2, strategy="disagreement")
    project.label(_per_class(truth, 2))
    got = project.suggest(3, strategy="disagreement")
    assert len(got) == 3 and all(g["reason"].startswith("the ") for g in got)
    assert not {g["path"] for g in got} & {p for p, _ in _per_class(truth, 2)}


def test_suggest_scores_with_the_browsers_head_fitted_on_hand_labels(
    project: Project, colour_images
) -> None:
    _, truth = colour_images
    hand = _per_class(truth, 2)
    project.label(hand)
    # A bulk-accepted prediction, planted wrong: it must not train the head, and being labeled
    # it must never be suggested.
    wrong_path, wrong_class = next((p, c) for p, c in _per_class(truth, 1, start=3))
    other = next(c for c in sorted(set(truth.values())) if c != wrong_class)
    ids = {it.path: it.id for it in project.store.items()}  # as a bulk accept records it
    project.store.set_labels([(ids[wrong_path], other)], annotator=accepted_annotator("ann"))

    rows, labels = project._labeled(hand_only=True)
    assert len(rows) == len(hand)
    head, proba = project.fit_rows(project.live_method(), rows, labels)
    paths = project._vectors().paths
    got = project.suggest(len(truth))
    assert got and wrong_path not in {g["path"] for g in got}
    assert not {g["path"] for g in got} & {p for p, _ in hand}
    for g in got:
        p = proba[paths.index(g["path"])]
        assert g["predicted"] == head.classes_[p.argmax()]
        assert g["confidence"] == pytest.approx(float(p.max()), abs=1e-6)


@pytest.mark.parametrize("strategy", ["margin", "badge", "auto", "disagreement", "typiclust"])
def test_suggest_never_asks_for_a_copy_of_a_labeled_image(
    tmp_path: Path, colour_images, strategy: str
) -> None:
    import shutil

    folder, truth = colour_images
    labeled = _per_class(truth, 2)
    copies = [f"copy_{i}.png" for i in range(len(labeled))]
    for (path, _), copy in zip(labeled, copies, strict=True):
        shutil.copy(folder / path, folder / copy)  # byte for byte: the same image
    with Project.init(tmp_path / "p", images=folder, backbone="fake", progress=False)[0] as p:
        p.label(labeled)
        got = {g["path"] for g in p.suggest(len(truth) + len(copies), strategy=strategy)}
        assert got and not got & set(copies)
        assert got <= set(truth) - {path for path, _ in labeled}


@pytest.mark.parametrize("strategy", ["margin", "badge", "auto", "coreset"])
def test_suggest_says_which_images_fit_no_class_by_the_labels_it_has_now(
    project: Project, colour_images, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    from labeler.ood import OodDetector

    _, truth = colour_images
    paths = project._vectors().paths
    fit = OodDetector.fit

    def remember_classes(self, X, y, **kwargs):
        self.seen = set(y)
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(OodDetector, "fit", remember_classes)  # flagged: of no labeled class
    monkeypatch.setattr(
        OodDetector, "pool_flags", lambda self: np.array([truth[p] not in self.seen for p in paths])
    )
    project.label([(p, c) for p, c in _per_class(truth, 2) if c != "blue"])  # and no predict
    got = project.suggest(len(truth), strategy=strategy)
    assert {truth[g["path"]] for g in got} == {"red", "green", "blue"}
    for g in got:
        said = "fits no class" in g["reason"]
        assert said == (truth[g["path"]] == "blue"), g
        assert "uncertain" not in g["reason"] or not said
    project.label([(p, c) for p, c in _per_class(truth, 1) if c == "blue"])  # a class now
    assert not [g for g in project.suggest(len(truth)) if "fits no class" in g["reason"]]


def test_a_bulk_accept_and_its_undo_add_no_point_and_no_refit(
    project: Project, colour_images, monkeypatch
) -> None:
    """The estimate depends on the hand labels alone: accepting predictions in bulk changes the
    labels, not the hand labels, so the curve keeps its point and nothing is refitted."""
    _, truth = colour_images
    project.label(_per_class(truth, 2))
    first = project.learning_curve()
    assert [n for n, *_ in first] == [6]
    fits = []
    monkeypatch.setattr(project, "_fit", lambda method: fits.append(method) or 1 / 0)
    wb = project.workbench()
    edit = wb.accept(0.0, ANY_CLASS, annotator="ana", confirmed=True)
    assert len(project.store.labels()) == len(truth)  # every prediction accepted
    assert project.learning_curve() == first
    wb.undo(edit, annotator="ana")
    assert project.learning_curve() == first and fits == []
    monkeypatch.undo()
    project.label(_per_class(truth, 1, start=2))  # new hand labels: a new point
    assert [n for n, *_ in project.learning_curve()] == [6, 9]


def test_learning_curve_keeps_to_one_head(project: Project, colour_images) -> None:
    _, truth = colour_images
    project.label(_per_class(truth, 2))
    assert [n for n, *_ in project.learning_curve(method="protonet")] == [6]
    project.label(_per_class(truth, 1, start=2))
    assert project.live_method() == "auto"
    assert [n for n, *_ in project.learning_curve()] == [9]  # the protonet point is not auto's
    # ProtoNet's own earlier point, and the current one refitted (one point per label state).
    assert [n for n, *_ in project.learning_curve(method="protonet")] == [6, 9]


def test_learning_curve_makes_the_key_of_its_labels_once(
    project: Project, colour_images, monkeypatch
) -> None:
    _, truth = colour_images
    project.label(_per_class(truth, 2))
    keys = []
    estimate_key = labeler.project.estimate_key
    monkeypatch.setattr(
        labeler.project, "estimate_key", lambda *a: keys.append(a) or estimate_key(*a)
    )
    assert [n for n, *_ in project.learning_curve(method="protonet")] == [6]  # fitted and stored
    assert len(keys) == 1
    assert [n for n, *_ in project.learning_curve(method="protonet")] == [6]  # found under it
    assert len(keys) == 2


def test_predict_again_on_the_same_labels_reads_its_estimate_back(
    project: Project, colour_images, monkeypatch, capsys
) -> None:
    """The estimate's refits (a nested cross-validation) are the slow part of predict: made
    once per set of hand labels, then read back, with the same figures."""
    import labeler.estimates

    _, truth = colour_images
    project.label(_per_class(truth, 3))
    made = []
    estimate = labeler.estimates.estimate_auto_label_accuracy
    monkeypatch.setattr(
        labeler.estimates,
        "estimate_auto_label_accuracy",
        lambda *a, **kw: made.append(a) or estimate(*a, **kw),
    )
    first = project.predict().estimate
    assert "checking the labels" in capsys.readouterr().err  # its refits, shown
    again = project.predict().estimate
    assert len(made) == 1 and first is not None
    assert "checking the labels" not in capsys.readouterr().err  # none: read back
    assert again == first  # the same figures, read back
    project.label(_per_class(truth, 1, start=3))
    assert project.predict().estimate.n_labels == first.n_labels + 3 and len(made) == 2


def test_cli_predict_prints_the_estimate_and_curve_prints_the_curve(
    tmp_path: Path, colour_images, capsys
) -> None:
    folder, truth = colour_images
    proj = str(tmp_path / "proj")
    assert main(["init", proj, "--images", str(folder), "--backbone", "fake"]) == 0
    assert main(["curve", proj]) == 0
    assert "no estimate yet" in capsys.readouterr().out
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"{p},{c}\n" for p, c in _per_class(truth, 1)))
    assert main(["label", proj, "--csv", str(labels)]) == 0
    assert main(["predict", proj]) == 0
    assert "not calibrated for blue, green, red: one label each" in capsys.readouterr().out
    rows = _per_class(truth, 3)
    labels.write_text("path,label\n" + "".join(f"{p},{c}\n" for p, c in rows))
    assert main(["label", proj, "--csv", str(labels)]) == 0
    assert main(["predict", proj]) == 0
    out = capsys.readouterr().out
    assert "estimated accuracy of the auto-labels: " in out and "from the 9 expert labels" in out
    assert main(["curve", proj]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("labels") and len(lines) == 2
    assert lines[1].split()[0] == "9" and "#" in lines[1]
    assert main(["status", proj]) == 0
    assert "estimated_accuracy: " in capsys.readouterr().out


def test_estimates_table_replaces_the_point_of_the_same_labels(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite", create=True) as store:
        store.add_estimate(label_state=3, method="protonet", n_labels=6, accuracy=0.5, low=0.3,
                           high=0.7)  # fmt: skip
        store.add_estimate(label_state=9, method="protonet", n_labels=9, accuracy=0.8, low=0.7,
                           high=0.9)  # fmt: skip
        store.add_estimate(label_state=3, method="protonet", n_labels=6, accuracy=0.6, low=0.4,
                           high=0.8)  # fmt: skip
        got = [(e.label_state, e.n_labels, e.accuracy) for e in store.estimates()]
        assert got == [(3, 6, 0.6), (9, 9, 0.8)]
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
