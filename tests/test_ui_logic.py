"""The logic behind the browser UI, without a browser: live predictions, paging and filters,
trust thresholds, review queue, map, and the workbench's edits and export."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from imagegen import write_colour_set

from labeler import browse
from labeler.datamap import points_to_draw, project_2d
from labeler.errors import LabelerError
from labeler.project import Project
from labeler.store import Store
from labeler.store.annotator import ACCEPTED_SUFFIX
from labeler.workbench import AccuracyCheck, class_counts


def by_class(truth: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path, label in sorted(truth.items()):
        out.setdefault(label, []).append(path)
    return out


@pytest.fixture
def labeled(project: Project, colour_images):
    """The project with two images of each colour labeled by 'ana'; returns (project, truth)."""
    _, truth = colour_images
    wb = project.workbench()
    for name, paths in by_class(truth).items():
        wb.assign(paths[:2], name, annotator="ana")
    return project, truth


def test_no_predictions_until_two_classes(project: Project, colour_images) -> None:
    _, truth = colour_images
    wb = project.workbench()
    snap = wb.snapshot()
    assert not snap.has_predictions and snap.classes == ()
    wb.assign([by_class(truth)["red"][0]], "red", annotator="ana")
    assert not wb.snapshot().has_predictions
    wb.assign([by_class(truth)["blue"][0]], "blue", annotator="ana")
    snap = wb.snapshot()
    assert snap.has_predictions and snap.classes == ("red", "blue")
    assert (snap.pred >= 0).all()


def test_predictions_refresh_after_each_label_and_recover_classes(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    snap = wb.snapshot()
    predicted = {wb.paths[r]: snap.classes[snap.pred[r]] for r in range(len(wb.paths))}
    assert predicted == truth
    again = wb.snapshot()
    assert again is snap  # nothing changed: no refit
    wb.assign([by_class(truth)["red"][2]], "red", annotator="ana")
    assert wb.snapshot() is not snap


def test_labels_from_another_connection_are_seen(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    before = wb.snapshot()
    other = Store(project.store.path)  # e.g. `labeler label` while the server runs
    item = {it.path: it.id for it in other.items()}[by_class(truth)["green"][3]]
    other.set_labels([(item, "green")], annotator="cli")
    other.close()
    after = wb.snapshot()
    assert after is not before
    assert after.labeled.sum() == before.labeled.sum() + 1


def test_pages_filters_and_sorts(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    everything = wb.page(browse.Query(show="all", page_size=10))
    assert (everything.total, everything.pages, len(everything.tiles)) == (24, 3, 10)
    last = wb.page(browse.Query(show="all", page_size=10, page=99))
    assert last.page == 3 and len(last.tiles) == 4  # clamped to the last page
    hand = wb.page(browse.Query(show="labeled", page_size=50))
    assert hand.total == 6 and all(t.label == truth[t.path] for t in hand.tiles)
    reds = wb.page(browse.Query(show="unlabeled", cls="red", page_size=50))
    assert reds.total == 6 and {truth[t.path] for t in reds.tiles} == {"red"}
    assert all(t.pred == "red" and 0 < t.conf <= 1 for t in reds.tiles)
    low = wb.page(browse.Query(show="all", sort="confidence, lowest first", page_size=50))
    conf = [t.conf for t in low.tiles]
    assert conf == sorted(conf)
    high = wb.page(browse.Query(show="all", sort="margin, highest first", page_size=50))
    snap = wb.snapshot()
    margins = [float(snap.margin[t.row]) for t in high.tiles]
    assert margins == sorted(margins, reverse=True)


def test_uncertain_is_a_small_margin() -> None:
    from labeler.live import Snapshot

    snap = Snapshot(
        classes=("a", "b"),
        slots=(0, 1),
        label=np.array([-1, -1, 0]),
        accepted=np.zeros(3, dtype=bool),
        pred=np.array([0, 1, 0]),
        conf=np.array([0.55, 0.95, 0.5], dtype=np.float32),
        margin=np.array([0.1, 0.9, 0.0], dtype=np.float32),
        proba=np.array([[0.55, 0.45], [0.05, 0.95], [0.5, 0.5]], dtype=np.float32),
        version=(0, ""),
    )
    assert browse.matching_rows(snap, browse.Query(show="uncertain")).tolist() == [0]
    fits_none = browse.Query(show=browse.FITS_NO_CLASS)
    assert browse.matching_rows(snap, fits_none).tolist() == []  # no flags: nothing listed
    flagged = replace(snap, ood=np.array([False, True, True]))  # row 2 is labeled: not listed
    assert browse.matching_rows(flagged, fits_none).tolist() == [1]
    assert [browse.tile(flagged, ["x", "y", "z"], r).ood for r in range(3)] == [False, True, False]
    with pytest.raises(LabelerError, match="unknown filter"):
        browse.Query(show="nonsense")


def _sorted_snapshot(conf: np.ndarray, label: np.ndarray):
    """A two-class snapshot with confidences `conf` (N,) and labels `label` (N,), -1 unlabeled."""
    from labeler.live import Snapshot

    conf = np.asarray(conf, dtype=np.float32)
    proba = np.stack([conf, 1 - conf], axis=1)
    return Snapshot(
        classes=("a", "b"),
        slots=(0, 1),
        label=np.asarray(label),
        accepted=np.zeros(len(conf), dtype=bool),
        pred=np.zeros(len(conf), dtype=np.int64),
        conf=conf,
        margin=(2 * conf - 1).astype(np.float32),
        proba=proba,
        version=(0, ""),
    )


def test_a_trail_through_a_list_sorted_by_confidence_skips_nothing_as_refits_reorder_it() -> None:
    """Sorted by confidence, lowest first, each refit reorders the list: turning on shows the
    least sure images that no page showed yet, whatever moved; turning back shows the pages
    as they were. Planted: 30 images, 5 a page, a new random order after every page."""
    rng = np.random.default_rng(3)
    n, size = 30, 5
    paths = [f"{i:02d}.png" for i in range(n)]
    label = np.full(n, -1)
    query = browse.Query(show="unlabeled", sort="confidence, lowest first", page_size=size)
    snap = _sorted_snapshot(rng.uniform(0.5, 1.0, n), label)
    trail = browse.Trail.start(query, [t.row for t in browse.page(snap, paths, query).tiles])
    assert trail.follows(replace(query, page=4))
    shown = [trail.rows]
    while True:
        label[list(trail.rows[:2])] = 0  # two of each page labeled; the model refits
        snap = _sorted_snapshot(rng.uniform(0.5, 1.0, n), label)
        seen = {r for page in shown for r in page}
        unseen = [r for r in browse.matching_rows(snap, query).tolist() if r not in seen]
        turned = trail.turned(snap, forward=True)
        if not unseen:  # every image shown: the last page stays
            assert turned == trail
            break
        assert list(turned.rows) == unseen[:size]  # the least sure of those not shown yet
        page = turned.page(snap, paths)
        assert (page.page, page.pages) == (len(shown) + 1, len(shown) + -(-len(unseen) // size))
        assert page.total == np.count_nonzero(label < 0)
        back = turned.turned(snap, forward=False)
        assert back.rows == trail.rows  # as shown, its labeled images included
        assert back.turned(snap, forward=True) == turned  # on again: the same page, not a new one
        trail = turned
        shown.append(trail.rows)
    every = [r for page in shown for r in page]
    assert sorted(every) == list(range(n))  # each image on one page, none twice
    assert trail.turned(snap, forward=False).at == len(shown) - 2
    first = replace(trail, at=0)
    assert first.turned(snap, forward=False) == first  # before the first page: it stays
    assert not trail.follows(replace(query, sort="margin, lowest first"))


def test_an_undo_puts_the_images_it_brought_back_on_the_page_on_screen() -> None:
    """Rows an undo brought back into the list that no page of the trail showed go on the page
    on screen, in their place in the list; its last tiles make room and come next. Rows a page
    shows already, or outside the list, change nothing."""
    n, size = 12, 4
    paths = [f"{i:02d}.png" for i in range(n)]
    conf = np.linspace(0.5, 0.99, n)  # lowest first: the rows in order
    label = np.full(n, -1)
    label[[1, 2]] = 0  # labeled before the first page was drawn: not in it
    query = browse.Query(show="unlabeled", sort="confidence, lowest first", page_size=size)
    snap = _sorted_snapshot(conf, label)
    trail = browse.Trail.start(query, [t.row for t in browse.page(snap, paths, query).tiles])
    assert trail.rows == (0, 3, 4, 5)
    label[[1, 2]] = -1  # both labels undone
    label[9] = 0
    undone = _sorted_snapshot(conf, label)
    again = trail.redrawn(undone, back=[2, 1, 9, 4])  # 9 is labeled: not in the list
    assert again.rows == (0, 1, 2, 3) and again.at == trail.at
    assert list(again.turned(undone, forward=True).rows) == [4, 5, 6, 7]  # made room: next
    assert trail.redrawn(undone, back=[0, 3]) == trail  # on the page already


def test_more_like_this_lists_neighbours_in_order(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    first = by_class(truth)["blue"][0]
    rows = wb.similar_rows(first, 5)
    assert len(rows) == 5 and wb.row(first) not in rows
    page = wb.page(browse.Query(show="all", rows=rows, page_size=10))
    assert [t.row for t in page.tiles] == list(rows)  # nearest first, not by file name
    assert {truth[t.path] for t in page.tiles} == {"blue"}


def test_counts_and_acceptance_estimate(labeled) -> None:
    project, _ = labeled
    wb = project.workbench()
    snap = wb.snapshot()
    counts = {c.name: c for c in browse.class_counts(snap)}
    assert {n: (c.human, c.accepted, c.auto) for n, c in counts.items()} == {
        "red": (2, 0, 6),
        "green": (2, 0, 6),
        "blue": (2, 0, 6),
    }
    a = browse.acceptance(snap, 0.0)
    assert a.count == 18
    unlabeled = ~snap.labeled
    assert a.precision == pytest.approx(float(snap.conf[unlabeled].mean()), rel=1e-5)
    assert browse.acceptance(snap, 1.0).count <= a.count
    only_red = browse.acceptance(snap, 0.0, "red")
    assert only_red.count == 6 and set(only_red.per_class) == {"red"}
    hists = browse.confidence_histograms(snap)
    assert sorted(hists) == ["blue", "green", "red"]
    assert all(h.sum() == 6 and len(h) == browse.HISTOGRAM_BINS for h in hists.values())
    with pytest.raises(LabelerError, match="between 0 and 1"):
        browse.acceptance(snap, 1.5)


def test_acceptance_names_the_classes_with_one_hand_label(project: Project, colour_images) -> None:
    _, truth = colour_images
    wb = project.workbench()
    groups = by_class(truth)
    for name, paths in groups.items():
        wb.assign(paths[:1], name, annotator="ana")
    assert browse.acceptance(wb.snapshot(), 0.5).uncalibrated == tuple(groups)
    wb.assign(groups["red"][1:2], "red", annotator="ana")
    assert set(browse.acceptance(wb.snapshot(), 0.5).uncalibrated) == {"green", "blue"}
    wb.accept(0.0, "green", annotator="ana", confirmed=True)  # accepted: not hand labels
    snap = wb.snapshot()
    assert snap.accepted.sum() > 0 and "green" in browse.acceptance(snap, 0.5).uncalibrated


def test_bulk_accept_records_its_source_and_export_tells_it_apart(labeled, tmp_path) -> None:
    project, truth = labeled
    wb = project.workbench()
    # Too few labels to leave out images that fit no class: only when confirmed.
    assert browse.acceptance(wb.snapshot(), 0.0).needs_confirmation
    with pytest.raises(LabelerError, match=r"precision may be far off \(fits no class is off"):
        wb.accept(0.0, browse.ANY_CLASS, annotator="ana")
    assert wb.snapshot().accepted.sum() == 0
    edit = wb.accept(0.0, browse.ANY_CLASS, annotator="ana", confirmed=True)
    snap = wb.snapshot()
    assert snap.labeled.all() and snap.accepted.sum() == 18
    counts = {c.name: (c.human, c.accepted, c.auto) for c in browse.class_counts(snap)}
    assert counts["red"] == (2, 6, 0)
    out = tmp_path / "labels.csv"
    assert wb.export(out) == 24
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    annotators = {r["annotator"] for r in rows}
    assert annotators == {"ana", "ana" + ACCEPTED_SUFFIX}
    assert all(r["label"] == truth[r["path"]] for r in rows)
    wb.undo(edit, annotator="ana")
    assert wb.snapshot().accepted.sum() == 0
    with pytest.raises(LabelerError, match="no unlabeled prediction"):
        wb.accept(0.0, "nonexistent", annotator="ana", confirmed=True)


def test_export_holds_current_predictions(labeled, tmp_path) -> None:
    project, _ = labeled
    wb = project.workbench()
    out = tmp_path / "labels.csv"
    wb.export(out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    auto = [r for r in rows.values() if r["source"] == "auto"]
    assert len(auto) == 18 and all(0 < float(r["confidence"]) <= 1 for r in auto)
    snap = wb.snapshot()
    for r in auto:
        row = wb.row(r["path"])
        assert r["label"] == snap.classes[snap.pred[row]]


def test_export_refits_only_when_the_stored_predictions_are_out_of_date(
    labeled, tmp_path, monkeypatch
) -> None:
    project, truth = labeled
    wb = project.workbench()
    fits = []
    predict = project.predict
    monkeypatch.setattr(project, "predict", lambda **kw: fits.append(kw) or predict(**kw))
    wb.export(tmp_path / "a.csv")
    wb.export(tmp_path / "b.csv")  # the same labels: the stored run is current
    assert len(fits) == 1
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    unlabeled = next(p for ps in by_class(truth).values() for p in ps[2:])
    wb.assign([unlabeled], truth[unlabeled], annotator="ana")
    wb.export(tmp_path / "c.csv")
    assert len(fits) == 2
    project.predict(method="protonet")  # from the CLI, say: not what the screen shows
    wb.export(tmp_path / "d.csv")
    assert len(fits) == 4 and project.store.latest_run().method == "auto"


def test_live_predictions_are_what_predict_exports(labeled, tmp_path) -> None:
    project, _ = labeled
    wb = project.workbench()
    snap = wb.snapshot()
    assert wb.method == "auto" and snap.method.startswith("auto")
    out = tmp_path / "labels.csv"
    wb.export(out)
    with out.open(newline="", encoding="utf-8") as f:
        auto = [r for r in csv.DictReader(f) if r["source"] == "auto"]
    shown = {wb.paths[r]: float(snap.conf[r]) for r in np.flatnonzero(~snap.labeled)}
    exported = {r["path"]: float(r["confidence"]) for r in auto}
    assert exported.keys() == shown.keys()
    assert all(abs(exported[p] - shown[p]) < 1e-4 for p in shown)  # same fit, same numbers


def test_accepted_predictions_are_labels_but_do_not_train(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    before = wb.snapshot()
    wb.accept(0.0, "red", annotator="ana", confirmed=True)
    after = wb.snapshot()
    assert after.accepted.sum() == 6 and after.fitted
    np.testing.assert_allclose(after.proba, before.proba, atol=1e-6)  # hand labels unchanged
    report = project.predict()
    assert report.labeled == 6 and report.predicted == 24 - 6 - 6
    exported = {r["path"]: r for r in project.export_rows()}
    assert sum(r["source"] == "auto" for r in exported.values()) == 12
    assert all(r["label"] == truth[p] for p, r in exported.items())


def test_big_pools_show_a_fast_preview(project: Project, colour_images, monkeypatch) -> None:
    from labeler import config

    monkeypatch.setattr(config, "LIVE_METHOD_MAX_IMAGES", 10)  # the 24 images are "big"
    _, truth = colour_images
    wb = project.workbench()
    for name, paths in by_class(truth).items():
        wb.assign(paths[:2], name, annotator="ana")
    assert wb.method == "protonet" and wb.snapshot().method == "protonet"


def test_review_batch_is_suggest_and_skips_labeled_and_skipped(labeled) -> None:
    project, _ = labeled
    wb = project.workbench()
    batch = wb.review_batch(5)
    suggested = project.suggest(5)  # picked from a second fit of the same head: the same
    assert [b.path for b in batch] == [s["path"] for s in suggested]
    assert all(s["reason"].startswith(b.picked.why) for b, s in zip(batch, suggested, strict=True))
    assert [b.picked.lead for b in batch] == ["model"] * 4 + [""]  # 4 groups, then the farthest
    for b, s in zip(batch[:4], suggested, strict=False):
        assert b.picked.top[0][0] == s["predicted"]
        assert b.picked.top[0][1] == pytest.approx(s["confidence"])
    assert all(b.path == wb.paths[b.row] for b in batch)
    assert not wb.snapshot().labeled[[b.row for b in batch]].any()
    again = wb.review_batch(5, exclude=[batch[0].path])
    assert batch[0].path not in {b.path for b in again}


def test_details_show_history_and_top_predictions(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    path = by_class(truth)["green"][0]
    wb.assign([path], "red", annotator="bob")
    d = wb.details(path)
    assert d.label == "red" and [h[0] for h in d.history] == ["green", "red"]
    assert [h[1] for h in d.history] == ["ana", "bob"]
    assert len(d.top) == 3 and d.top[0][1] >= d.top[1][1]
    with pytest.raises(LabelerError, match="not an image of this project"):
        wb.details("../outside.png")


def test_image_file_serves_only_project_images(project: Project, colour_images) -> None:
    folder, truth = colour_images
    wb = project.workbench()
    first = sorted(truth)[0]
    assert wb.image_file(first) == (folder / first).resolve()
    (folder / "notes.txt").write_text("not an image")
    for crafted in ("notes.txt", "../proj/labeler.sqlite", "/etc/passwd", f"./{first}", ""):
        assert wb.image_file(crafted) is None


def test_map_projection_and_points(labeled) -> None:
    project, _ = labeled
    wb = project.workbench()
    proj = wb.projection()
    assert proj.coords.shape == (24, 2) and proj.method in ("PCA", "UMAP")
    assert proj.coords.min() >= 0 and proj.coords.max() <= 1
    snap = wb.snapshot()
    rows = points_to_draw(snap.labeled, limit=10)
    assert len(rows) == 10 and snap.labeled[rows].sum() == 6
    assert snap.labeled[rows[-6:]].all()  # labeled drawn last, on top
    assert project_2d(np.zeros((2, 4), dtype=np.float32)).coords.shape == (2, 2)


def test_the_map_is_the_first_two_principal_axes(monkeypatch) -> None:
    """Against an SVD oracle, up to the axes' signs: planted data with two strong directions."""
    import sys

    monkeypatch.setitem(sys.modules, "umap", None)  # the PCA path, whatever is installed
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0][:, :2]
    x = rng.normal(size=(300, 2)) * [5.0, 2.0] @ basis.T + 0.1 * rng.normal(size=(300, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    got = project_2d(x)
    centred = x - x.mean(axis=0)
    oracle = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    for k in range(2):
        assert abs(np.corrcoef(got.coords[:, k], oracle[:, k])[0, 1]) > 0.999
    assert got.method == "PCA"


def test_workbench_is_rebuilt_after_a_rescan(project: Project, colour_images) -> None:
    from imagegen import COLOURS, coloured

    folder, _ = colour_images
    wb = project.workbench()
    assert project.workbench() is wb
    coloured(COLOURS["red"], seed=4242).save(folder / "new.png")
    report = project.rescan(progress=False)
    assert report.sync.added == 1 and report.embedded == 1
    assert project.workbench() is not wb and len(project.workbench().paths) == 25


def test_longest_side_from_the_scan(project: Project, colour_images) -> None:
    _, truth = colour_images
    assert project.workbench().longest_side(sorted(truth)[0]) == 24


def test_labels_survive_reopening(labeled) -> None:
    project, _ = labeled
    path = project.path
    before = project.workbench().snapshot().labeled.sum()
    reopened = Project(Path(path))
    assert reopened.workbench().snapshot().labeled.sum() == before == 6
    reopened.close()


def test_live_labels_follow_events_and_class_changes(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    store = project.store
    before = wb.snapshot()
    item = {it.path: it.id for it in store.items()}
    path = by_class(truth)["blue"][4]
    store.apply_labels([(item[path], "tmp")], annotator="ana")  # a new class...
    wb.snapshot()
    store.apply_labels([(item[path], "blue")], annotator="ana")
    store.retire_class("tmp", annotator="ana")  # ...gone again: same classes as before
    snap = wb.snapshot()
    assert snap.classes == before.classes
    assert snap.label[wb.row(path)] == snap.classes.index("blue")
    store.rename_class("blue", "navy")
    renamed = wb.snapshot()
    assert renamed.classes == ("red", "green", "navy")
    assert renamed.label[wb.row(path)] == 2


def test_deferred_snapshot_shows_labels_at_once_and_refits_later(labeled) -> None:
    project, truth = labeled
    wb = project.workbench()
    fitted = wb.snapshot()
    reds = by_class(truth)["red"]
    wb.assign([reds[3]], "red", annotator="ana")
    with wb.live.deferred():
        quick = wb.snapshot()
    assert not quick.fitted and quick.labeled[wb.row(reds[3])]
    assert quick.pred is fitted.pred  # the last predictions, until the refit
    assert wb.snapshot().fitted
    wb.assign([reds[4]], "crimson", annotator="ana")  # a new class: one more column, empty
    with wb.live.deferred():
        quick = wb.snapshot()
    assert quick.classes[-1] == "crimson" and quick.proba.shape[1] == 4
    assert quick.proba[:, 3].max() == 0
    assert wb.snapshot().proba[:, 3].max() > 0


def test_labels_made_during_a_refit_are_kept(labeled, monkeypatch) -> None:
    project, truth = labeled
    wb = project.workbench()
    live = wb.live
    wb.assign([by_class(truth)["red"][3]], "red", annotator="ana")
    late = by_class(truth)["green"][4]
    fit = live._fit

    def fit_while_another_session_labels(*args):
        wb.assign([late], "green", annotator="bob")
        with live.deferred():
            live.snapshot()
        return fit(*args)

    monkeypatch.setattr(live, "_fit", fit_while_another_session_labels)
    merged = live.snapshot()
    assert merged.labeled[wb.row(late)] and not merged.fitted and merged.has_predictions
    monkeypatch.setattr(live, "_fit", fit)
    assert live.snapshot().fitted


def test_fits_no_class_says_how_many_labels_it_still_needs_as_predict_does(labeled) -> None:
    project, _ = labeled
    snap = project.workbench().snapshot()
    report = project.predict()
    assert snap.ood_short == report.ood_short > 0  # 6 labels: no image can be flagged yet
    assert not snap.fits_no_class.any()
    a = browse.acceptance(snap, 0.0)
    assert a.ood_short == snap.ood_short and a.count == (~snap.labeled).sum()  # none left out


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}Z"


def test_a_class_keeps_its_slot_while_others_come_and_go() -> None:
    from labeler.live import class_slots

    made = [("a", at(0), None), ("b", at(0), at(5)), ("c", at(1), None)]
    assert class_slots(made) == {"a": 0, "c": 2}  # b's deletion moves no other class
    # Made in the second b was deleted (maybe before it): not b's slot; a second later: b's.
    made += [("d", at(5), None), ("e", at(6), None)]
    assert class_slots(made) == {"a": 0, "c": 2, "d": 3, "e": 1}
    made[2] = ("c", at(1), at(7))
    assert class_slots(made) == {"a": 0, "d": 3, "e": 1}


def test_deleting_a_class_recolours_no_other(labeled) -> None:
    project, _ = labeled
    wb = project.workbench()
    before = wb.snapshot().slot_of
    first = wb.snapshot().classes[0]
    wb.delete_class(first, annotator="ana")
    after = wb.snapshot().slot_of
    assert after == {name: slot for name, slot in before.items() if name != first}
    wb.create_class("purple")
    slots = wb.snapshot().slot_of
    assert {k: v for k, v in slots.items() if k != "purple"} == after
    assert slots["purple"] not in after.values()  # distinct from the classes in use


def test_the_check_is_of_the_labels_now_after_an_undo(project: Project, colour_images) -> None:
    """Back to labels checked before (an undo), the check is theirs again, not the latest one
    recorded; with no check of the labels now (too few), none is given. The curve has one
    point per label count, fewest first, the labels now among them."""
    _, truth = colour_images
    wb = project.workbench()
    groups = by_class(truth)
    wb.assign(groups["red"][:2], "red", annotator="ana")
    green = wb.assign(groups["green"][:1], "green", annotator="ana")
    assert wb.accuracy_check() == AccuracyCheck(3, None, [])  # one class of two labels
    second = wb.assign(groups["green"][1:2], "green", annotator="ana")
    four = wb.accuracy_check()
    assert four.labels == 4 and four.current[0] == 4 and four.curve == [four.current]
    blue = wb.assign(groups["blue"][:1], "blue", annotator="ana")
    five = wb.accuracy_check()
    assert five.current[0] == 5 and five.current != four.current
    assert five.curve == [four.current, five.current]
    wb.undo(blue, annotator="ana")
    again = wb.accuracy_check()
    assert again.current == four.current and again.curve == five.curve
    wb.assign(groups["blue"][1:2], "blue", annotator="ana")  # 5 labels again, other ones
    other = wb.accuracy_check()
    assert other.current[0] == 5 and other.curve == [four.current, other.current]
    wb.undo(second, annotator="ana")  # 4 labels with no check: too few of each class
    none = wb.accuracy_check()
    assert none == AccuracyCheck(4, None, [four.current, other.current])
    wb.undo(green, annotator="ana")
    assert wb.accuracy_check().labels == 3


def test_images_that_fit_no_class_are_counted_as_the_export_has_them(tmp_path: Path) -> None:
    """The header's and the Classes table's auto-labels are the export's auto rows with a label;
    images that fit no class (exported with no label) are counted apart."""
    from imagegen import coloured, write_colour_set

    folder = tmp_path / "images"
    truth = write_colour_set(folder, 20)
    for i in range(4):  # a kind nobody labels
        coloured((230, 220, 40), seed=9000 + i).save(folder / f"odd_{i}.png")
    project, _ = Project.init(tmp_path / "proj", images=folder, backbone="fake", progress=False)
    wb = project.workbench()
    for name, paths in by_class(truth).items():
        wb.assign(paths[:17], name, annotator="ana")  # enough held out for the flags
    counts = class_counts(wb.snapshot())
    out = tmp_path / "labels.csv"
    wb.export(out)
    with out.open(newline="", encoding="utf-8") as f:
        auto = [r for r in csv.DictReader(f) if r["source"] == "auto"]
    exported = Counter(r["label"] for r in auto)
    assert counts.fits_no_class == exported.pop("") == 4
    assert {c.name: c.auto for c in counts.classes} == exported
    project.close()


def test_a_label_that_disagrees_with_a_byte_identical_copy_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    first, second = sorted(write_colour_set(folder, 4))[:2]
    (folder / "copy.png").write_bytes((folder / first).read_bytes())
    (folder / "copy-2.png").write_bytes((folder / first).read_bytes())
    project, _ = Project.init(tmp_path / "p", images=folder, backbone="fake", progress=False)
    with project:
        wb = project.workbench()
        wb.assign([first], "red", annotator="ana")
        assert wb.copies_labeled_otherwise(wb.assign(["copy.png"], "red", annotator="ana")) == []
        other = wb.assign(["copy-2.png"], "blue", annotator="ana")
        assert wb.copies_labeled_otherwise(other) == [("copy-2.png", "copy.png", "red")]
        both = wb.assign([first, second], "green", annotator="ana")  # copy.png: red, copy-2: blue
        assert wb.copies_labeled_otherwise(both) == [(first, "copy-2.png", "blue")]
        assert wb.copies_labeled_otherwise(wb.delete_class("red", annotator="ana")) == []
