"""Predict and export end to end: calibrated auto-labels, OOD flags, thresholds, conformal sets,
the cached kNN graph; with the fake embedder on planted colour classes and noise outliers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from imagegen import noise_rgb, write_colour_set

import labeler.autolabel as autolabel
from labeler import browse
from labeler.autolabel import GRAPH_NAME, cached_pool_graph
from labeler.cli import main
from labeler.export import CSV_COLUMNS
from labeler.project import EXTRA_COLUMNS, Project

LABELED_PER_CLASS = 17  # 51 labels: enough for the OOD detector's 2% level


@pytest.fixture
def outlier_project(tmp_path: Path):
    """3 colour classes x 24 images, 4 noise images that are none of them; 17 labels a class."""
    folder = tmp_path / "images"
    truth = write_colour_set(folder, 24)
    for i in range(4):
        noise_rgb(24, 24, seed=i).save(folder / f"noise_{i}.png")
    project, _ = Project.init(tmp_path / "proj", images=folder, backbone="fake", progress=False)
    by_class: dict[str, list[str]] = {}
    for path, label in sorted(truth.items()):
        by_class.setdefault(label, []).append(path)
    project.label([(p, c) for c, paths in by_class.items() for p in paths[:LABELED_PER_CLASS]])
    yield project, truth
    project.close()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_predict_flags_outliers_and_exports_the_extra_columns(outlier_project, tmp_path) -> None:
    project, truth = outlier_project
    report = project.predict(conformal_alpha=0.1)
    assert report.method == "auto" and report.choice.startswith("auto: ")
    assert report.predicted == len(truth) + 4 - 3 * LABELED_PER_CLASS
    assert report.ood >= 4
    project.export_csv(tmp_path / "out.csv")
    rows = _read(tmp_path / "out.csv")
    assert list(rows[0]) == list(CSV_COLUMNS) + list(EXTRA_COLUMNS)
    auto = {r["path"]: r for r in rows if r["source"] == "auto"}
    for i in range(4):  # the noise images fit no class: flagged, no label forced on them
        row = auto[f"noise_{i}.png"]
        assert row["ood"] == "1" and row["label"] == "" and row["confidence"] == ""
    kept = [r for p, r in auto.items() if p in truth and r["ood"] == "0"]
    assert len(kept) >= 18
    for r in kept:
        assert r["label"] == truth[r["path"]]
        assert r["label"] in json.loads(r["prediction_set"])
        assert 0.0 <= float(r["confidence"]) <= 1.0
    assert all(r["ood"] == "" for r in rows if r["source"] == "human")
    sizes = [len(json.loads(r["prediction_set"])) for r in auto.values()]
    assert report.set_size == pytest.approx(np.mean(sizes))  # the sets' mean size, reported


def test_predict_reports_a_threshold_for_the_target_precision(outlier_project) -> None:
    project, _ = outlier_project
    report = project.predict(method="protonet", target_precision=0.9)
    assert report.choice == "protonet" and report.target_precision == 0.9
    assert 0.0 < report.threshold <= 1.0 and 0.0 < report.coverage <= 1.0
    run = project.store.latest_run()
    assert run.params["threshold"] == pytest.approx(report.threshold)
    extras = project.store.prediction_extras(run.id)
    assert all(s is None for _, s in extras.values())  # no conformal sets asked for
    assert report.set_size is None


def test_cli_predict_says_what_auto_chose(outlier_project, capsys) -> None:
    project, _ = outlier_project
    assert main(["predict", str(project.path), "--conformal", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "chose auto: " in out and "auto-accept at confidence" in out
    assert "fit no class" in out
    with pytest.raises(SystemExit):  # argparse refuses it, naming the allowed range
        main(["predict", str(project.path), "--target-precision", "1.5"])
    assert "between 0 and 1" in capsys.readouterr().err


def test_one_label_a_class_gives_no_threshold(project, colour_images, capsys) -> None:
    """Nothing held out, nothing calibrated: whatever the confidences, none is auto-accepted."""
    _, truth = colour_images
    first = {}
    for path, label in sorted(truth.items()):
        first.setdefault(label, path)
    project.label([(p, c) for c, p in first.items()])
    report = project.predict(method="protonet")
    assert report.uncalibrated == sorted(first)
    assert report.threshold == float("inf") and report.coverage == 0.0
    assert main(["predict", str(project.path), "--method", "protonet"]) == 0
    assert "no auto-accept threshold: with one label a class" in capsys.readouterr().out


def test_the_pool_graph_is_cached_until_the_items_change(tmp_path, monkeypatch) -> None:
    raw = np.random.default_rng(0).random((30, 8)).astype(np.float32)
    ids = np.arange(30, dtype=np.int64)
    first = cached_pool_graph(tmp_path, "m@1", ids, raw)
    assert (tmp_path / GRAPH_NAME).is_file()

    def refuse(_):
        raise AssertionError("the graph should have come from the cache")

    monkeypatch.setattr(autolabel, "pool_graph", refuse)
    again = cached_pool_graph(tmp_path, "m@1", ids, raw)
    np.testing.assert_array_equal(first.neighbours, again.neighbours)
    monkeypatch.undo()
    other = cached_pool_graph(tmp_path, "m@1", ids[:-1], raw[:-1])  # an image went away
    assert len(other) == 29
    assert len(cached_pool_graph(tmp_path, "m@2", ids[:-1], raw[:-1])) == 29  # new embedder


def _savez_over(file, **arrays) -> None:
    with open(file, "wb") as f:  # np.savez given a path would add ".npz" to it
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f.write_text("junk"),
        lambda f: f.write_bytes(f.read_bytes()[:1000]),  # truncated
        lambda f: _savez_over(f, model=np.array("m@1")),  # ours once, without the arrays
        lambda f: _savez_over(f, model=np.array({"a": 1}, dtype=object)),  # pickled: refused
    ],
    ids=["junk", "truncated", "no-arrays", "pickled"],
)
def test_a_damaged_graph_file_is_rebuilt(tmp_path, damage) -> None:
    raw = np.random.default_rng(0).random((30, 8)).astype(np.float32)
    ids = np.arange(30, dtype=np.int64)
    first = cached_pool_graph(tmp_path, "m@1", ids, raw)
    damage(tmp_path / GRAPH_NAME)
    again = cached_pool_graph(tmp_path, "m@1", ids, raw)
    np.testing.assert_array_equal(first.neighbours, again.neighbours)
    np.testing.assert_array_equal(first.similarities, again.similarities)
    assert autolabel._read_graph(tmp_path / GRAPH_NAME, "m@1", ids, 30) is not None  # rewritten


def test_the_browser_leaves_out_what_predict_flags_and_accepts_no_image_that_fits_no_class(
    outlier_project, tmp_path
) -> None:
    project, _ = outlier_project
    wb = project.workbench()
    snap = wb.snapshot()
    noise = [wb.row(f"noise_{i}.png") for i in range(4)]
    assert snap.ood[noise].all()
    listed = wb.page(browse.Query(show=browse.FITS_NO_CLASS, page_size=1000))
    assert sorted(t.row for t in listed.tiles) == np.flatnonzero(snap.ood & ~snap.labeled).tolist()
    assert all(t.ood for t in listed.tiles) and wb.details(wb.paths[noise[0]]).ood
    a = browse.acceptance(snap, 0.0)
    assert not a.needs_confirmation and a.caution == ""  # flags work: no box to tick
    assert not set(noise) & set(a.rows.tolist()) and a.ood == int((snap.ood & ~snap.labeled).sum())
    assert a.count == int((~snap.labeled & ~snap.ood).sum())
    project.predict()
    project.export_csv(tmp_path / "out.csv")
    exported = {r["path"]: r["ood"] == "1" for r in _read(tmp_path / "out.csv") if r["ood"]}
    assert exported == {wb.paths[r]: bool(snap.ood[r]) for r in np.flatnonzero(~snap.labeled)}
    wb.accept(0.0, browse.ANY_CLASS, annotator="ana")
    after = wb.snapshot()
    assert after.labeled[~snap.labeled & ~snap.ood].all()
    assert not after.labeled[noise].any()  # accepting everything still forces no class on them
