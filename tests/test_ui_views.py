"""UI pieces without a browser: HTML rendering (escaped), charts, logins, handlers, image route."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from labeler import browse
from labeler.active import Suggestion
from labeler.errors import LabelerError
from labeler.project import Project
from labeler.ui import charts, views, views_trust
from labeler.ui.auth import load_accounts, parse_account
from labeler.ui.layout import KEY_CLASS
from labeler.workbench import AccuracyCheck, Counts, Details, ReviewItem, class_counts

EVIL = '<img src=x onerror="alert(1)">${alert(2)}`\\'


def in_order(names) -> dict[str, int]:
    """{class name: slot} of classes made one after another, none deleted."""
    return {name: k for k, name in enumerate(names)}


CAT_DOG = in_order(("cat", "dog"))


def test_views_escape_user_text() -> None:
    tile = browse.Tile(row=0, path=EVIL + ".png", label=EVIL, accepted=False, pred=None, conf=None)
    page = browse.Page(tiles=[tile], page=1, pages=1, total=1)
    html = views.grid_html(page, {EVIL: 0}, small=set())
    assert "<img src=x" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert views.image_url("a b/é#.png") == "images/a%20b/%C3%A9%23.png"
    counts = views.counts_html(Counts([browse.ClassCount(EVIL, 1, 2, 3)], 0), {EVIL: 0})
    assert "<img src=x" not in counts


def test_grid_marks_hand_accepted_and_predicted() -> None:
    tiles = [
        browse.Tile(0, "a.png", "cat", False, "cat", 0.9),
        browse.Tile(1, "b.png", "cat", True, "cat", 0.95),
        browse.Tile(2, "c.png", None, False, "dog", 0.61),
        browse.Tile(3, "d.png", None, False, None, None),
    ]
    html = views.grid_html(browse.Page(tiles, 1, 1, 4), CAT_DOG, small={"a.png"})
    assert html.count('class="tile"') == 4
    assert "labeled hand" in html and "labeled accepted" in html and "auto ✓" in html
    assert "61%" in html and "unlabeled" in html
    assert html.count("pixelated") == 1
    empty = views.grid_html(browse.Page([], 1, 1, 0), {}, small=set())
    assert "No images match" in empty


def test_images_that_fit_no_class_are_marked() -> None:
    odd = browse.Tile(0, "odd.png", None, False, "dog", 0.55, ood=True)
    plain = browse.Tile(1, "plain.png", None, False, "dog", 0.55)
    html = views.grid_html(browse.Page([odd, plain], 1, 1, 2), CAT_DOG, small=set())
    assert html.count("data-ood") == 1 and html.count("ood-mark") == 1
    assert f'title="odd.png · {views.OOD_NOTE}"' in html and 'title="plain.png"' in html
    page = browse.Page([odd], 1, 1, 1)
    info = views.page_info(page, show=browse.FITS_NO_CLASS, similar_to=None, ood_short=0)
    assert info.endswith("1 image that fits no class")
    details = Details(0, "odd.png", None, False, [("dog", 0.55)], True, [])
    assert views.OOD_NOTE in views.preview_html(details, CAT_DOG, small=False)
    fitting = views.preview_html(replace(details, ood=False), {"dog": 0}, small=False)
    assert "ood-note" not in fitting


def test_fits_no_class_says_while_it_is_off() -> None:
    """Until enough labels are held out, no image can be flagged: the filter, the Trust tab's
    note and the bulk accept say so, rather than "0 images that fit no class"."""
    none = browse.Page([], 1, 1, 0)
    info = views.page_info(none, show=browse.FITS_NO_CLASS, similar_to=None, ood_short=19)
    assert info.endswith(" · fits no class is off until 19 more labels")
    assert views.page_info(none, show="all", similar_to=None, ood_short=19).endswith("0 images")
    assert "Show: fits no class and uncertain before" in views_trust.trust_note(0)
    assert (
        "Show: uncertain (fits no class is off until 1 more label) before"
        in views_trust.trust_note(1)
    )
    a = browse.Acceptance(threshold=0.9, rows=np.array([3]), per_class={"cat": (1, 0.93)})
    assert "is off" not in views_trust.acceptance_html(a, CAT_DOG)
    html = views_trust.acceptance_html(replace(a, ood_short=19), CAT_DOG)
    assert '<div class="warning">Fits no class is off until 19 more labels: ' in html


GROUP = "typical of a group of 9 similar images with no label when picked"


def test_review_card_writes_the_models_view_from_the_prediction_it_shows() -> None:
    picked = Suggestion(0, 1.0, GROUP, "model", (("coat", 0.49), ("shirt", 0.3)))
    item = ReviewItem(0, "a.png", picked)  # picked when the model said coat 0.49
    now = Details(
        0, "a.png", None, False, [("coat", 0.44), ("shirt", 0.4), ("bag", 0.16)], False, []
    )
    html = views.review_html(item, now, small=False, left=3)
    assert "Predicted <b>coat</b> · 44% confident" in html
    assert f"Why this one: {GROUP}; model: coat 44% vs shirt 40%</div>" in html
    assert "0.49" not in html and "3 more in this batch" in html
    gone = views.review_html(item, replace(now, top=[]), small=False, left=0)  # classes deleted
    assert f"Why this one: {GROUP}</div>" in gone and "No prediction yet" in gone
    first = ReviewItem(0, "a.png", replace(picked, lead="least confident", first=True))
    html = views.review_html(first, replace(now, top=[(EVIL, 0.5)]), small=False, left=0)
    assert "Why this one: least confident when picked; model now: &lt;img src=x" in html
    assert "<img src=x" not in html


def test_an_undo_says_where_the_images_it_brought_back_are() -> None:
    """Said from any tab (the Trust tab's undo of a bulk accept): all of them on the Label
    tab's page, some (and that the others are on other pages), or nothing to say."""
    assert views.on_page([3, 4], [1, 3, 4]) == " · shown on the Label tab's page"
    assert views.on_page([3, 4, 9], [1, 3, 4]) == (
        " · 2 of them shown on the Label tab's page, the others on other pages"
    )
    assert views.on_page([7, 9], [1, 3]) == "" and views.on_page([3], [3]) == ""


def test_status_is_one_short_line_with_the_models_account_as_its_tooltip() -> None:
    """The header's line keeps its length during a refit (a line that grew and shrank moved
    the grid under the pointer): the head's account of its choice is the tooltip."""
    from labeler.live import Snapshot

    account = "auto: 0.50 labelprop + 0.50 logreg (chosen by out-of-fold log-loss, lower is …)"
    snap = Snapshot(
        classes=("cat", "dog"),
        slots=(0, 1),
        label=np.array([0, 1, -1]),
        accepted=np.zeros(3, dtype=bool),
        pred=np.array([0, 1, 0]),
        conf=np.full(3, 0.5, dtype=np.float32),
        margin=np.zeros(3, dtype=np.float32),
        proba=np.full((3, 2), 0.5, dtype=np.float32),
        version=(0, ""),
        fit_seconds=0.186,
        method=account,
    )
    counts = class_counts(snap)

    def text(html: str) -> str:
        return re.sub(r"<[^>]+>", "", html)

    html = views.status_html(snap, counts, method="auto", missing=0)
    assert f'title="{views.esc(account)}"' in html
    line = "3 images · 2 by hand · 0 accepted · 1 auto-labeled · model: auto"
    assert text(html) == f"{line} (refit 186 ms)"
    updating = views.status_html(replace(snap, fitted=False), counts, method="auto", missing=0)
    assert text(updating) == f"{line} (updating predictions…)"
    preview = views.status_html(snap, counts, method="protonet", missing=2)
    assert text(preview).startswith("⚠ 2 images are gone from the folder: Rescan on the Classes")
    assert text(preview).endswith("model: protonet, a fast preview (refit 186 ms)")
    assert "the export uses auto" in preview


def test_images_that_fit_no_class_are_counted_apart_from_the_auto_labels() -> None:
    """The export gives an image that fits no class an empty label: the header and the Classes
    table count it apart, not as an auto-label of the class it was guessed as."""
    from labeler.live import Snapshot

    snap = Snapshot(
        classes=("cat", "dog"),
        slots=(0, 1),
        label=np.array([0, 1, -1, -1, -1]),
        accepted=np.zeros(5, dtype=bool),
        pred=np.array([0, 1, 0, 0, 1]),
        conf=np.full(5, 0.9, dtype=np.float32),
        margin=np.full(5, 0.8, dtype=np.float32),
        proba=np.full((5, 2), 0.5, dtype=np.float32),
        version=(0, ""),
        ood=np.array([True, False, True, False, False]),  # row 0 is labeled: not counted
    )
    counts = class_counts(snap)
    assert [(c.name, c.human, c.auto) for c in counts.classes] == [("cat", 1, 1), ("dog", 1, 1)]
    assert counts.fits_no_class == 1
    line = re.sub(r"<[^>]+>", "", views.status_html(snap, counts, method="auto", missing=0))
    assert "5 images · 2 by hand · 0 accepted · 2 auto-labeled · 1 fits no class · model" in line
    table = views.counts_html(counts, CAT_DOG)
    assert re.findall(r"<td>(\d+)</td></tr>", table) == ["1", "1"]  # the auto column
    # The key column gives each class's own key (its slot's), as its button: after a deletion
    # freed key 1, the table does not renumber (it read 1 for dog, whose key is 2).
    assert re.findall(r"<td class=key>(\d*)</td>", table) == ["1", "2"]
    dog_only = Counts([c for c in counts.classes if c.name == "dog"], 0)
    assert re.findall(r"<td class=key>(\d*)</td>", views.counts_html(dog_only, CAT_DOG)) == ["2"]
    assert re.findall(r"<td class=key>(\d*)</td>", views.counts_html(dog_only, {"dog": 9})) == [""]
    assert "1 image fits no class: not auto-labeled (exported with no label)" in table
    more = replace(snap, ood=np.array([False, False, True, True, True]))
    assert "0 auto-labeled · 3 fit no class · " in views.status_html(
        more, class_counts(more), method="auto", missing=0
    ).replace("<b>", "").replace("</b>", "")
    assert "3 images fit no class" in views.counts_html(class_counts(more), CAT_DOG)
    assert "fit no class" not in views.counts_html(class_counts(replace(snap, ood=None)), CAT_DOG)


def test_counts_agree_with_their_nouns() -> None:
    a = browse.Acceptance(threshold=0.5, rows=np.array([3]), per_class={"cat": (1, 0.93)}, ood=1)
    html = views_trust.acceptance_html(a, CAT_DOG)
    assert "1 image at this confidence fits no class" in html
    assert "<b>1</b> image would be auto-accepted" in html
    html = views_trust.acceptance_html(replace(a, rows=np.array([3, 4]), ood=2), CAT_DOG)
    assert "2 images at this confidence fit no class" in html
    assert "<b>2</b> images would be auto-accepted" in html
    svg = charts.histograms_svg({"cat": np.array([1, 2]), "dog": np.zeros(2)}, CAT_DOG, 0.5)
    assert "<title>1 image at 0.00–0.50</title>" in svg and "<title>2 images at 0.50" in svg
    assert "Not drawn: 1 class with no auto-label." in svg


def test_learning_curve_check() -> None:
    assert "appears once" in views_trust.check_html(AccuracyCheck(3, None, []), "")
    points = [(4, 0.5, 0.3, 0.7), (8, 0.62, 0.48, 0.75)]
    svg = charts.learning_curve_svg(points, current=8)
    assert "<polyline" in svg and charts.learning_curve_svg(points[:1]) == ""
    assert svg.count("<circle") == 2 and ">100%</text>" in svg and ">0%</text>" in svg
    assert "<title>8 labels (now): about 62% right (95% interval 48%–75%)</title>" in svg
    assert svg.count('class="dot current"') == 1 and "<title>4 labels: about 50%" in svg
    html = views_trust.check_html(AccuracyCheck(8, points[1], points), svg)
    assert "about <b>62%</b>" in html and "48%–75%" in html and svg in html
    assert "from the 8 hand labels" in html


def test_the_check_says_when_the_labels_now_have_none() -> None:
    """After an undo to labels no check was made of (too few), the headline says so rather
    than give the estimate of labels that are no longer there."""
    points = [(4, 0.5, 0.3, 0.7), (5, 0.62, 0.48, 0.75)]
    html = views_trust.check_html(AccuracyCheck(3, None, points), "<svg/>")
    assert "No check from the 3 hand labels now: it needs two classes with two labels each" in html
    assert "62%" not in html and "<svg/>" in html
    assert "from the 1 hand label now" in views_trust.check_html(AccuracyCheck(1, None, points), "")


def test_the_curve_has_one_point_per_label_count_left_to_right() -> None:
    """Undos go back to label counts seen before: in time order the line would zig-zag."""
    from labeler.estimates import by_label_count

    recorded = [(4, 0.8, 0.3, 1.0), (5, 0.6, 0.2, 1.0), (4, 0.7, 0.3, 1.0), (3, 0.5, 0.1, 0.9)]
    assert by_label_count(recorded) == [recorded[3], recorded[2], recorded[1]]  # latest of each
    now = (4, 0.8, 0.3, 1.0)  # back to the first labels: their own estimate
    assert by_label_count(recorded, now) == [recorded[3], now, recorded[1]]
    assert by_label_count([], now) == [now]
    svg = charts.learning_curve_svg(recorded[:2] + recorded[3:])  # given out of order
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    assert xs == sorted(xs)
    line = re.search(r'<polyline points="([^"]+)"', svg).group(1)
    assert [float(p.split(",")[0]) for p in line.split()] == xs
    assert re.findall(r'class="tick(?: end)?">(\d+)</text>', svg) == ["3", "5"]  # to the data


def test_acceptance_warns_when_confidences_are_not_calibrated() -> None:
    a = browse.Acceptance(threshold=0.9, rows=np.array([3]), per_class={"cat": (1, 0.93)})
    assert "not calibrated" not in views_trust.acceptance_html(a, CAT_DOG)
    warned = replace(a, uncalibrated=("dog", EVIL))
    html = views_trust.acceptance_html(warned, CAT_DOG)
    assert "not calibrated for dog, &lt;img" in html and "<img src=x" not in html
    assert "would be auto-accepted" in html
    assert "fit no class" not in html
    assert "3 images at this confidence fit no class" in views_trust.acceptance_html(
        replace(a, ood=3), CAT_DOG
    )
    none = replace(warned, rows=np.array([], dtype=int), per_class={})
    html = views_trust.acceptance_html(none, CAT_DOG)
    assert "not calibrated for dog" in html and "No unlabeled prediction" in html


def test_many_classes_list_the_most_accepted_and_count_the_rest() -> None:
    classes = tuple(f"c{k}" for k in range(50))
    counts = np.random.default_rng(1).permutation(np.arange(1, 51))  # 1..50 accepted, shuffled
    per_class = {name: (int(n), 0.95) for name, n in zip(classes, counts, strict=True)}
    a = browse.Acceptance(threshold=0.9, rows=np.arange(counts.sum()), per_class=per_class)
    html = views_trust.acceptance_html(a, in_order(classes))
    listed = re.findall(r"</span>(c\d+)</td><td>(\d+)</td>", html)
    top = views_trust.MAX_ACCEPTANCE_ROWS
    assert [int(n) for _, n in listed] == list(range(50, 50 - top, -1))  # the most first
    assert all(per_class[name][0] == int(n) for name, n in listed)
    rest = sum(range(1, 51 - top))
    assert f"{top} classes with the most to accept are listed; {50 - top} more would " in html
    assert f"more would accept {rest:,} images: choose one under Class" in html
    assert "<b>1,275</b> images would be auto-accepted" in html  # the headline counts them all
    tied = {"c0": (5, 0.9), "c1": (7, 0.9), "c2": (5, 0.9)}  # ties stay in class order
    html = views_trust.acceptance_html(
        replace(a, rows=np.arange(17), per_class=tied), in_order(classes)
    )
    assert re.findall(r"</span>(c\d+)</td>", html) == ["c1", "c0", "c2"]
    assert "more would accept" not in html


def hist_titles(svg: str) -> list[str]:
    return re.findall(r'class="title"><title>.*?</title>(.+?) · ', svg)


def test_long_class_names_are_shortened_in_histogram_titles() -> None:
    long = "adenocarcinoma, moderately differentiated & <invasive>"
    hists = {long: np.array([0, 3]), "cat": np.array([1, 0])}
    svg = charts.histograms_svg(hists, in_order(hists), 0.5)
    assert hist_titles(svg) == [views.esc(long[: charts.HIST_TITLE_CHARS - 1]) + "…", "cat"]
    assert f"<title>{views.esc(long)}</title>" in svg  # the full name on hover


def test_histograms_and_map_svg() -> None:
    hists = {
        "cat": np.array([0, 2, 5, 1]),
        "dog": np.zeros(4, dtype=int),
        "emu": np.array([8, 0, 0, 0]),
        "fox": np.array([0, 0, 0, 9]),
    }
    svg = charts.histograms_svg(hists, in_order(hists), 0.5)
    assert hist_titles(svg) == ["fox", "cat", "emu"]  # most auto-labels first, ties by class
    assert "8 predicted" in svg and 'class="threshold"' in svg
    assert "Not drawn: 1 class with no auto-label." in svg and "more:" not in svg
    assert "appear once" in charts.histograms_svg({}, {}, 0.5)
    chosen = charts.histograms_svg({"dog": hists["dog"]}, in_order(hists), 0.5)
    assert "<svg" not in chosen and "No unlabeled image is predicted as dog." in chosen
    from labeler.live import Snapshot

    snap = Snapshot(
        classes=("cat", "dog"),
        slots=(0, 1),
        label=np.array([0, -1, -1]),
        accepted=np.zeros(3, dtype=bool),
        pred=np.array([0, 1, 0]),
        conf=np.array([0.9, 0.8, 0.7], dtype=np.float32),
        margin=np.array([0.8, 0.6, 0.4], dtype=np.float32),
        proba=None,
        version=(0, ""),
    )
    coords = np.array([[0, 0], [0.5, 0.5], [1, 1]], dtype=np.float32)
    svg = charts.map_svg(coords, np.arange(3), snap, ["a.png", "b.png", EVIL], predictions=True)
    assert svg.count("<circle") == 3 and 'data-path="a.png"' in svg and "<img src=x" not in svg
    grey = charts.map_svg(coords, np.arange(3), snap, ["a", "b", "c"], predictions=False)
    assert grey.count("#c4c4c4") == 2
    assert 'class="labeled"' in svg  # a hand label is outlined; an accepted one is not
    accepted = replace(snap, accepted=np.array([True, False, False]))
    svg = charts.map_svg(coords, np.arange(3), accepted, ["a", "b", "c"], predictions=True)
    assert 'class="labeled"' not in svg and "(accepted prediction)" in svg


def test_many_classes_draw_the_most_predicted_and_count_the_rest() -> None:
    rng = np.random.default_rng(0)
    totals = rng.permutation([0, 0, 0, 0, *range(1, 47)])  # 50 classes, 4 predicted nowhere
    classes = tuple(f"c{k}" for k in range(50))
    hists = {name: np.array([0, n, 0]) for name, n in zip(classes, totals, strict=True)}
    svg = charts.histograms_svg(hists, in_order(classes), 0.9)
    most = sorted(classes, key=lambda name: -hists[name].sum())[: charts.MAX_HISTOGRAMS]
    assert hist_titles(svg) == most and hists[most[-1]].sum() == 47 - charts.MAX_HISTOGRAMS
    assert f"{46 - charts.MAX_HISTOGRAMS} more: choose one under Class" in svg
    assert "Not drawn: 4 classes with no auto-label." in svg


def test_map_tells_classes_apart_past_the_palette() -> None:
    from labeler.live import Snapshot
    from labeler.ui.settings import PALETTE, UNLABELED_COLOUR

    assert len(set(PALETTE)) == 20 and UNLABELED_COLOUR not in PALETTE
    greyish = [c for c in PALETTE if np.ptp([int(c[i : i + 2], 16) for i in (1, 3, 5)]) < 40]
    assert greyish == []  # grey means unlabeled
    distinct = len(PALETTE) * len(charts.MAP_MARKERS)
    assert len({(views.colour(k), charts.marker(k)) for k in range(distinct)}) == distinct
    assert charts.legend_note(len(PALETTE)) == ""

    n = 45
    shown = np.array([0, 20, 40, 1])  # three classes of one colour, and another class
    snap = Snapshot(
        classes=tuple(f"c{k}" for k in range(n)),
        slots=tuple(range(n)),
        label=shown,
        accepted=np.zeros(4, dtype=bool),
        pred=shown,
        conf=np.ones(4, dtype=np.float32),
        margin=np.ones(4, dtype=np.float32),
        proba=None,
        version=(0, ""),
    )
    coords = np.random.default_rng(0).random((4, 2))
    svg = charts.map_svg(coords, np.arange(4), snap, ["a", "b", "c", "d"], predictions=True)
    points = re.findall(r'<(circle|rect|polygon) [^>]*fill="(#\w+)"[^>]*data-path="(\w)"', svg)
    assert points == [
        ("circle", PALETTE[0], "a"),
        ("rect", PALETTE[0], "b"),
        ("polygon", PALETTE[0], "c"),
        ("circle", PALETTE[1], "d"),
    ]
    assert svg.count('class="chip circle"') == 20 and svg.count('class="chip diamond"') == 5
    assert "past 20 classes the shape changes too (●, ■, ◆)" in svg
    assert "repeat" not in svg
    assert "past 60, colours and shapes repeat" in charts.legend_note(61)
    # Colour and shape follow a class's slot, not its place: c1 kept slot 5 (classes deleted).
    moved = replace(snap, slots=(0, 5, *range(6, n + 4)))
    svg = charts.map_svg(coords, np.arange(4), moved, ["a", "b", "c", "d"], predictions=True)
    assert re.search(r'<circle [^>]*fill="(#\w+)"[^>]*data-path="d"', svg).group(1) == PALETTE[5]
    assert f'<span class="chip circle" style="background:{PALETTE[5]}"></span>c1<' in svg


def test_accounts_from_flags_and_file(tmp_path: Path) -> None:
    assert parse_account("ana:pa:ss") == ("ana", "pa:ss")
    for bad in ("ana", ":pw", "ana:"):
        with pytest.raises(LabelerError, match="user:password"):
            parse_account(bad)
    with pytest.raises(LabelerError, match="accepted auto"):  # would hide the user's labels
        parse_account("ana (accepted auto):pw")
    assert load_accounts() is None
    file = tmp_path / "users.txt"
    file.write_text("# team\nbob:secret\n\ncid:x:y\n", encoding="utf-8")
    assert load_accounts(["ana:pw"], file) == [("ana", "pw"), ("bob", "secret"), ("cid", "x:y")]
    with pytest.raises(LabelerError, match="given twice"):
        load_accounts(["bob:1"], file)
    with pytest.raises(LabelerError, match="cannot read"):
        load_accounts([], tmp_path / "missing.txt")
    file.write_text("bob\n", encoding="utf-8")
    with pytest.raises(LabelerError, match="line 1"):
        load_accounts([], file)


@pytest.fixture
def handlers(project: Project):
    from labeler.ui.handlers_tabs import TabHandlers
    from labeler.ui.layout import build_layout

    ui = build_layout()
    return TabHandlers(project, ui), ui


def test_handlers_label_undo_and_review(handlers, colour_images) -> None:
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    out = h.load(session)
    assert "No classes yet" in out[ui.counts] and out[ui.page_info].endswith("24 unlabeled images")
    reds = [p for p, c in sorted(truth.items()) if c == "red"][:2]
    blues = [p for p, c in sorted(truth.items()) if c == "blue"][:2]
    out = h.assign_named(session, {"selected": reds}, " red ", ana)
    assert out[ui.label_as] == "" and out[ui.label_keys[0]].value == "1 · red"
    out = h.assign_named(session, {"selected": blues}, "blue", ana)
    assert "updating predictions" in out[ui.status] and out[ui.grid]["selected"] == []
    out = h.refresh(session)
    assert "model: auto (refit " in out[ui.status]
    assert "fast preview" not in out[ui.status] and "predicted" in out[ui.grid]["html"]
    assert out[ui.grid]["selected"] is None  # the page keeps what was selected meanwhile
    # ... and the Classes tab's forms what was chosen there meanwhile (an edit empties them).
    assert out[ui.rename_from].constructor_args == {"choices": [("red", "red"), ("blue", "blue")]}
    assert h.class_view(session)[ui.rename_from].constructor_args["value"] is None  # emptied
    out = h.assign_key(1)(session, {"selected": [p for p in truth if truth[p] == "blue"][2:3]}, ana)
    assert len(h.history) == 3
    h.undo(session, ana)
    assert len(h.history) == 2
    out = h.assign_named(session, {"selected": reds}, "red", ana)  # again: a double click
    assert len(h.history) == 2 and out[ui.message] == "2 images already labeled red"
    with pytest.warns(UserWarning, match="no class with key 9"):  # a notice, views unchanged
        out = h.assign_key(8)(session, {"selected": reds}, ana)
    assert out == {ui.message: "Not done: there is no class with key 9"}  # ...but the header's
    review = h.open_review(session)
    assert "Why this one" in review[ui.review]
    first = session.review[0].path
    out = h.review_accept(session, review[ui.review_shown], ana)
    assert project_label(h, first) is not None and session.review[0].path != first
    second = session.review[0].path
    out = h.review_named(session, out[ui.review_shown], " green ", ana)  # beyond the keys, typed
    assert project_label(h, second) == "green" and out[ui.review_as] == ""
    trust = h.move_threshold(session, 0.5, "", False)
    assert "would be auto-accepted" in trust[ui.acceptance]
    assert trust[ui.accept_above].value.startswith("Accept ")
    assert ui.check not in trust  # the slower check is not redone per move
    assert list(h.check()) == [ui.check] and "Check from the hand labels" in h.check()[ui.check]
    # Too few labels for "fits no class": the button waits for the box beside it.
    box = trust[ui.accept_anyway].constructor_args
    assert box["visible"] and "fits no class is off until" in box["label"]
    assert trust[ui.accept_above].constructor_args["interactive"] is False
    ticked = h.move_threshold(session, 0.5, "", True)
    assert ticked[ui.accept_above].constructor_args["interactive"] is True
    out = h.accept_above(session, 0.5, "", False, ana)  # unticked (a page left open before)
    assert out[ui.message].startswith("Not done: the estimated precision may be far off")
    assert "Accept anyway" in out[ui.message] and not h.wb.snapshot().accepted.any()
    out = h.accept_above(session, 0.5, "", True, ana)
    assert out[ui.message].startswith("Accepted ")
    assert out[ui.accept_anyway] is False  # ticked for this accept only: the next asks again
    assert not set(h.trust_outputs()) - {ui.accept_anyway} & set(out)
    picked = h.map_view("labels and predictions")
    assert picked[ui.map]["html"].count("<circle") == 24


def test_review_card_follows_labels_given_while_its_batch_waits(handlers, colour_images) -> None:
    """Labels from elsewhere refit the model while the batch waits: the card's reason gives the
    numbers of the prediction on the card, not those the image was picked with."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    for name in ("red", "green", "blue"):
        h.wb.assign([p for p in sorted(truth) if truth[p] == name][:2], name, annotator="ana")
    session = Session()
    h.open_review(session)
    item = session.review[0]
    (was, p_was), _ = item.picked.top
    assert (was, p_was) == (truth[item.path], pytest.approx(0.875))
    unlabeled = ~h.wb.snapshot().labeled
    same = [p for p in h.wb.paths if truth[p] == was and p != item.path and unlabeled[h.wb.row(p)]]
    h.wb.assign(same, "blue" if was != "blue" else "red", annotator="bob")  # in another tab
    card = h.open_review(session)[ui.review]
    assert session.review[0] is item  # the same card, after a refit
    name, p = h.wb.details(item.path).top[0]
    assert f"{p:.0%}" != f"{p_was:.0%}"  # the prediction moved since the pick
    guess = re.search(r"Predicted <b>(.+?)</b> · (\d+%) confident", card).groups()
    assert guess == (name, f"{p:.0%}")
    assert re.search(r"; model: (.+?) (\d+%) vs ", card).groups() == guess


def test_two_sessions_in_review_get_their_own_cards_and_keys_label_the_card_on_screen(
    handlers, colour_images
) -> None:
    """Two experts review at once: they are dealt different images, and a key labels the image
    on the presser's screen. Before, both got the same card, and once one labeled it the other's
    key silently labeled the next image in the queue, which nobody had seen."""
    from labeler.ui.session import Session

    h, ui, _, ana, a = _two_classes_labeled(handlers, colour_images)
    bob, b = SimpleNamespace(username="bob"), Session()
    h.load(b)
    h.open_review(a)
    on_b = h.open_review(b)
    assert a.card and b.card and a.card != b.card
    on_a = h.open_review(a)
    assert a.card in on_a[ui.review]  # reopening keeps the card on screen
    shown_to_b = b.card
    h.review_key(0)(a, on_a[ui.review_shown], ana)  # ana labels her card red
    on_b = h.review_key(1)(b, on_b[ui.review_shown], bob)  # bob labels his, blue
    assert project_label(h, shown_to_b) == "blue"
    assert {p for p, (_, who) in labels_by(h).items() if who == "bob"} == {shown_to_b}
    # Bob's card is labeled in another session (the grid) before he presses a key.
    shown_to_b = b.card
    h.wb.assign([shown_to_b], "red", annotator="ana")
    before = labels_by(h)
    out = h.review_accept(b, on_b[ui.review_shown], bob)
    assert labels_by(h) == before  # nothing labeled
    assert out[ui.message] == views.plain(
        f"Not done: {shown_to_b} was labeled red in another session meanwhile: nothing done; "
        "the next card is shown"
    )
    assert b.card not in (None, shown_to_b) and b.card in out[ui.review]
    out = h.review_skip(b, out[ui.review_shown])  # the skip means the new card
    assert out[ui.message] == views.plain(
        f"Skipped {b.skipped[-1]}: not asked again in this session · Ctrl+Z brings it back"
    )


def test_the_end_of_review_says_what_is_left_and_deals_skipped_images_again(
    handlers, colour_images
) -> None:
    h, ui, truth, ana, session = _two_classes_labeled(handlers, colour_images)
    rest = [p for p in sorted(truth) if project_label(h, p) is None]
    h.wb.assign(rest[:-2], "red", annotator="ana")  # two images left to review
    out = h.open_review(session)
    skipped = session.card
    out = h.review_skip(session, out[ui.review_shown])
    # The other image left was in the skipped one's group: it is dealt all the same.
    assert session.card not in (None, skipped)
    h.review_accept(session, out[ui.review_shown], ana)
    out = h.review_view(session)
    assert (
        "Nothing to review: only the 1 image you skipped is left; open the Review tab "
        in (out[ui.review])
    )
    assert out[ui.review_shown] == ""  # no card on screen
    out = h.review_accept(session, "", ana)
    assert out[ui.message].startswith(views.plain("Not done: nothing to review: only the 1 image"))
    out = h.review_skip(session, "")
    assert out[ui.message].startswith(views.plain("Not done: nothing to skip: only the 1 image"))
    out = h.open_review(session)  # the tab opened again: the skipped image is dealt again
    assert session.card == skipped and not session.skipped
    h.review_accept(session, out[ui.review_shown], ana)
    assert "every image is labeled" in h.open_review(session)[ui.review]


def labels_by(h) -> dict[str, tuple[str, str]]:
    """{path: (label, annotator)} of every labeled image, from the store."""
    store = h.project.store
    rows = store.labels()
    paths = store.paths_of([r.item_id for r in rows])
    return {paths[r.item_id]: (r.label, r.annotator) for r in rows}


def project_label(h, path: str) -> str | None:
    snap = h.wb.snapshot()
    k = snap.label[h.wb.row(path)]
    return None if k < 0 else snap.classes[k]


def test_image_route_serves_project_images_only(project: Project, colour_images) -> None:
    from fastapi.testclient import TestClient

    from labeler.ui.server import create_server

    folder, truth = colour_images
    (folder / "secret.txt").write_text("not for the browser")
    with TestClient(create_server(project)) as client:
        ok = client.get(f"/images/{sorted(truth)[0]}")
        assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
        for crafted in ("secret.txt", "..%2Fproj%2Flabeler.sqlite", "%2Fetc%2Fpasswd", "nope.png"):
            assert client.get(f"/images/{crafted}").status_code == 404, crafted
        assert client.get("/").status_code == 200
        assert client.get("/gradio_api/info").json()["named_endpoints"] == {}  # no API


def test_serve_command_passes_logins_and_turns_analytics_off(project, monkeypatch, tmp_path):
    import gradio.analytics

    import labeler.ui
    from labeler.cli import main

    calls = []
    monkeypatch.setattr(labeler.ui, "serve", lambda p, **kw: calls.append((p.path, kw)))
    users = tmp_path / "users.txt"
    users.write_text("bob:pw2\n", encoding="utf-8")
    args = ["serve", str(project.path), "--auth", "ana:pw", "--auth-file", str(users)]
    assert main(args) == 0
    assert calls == [
        (project.path, {"host": "127.0.0.1", "port": 7860, "auth": [("ana", "pw"), ("bob", "pw2")]})
    ]
    assert main(["serve", str(project.path), "--auth", "nocolon"]) == 2
    assert not gradio.analytics.analytics_enabled()


def test_a_filter_on_a_deleted_class_is_reset(handlers, colour_images) -> None:
    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    out = h.set_filter(session, browse.FITS_NO_CLASS, "", "file name")
    snap = h.wb.snapshot()  # 4 labels: too few for any image to be flagged, and it says so
    assert snap.ood_short > 0 and not snap.fits_no_class.any()
    assert out[ui.page_info].endswith(f"· fits no class is off until {snap.ood_short} more labels")
    assert (browse.FITS_NO_CLASS, browse.FITS_NO_CLASS) in ui.show.choices
    h.set_filter(session, "all", "red", "file name")
    out = h.delete_class(session, "red", ana)
    assert session.query.cls == "" and out[ui.cls].value == ""
    # Blue keeps its key 2 and its colour: deleting a class moves or recolours no other.
    assert out[ui.label_keys[1]].value == "2 · blue"
    assert out[ui.label_keys[1]].elem_classes == [KEY_CLASS, views.slot_class(1)]
    assert out[ui.label_keys[0]].elem_classes == [KEY_CLASS]  # hidden: red's key is free
    assert out[ui.page_info].endswith("24 images") and out[ui.delete_cls].value is None


def test_the_same_filter_again_keeps_the_page_and_selection(handlers, colour_images) -> None:
    """The dropdown reports a choice twice; the second report must not redraw the grid (its
    selection cleared) nor go back to page 1."""
    import gradio as gr

    from labeler.ui.session import Session

    h, ui = handlers
    session = Session()
    session.set_query(page_size=10)
    h.load(session)
    out = h.set_filter(session, "all", "", "file name")
    assert out[ui.grid]["selected"] == [] and out[ui.page_info].endswith("24 images")
    h.next_page(session)
    assert session.query.page == 2
    again = h.set_filter(session, "all", "", "file name")
    assert isinstance(again, type(gr.skip())) and session.query.page == 2
    out = h.set_filter(session, "all", "", "confidence, lowest first")
    assert session.query.page == 1 and out[ui.grid]["selected"] == []


def _grid_paths(out, ui) -> list[str]:
    return re.findall(r'data-path="([^"]+)"', out[ui.grid]["html"])


def test_the_page_stays_put_while_labeling_and_the_next_skips_nothing(
    handlers, colour_images
) -> None:
    """Labeled images stay where they were until the page is turned (a click aimed at a tile
    lands on it); the next page of "unlabeled" then starts after the last image shown, not
    as many images later as were labeled, and the page before is shown as it was."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    session.set_query(page_size=8)
    first = _grid_paths(h.load(session), ui)
    everything = sorted(truth)  # "unlabeled", by file name: all 24 at first
    assert first == everything[:8]
    out = h.assign_named(session, {"selected": first[:3]}, "red", ana)
    assert _grid_paths(out, ui) == first  # the labeled three are still there, in place
    out = h.refresh(session)
    assert _grid_paths(out, ui) == first
    assert out[ui.page_info].endswith("21 unlabeled images")
    second = _grid_paths(h.next_page(session), ui)
    assert second == everything[8:16]  # by page number it would have begun at everything[11]
    back = h.prev_page(session)
    assert _grid_paths(back, ui) == first  # the three labeled in place, to look at again
    assert back[ui.page_info].startswith("page **1** of 3")
    out = h.set_filter(session, "all", "", "file name")  # a new query: its first page
    assert _grid_paths(out, ui) == everything[:8]


@pytest.mark.parametrize("sort", ["confidence, lowest first", "margin, lowest first"])
def test_the_next_page_after_labeling_a_whole_page_sorted_by_confidence_shows_the_rest(
    handlers, colour_images, sort: str
) -> None:
    """Sorted by confidence, lowest first, the images labeled on a page move to the end of the
    whole list when the model refits (it is sure of them now); the next page must still show
    the unlabeled images that came after them, not stay put as if the page were the last."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    session.set_query(page_size=6)
    h.load(session)
    h.set_filter(session, "unlabeled", "", sort)
    out = h.refresh(session)
    for _ in range(2):  # two whole pages labeled, each followed by the next page
        page = _grid_paths(out, ui)
        for path in page:
            h.assign_named(session, {"selected": [path]}, truth[path], ana)
        h.refresh(session)
        out = h.next_page(session)
        after = _grid_paths(out, ui)
        assert len(after) == 6 and not set(after) & set(page), (page, after, out[ui.page_info])
        assert set(after) <= {
            r["path"] for r in h.project.export_rows() if r.get("source") != "human"
        }


def test_paging_a_list_sorted_by_confidence_while_labeling_shows_every_image_once(
    handlers, colour_images
) -> None:
    """Two images labeled on each page of "unlabeled", lowest confidence first: each label
    refits the model and reorders the list, yet turning on shows every image once (none
    skipped because it moved ahead of the page on screen), and turning back shows the page
    before as it was, its labeled images included."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    session.set_query(page_size=5)
    h.load(session)
    everything = sorted(truth)
    h.assign_named(session, {"selected": everything[:1]}, "red", ana)  # predictions to sort by
    h.assign_named(session, {"selected": everything[8:9]}, "blue", ana)
    h.refresh(session)
    out = h.set_filter(session, "unlabeled", "", "confidence, lowest first")
    pages = [_grid_paths(out, ui)]
    while True:
        for path in pages[-1][:2]:
            h.assign_named(session, {"selected": [path]}, truth[path], ana)
            h.refresh(session)
        out = h.next_page(session)
        if _grid_paths(out, ui) == pages[-1]:  # the last page: it stays
            break
        pages.append(_grid_paths(out, ui))
        assert out[ui.page_info].startswith(f"page **{len(pages)}** of")
        back = h.prev_page(session)
        assert _grid_paths(back, ui) == pages[-2]
        assert _grid_paths(h.next_page(session), ui) == pages[-1]
    shown = [p for page in pages for p in page]
    assert sorted(shown) == sorted(set(everything) - set(everything[:1] + everything[8:9]))
    out = h.set_filter(session, "unlabeled", "", "file name")  # a fixed order: paged by place
    assert _grid_paths(out, ui) == [p for p in everything if project_label(h, p) is None][:5]


def test_an_undo_shows_the_images_it_brought_back_and_paging_reaches_every_image(
    handlers, colour_images
) -> None:
    """Two images labeled on page 1 of "unlabeled", the next page, back, undo: the two are
    on page 1 as they were, unlabeled now, and the counter goes page by page over every image
    once (`browse.Trail.redrawn`: images an undo brings back that no page showed)."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    session.set_query(page_size=8)
    everything = sorted(truth)
    first = _grid_paths(h.load(session), ui)
    h.assign_named(session, {"selected": first[2:4]}, "red", ana)
    h.next_page(session)
    back = h.prev_page(session)
    assert _grid_paths(back, ui) == first  # as it was shown, the two labeled in place
    out = h.undo(session, ana)
    assert _grid_paths(out, ui) == everything[:8]
    assert out[ui.page_info].startswith("page **1** of 3")
    assert out[ui.message] == views.plain(
        "Undid: labeled 2 images as red · shown on the Label tab's page"
    )
    seen, info = _grid_paths(out, ui), [out[ui.page_info]]
    for _ in range(3):  # one turn past the last page: it stays there
        out = h.next_page(session)
        seen += [p for p in _grid_paths(out, ui) if p not in seen]
        info.append(out[ui.page_info])
    assert seen == everything  # every image, in order, none twice
    assert [i.split(" · ")[0] for i in info] == [f"page **{k}** of 3" for k in (1, 2, 3, 3)]
    h.assign_named(session, {"selected": everything[16:17]}, "red", ana)
    out = h.undo(session, ana)
    assert out[ui.message] == views.plain(f"Undid: labeled {everything[16]} as red")
    h.assign_named(session, {"selected": everything[16:17]}, "red", ana)
    out = h.assign_named(session, {"selected": everything[16:17]}, "blue", ana)
    assert out[ui.message].startswith(views.plain(f"Labeled {everything[16]} as blue (it was red)"))


def test_the_page_counter_counts_the_pages_that_paging_visits(handlers, colour_images) -> None:
    """Four of five images labeled on page 1 of 24 "unlabeled": 20 are left, but the page on
    screen still holds one of them, and the other 19 take four more pages, not three."""
    from labeler.ui.session import Session

    h, ui = handlers
    session = Session()
    session.set_query(page_size=5)
    first = _grid_paths(h.load(session), ui)
    out = h.assign_named(session, {"selected": first[:4]}, "red", SimpleNamespace(username="a"))
    info = [out[ui.page_info]]
    for _ in range(4):
        info.append(h.next_page(session)[ui.page_info])
    assert [i.split(" · ")[0] for i in info] == [f"page **{k}** of 5" for k in range(1, 6)]
    assert info[0].endswith("20 unlabeled images")


def _two_reds_labeled(handlers, colour_images):
    """(handlers, ui, annotator request, session, the red images) after a page load and the
    first two reds labeled."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    h.load(session)
    reds = [p for p in sorted(truth) if truth[p] == "red"]
    h.assign_named(session, {"selected": reds[:2]}, "red", ana)
    return h, ui, ana, session, reds


def test_more_like_this_on_the_map_lists_the_point_ringed_on_screen(
    handlers, colour_images
) -> None:
    """ "More like this, in the grid" lists the point the map's value holds (ringed on screen),
    not the last pick the server saw (a pick still queued behind a slow event)."""
    import gradio as gr

    h, ui, _, session, reds = _two_reds_labeled(handlers, colour_images)
    with pytest.warns(UserWarning, match="click a point on the map first"):
        assert isinstance(h.map_more(session, {"picked": None}), type(gr.skip()))
    h.map_pick(session, SimpleNamespace(image=reds[3]))
    out = h.map_more(session, {"picked": reds[5]})
    assert _grid_paths(out, ui)[0] == reds[5] and session.similar_to == reds[5]
    assert out[ui.tabs].constructor_args["selected"] == "label"
    assert session.focus == session.map_focus == reds[5]


def test_a_point_clicked_on_the_map_is_labeled_by_its_class_key(handlers, colour_images) -> None:
    """The number keys label the point clicked on the Map, as they label the grid's selection;
    the preview beside the map shows the label at once. Before a click, a key says to click."""
    h, ui, ana, session, reds = _two_reds_labeled(handlers, colour_images)
    out = h.map_key(0)(session, {"html": ""}, ana)
    assert "click a point on the map first" in out[ui.message]
    h.map_pick(session, SimpleNamespace(image=reds[3]))
    # The key acts on the point ringed on screen, sent with it; a pick still queued behind
    # the last label (reds[3] as the server last saw) must not take it.
    out = h.map_key(0)(session, {"html": "", "picked": reds[2]}, ana)
    assert out[ui.message].startswith(views.plain(f"Labeled {reds[2]} as red"))
    assert project_label(h, reds[3]) is None
    assert project_label(h, reds[2]) == "red"
    assert reds[2] in out[ui.map_preview] and "not labeled" not in out[ui.map_preview]
    assert out[ui.map_keys[0]].value == "1 · red" and out[ui.map_keys[0]].visible
    assert out[ui.grid]["selected"] is None  # the Label tab's selection is left as it was
    out = h.assign_named(session, {"selected": [reds[2]]}, "blue", ana)  # on the Label tab
    assert out[ui.grid]["selected"] == []  # labeled: the selection is cleared
    out = h.open_map(session, "labels only")
    assert "<b>blue</b>" in out[ui.map_preview]  # the preview shows it on the way back


def test_a_class_typed_on_the_map_labels_the_point_ringed(handlers, colour_images) -> None:
    """Beyond the nine number keys (a tenth class has none), the Map tab's box labels the
    point ringed on screen as the class typed, an existing one or a new one."""
    h, ui, ana, session, reds = _two_reds_labeled(handlers, colour_images)
    out = h.map_named(session, {"picked": None}, "red", ana)
    assert out[ui.message] == views.plain(
        "Not done: click a point on the map first, then type its class"
    )
    out = h.map_named(session, {"picked": reds[4]}, "  ", ana)
    assert out[ui.message].startswith(views.plain("Not done: type a class name first"))
    out = h.map_named(session, {"picked": reds[4]}, " RED ", ana)  # as typed: case, spaces
    assert project_label(h, reds[4]) == "red" and out[ui.map_as] == ""
    assert reds[4] in out[ui.map_preview] and out[ui.grid]["selected"] is None
    h.map_named(session, {"picked": reds[5]}, "crimson", ana)  # a class no key has yet
    assert project_label(h, reds[5]) == "crimson" and "crimson" in h.wb.snapshot().classes


def test_more_like_this_lists_the_neighbours_whatever_the_filter(handlers, colour_images) -> None:
    h, ui, _, session, reds = _two_reds_labeled(handlers, colour_images)
    h.set_filter(session, "uncertain", "", "file name")
    session.focus = reds[2]
    out = h.more_like_this(session)
    listed = _grid_paths(out, ui)
    assert listed[0] == reds[2] and reds[2] not in listed[1:]  # the image asked about leads
    assert set(reds[:2]) <= set(listed)  # labeled neighbours too
    assert out[ui.show]["value"] == "all" and session.query.show == "all"
    before = replace(session.query, rows=None, show="uncertain", page=1)
    session.focus = listed[1]
    h.more_like_this(session)  # the neighbours of a neighbour: the way back stays the same
    h.set_filter(session, "all", "", "confidence, lowest first")  # the boxes moved meanwhile
    out = h.all_images(session)  # "✕ all images": back to the filter as it was
    assert session.query == before and session.similar_to is None
    assert out[ui.show]["value"] == "uncertain" and out[ui.sort]["value"] == "file name"


def test_an_edit_answered_late_leaves_the_class_box_as_the_expert_set_it(
    handlers, colour_images
) -> None:
    """A label drawn while the filter was on red, answered after the expert chose another
    class, does not put red back in the box; a class renamed or gone moves the box."""
    h, ui, ana, session, reds = _two_reds_labeled(handlers, colour_images)
    h.set_filter(session, "all", "red", "file name")
    out = h.assign_named(session, {"selected": reds[2:3]}, "red", ana)
    assert "value" not in out[ui.cls].constructor_args
    out = h.rename_class(session, "red", "crimson", ana)
    assert out[ui.cls].constructor_args["value"] == "crimson"
    out = h.delete_class(session, "crimson", ana)
    assert out[ui.cls].constructor_args["value"] == browse.ANY_CLASS


def _two_classes_labeled(handlers, colour_images):
    """(handlers, ui, truth, annotator request, session) after a page load and two labels each
    of red and blue."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana = SimpleNamespace(username="ana")
    session = Session()
    h.load(session)
    for name in ("red", "blue"):
        h.assign_named(session, {"selected": [p for p in truth if truth[p] == name][:2]}, name, ana)
    return h, ui, truth, ana, session


def test_a_refusal_and_a_skip_say_so_in_the_header(handlers, colour_images) -> None:
    """The header's line says what the last action did: after a refused one, that it was not
    done (left as it was, it would say that an earlier action was, as if this one had been)."""
    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    assert h.create_class(session, "owl", ana)[ui.message].startswith("Created class owl")
    for name, why in (
        ("RED", "RED' differs from 'red' only in case"),
        ("a\tb", "contains invisible or control characters"),
        ("x" * 150, "one line of at most 100 characters"),
    ):
        with pytest.warns(UserWarning, match=why.split("' ")[-1]):  # the notice
            out = h.create_class(session, name, ana)
        assert list(out) == [ui.message] and out[ui.message].startswith("Not done: ")
        assert why in out[ui.message]
    with pytest.warns(UserWarning, match="no images selected"):
        out = h.assign_named(session, {"selected": []}, "red", ana)
    assert out[ui.message].startswith("Not done: no images selected")
    out = h.open_review(session)
    first = session.review[0].path
    out = h.review_skip(session, out[ui.review_shown])
    assert out[ui.message] == views.plain(
        f"Skipped {first}: not asked again in this session · Ctrl+Z brings it back"
    )
    assert session.review[0].path != first and first in session.skipped


def test_a_class_typed_in_other_case_labels_with_that_class(handlers, colour_images) -> None:
    h, ui, truth, ana, session = _two_classes_labeled(handlers, colour_images)
    green = next(p for p in sorted(truth) if truth[p] == "green")
    out = h.assign_named(session, {"selected": [green]}, " RED ", ana)  # meant: red
    assert out[ui.message].startswith(views.plain(f"Labeled {green} as red"))
    assert project_label(h, green) == "red"
    out = h.open_review(session)
    card = session.review[0].path
    out = h.review_named(session, out[ui.review_shown], "Ｂｌｕｅ", ana)  # full-width letters
    assert project_label(h, card) == "blue"
    assert sorted(h.project.store.classes()) == ["blue", "red"]  # no look-alike class made


def test_a_single_prediction_to_accept_is_one(handlers, colour_images) -> None:
    h, ui, truth, ana, session = _two_classes_labeled(handlers, colour_images)
    *rest, last = [p for p in sorted(truth) if project_label(h, p) is None]
    h.wb.assign(rest, "red", annotator="ana")  # one image left to predict
    assert (
        h.move_threshold(session, 0.0, "", True)[ui.accept_above].value
        == "Accept 1 prediction ≥ 0.00"
    )
    out = h.accept_above(session, 0.0, "", True, ana)
    assert out[ui.message] == views.plain(
        "Accepted 1 prediction with confidence ≥ 0.00 · Ctrl+Z undoes"
    )
    assert project_label(h, last) is not None


def test_an_accept_after_labels_given_elsewhere_is_refused_until_the_tab_is_redrawn(
    handlers, colour_images
) -> None:
    """The Trust tab's figures (how many would be accepted, at what precision) are what the
    expert decides on: labels given elsewhere meanwhile refit the model, and an accept then
    would accept something else. It is refused; the next poll redraws the tab, and an accept
    of the figures drawn then goes through."""
    import gradio as gr

    h, ui, truth, ana, session = _two_classes_labeled(handlers, colour_images)
    assert isinstance(h.trust_poll(session, 0.5, "", True), type(gr.skip()))  # tab not opened
    drawn = h.move_threshold(session, 0.5, "", True)[ui.accept_above].value
    assert isinstance(h.trust_poll(session, 0.5, "", True), type(gr.skip()))  # nothing new
    unlabeled = [p for p in sorted(truth) if project_label(h, p) is None]
    h.wb.assign(unlabeled[:6], "red", annotator="bob")  # another expert, meanwhile
    out = h.accept_above(session, 0.5, "", True, ana)
    assert out[ui.message].startswith("Not done: the labels changed after the figures on screen")
    assert not h.wb.snapshot().accepted.any()
    redrawn = h.trust_poll(session, 0.5, "", True)
    now = browse.acceptance(h.wb.snapshot(), 0.5, browse.ANY_CLASS).count
    assert redrawn[ui.accept_above].value == f"Accept {now} predictions ≥ 0.50" != drawn
    out = h.accept_above(session, 0.5, "", True, ana)
    assert out[ui.message].startswith(f"Accepted {now} predictions")
    assert h.wb.snapshot().accepted.sum() == now


def test_undo_in_review_brings_the_card_back(handlers, colour_images) -> None:
    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    out = h.open_review(session)
    first = session.review[0].path
    h.review_key(0)(session, out[ui.review_shown], ana)
    assert session.review[0].path != first and project_label(h, first) == "red"
    out = h.undo(session, ana)
    assert project_label(h, first) is None
    assert session.review[0].path == first and first in out[ui.review]
    out = h.undo(session, ana)  # the label before it, made in the Label tab: no card to bring
    assert session.review[0].path == first and ui.review not in out


def test_rescan_says_when_new_files_share_one_vector(handlers, colour_images) -> None:
    from imagegen import COLOURS, coloured

    from labeler.ui.session import Session

    h, ui = handlers
    folder, _ = colour_images
    session = Session()
    h.load(session)
    image = coloured(COLOURS["red"], seed=4242)
    image.save(folder / "new a.png")
    (folder / "new b.png").write_bytes((folder / "new a.png").read_bytes())
    info = h.rescan(session)[ui.rescan_info]
    assert "2 new" in info
    assert "1 embedded (1 file has the same content as another: one vector for both)" in info
    (folder / "empty.png").write_bytes(b"")
    info = h.rescan(session)[ui.rescan_info]
    assert (
        f"1 skipped (`empty.png`: empty file (0 bytes); all listed in "
        f"`{h.project.path / 'skipped.csv'}`)"
    ) in info
    first, second = coloured(COLOURS["red"], seed=1), coloured(COLOURS["blue"], seed=2)
    first.save(folder / "stack.tif", save_all=True, append_images=[second])
    info = h.rescan(session)[ui.rescan_info]
    assert "1 image has more than one frame" in info
    assert "labeled by its first frame (`stack.tif`: 2 frames)" in info


def test_rescan_says_when_dicom_headers_changed_over_the_same_pixels(
    handlers, colour_images
) -> None:
    import numpy as np
    import pydicom
    from imagegen import write_dicom

    from labeler.ui.session import Session

    h, ui = handlers
    folder, _ = colour_images
    session = Session()
    h.load(session)
    write_dicom(folder / "IM0", np.arange(24 * 24, dtype=np.uint16).reshape(24, 24))
    assert "1 new" in h.rescan(session)[ui.rescan_info]
    ds = pydicom.dcmread(folder / "IM0")
    ds.PatientName = "ANONYMOUS"
    ds.save_as(folder / "IM0")
    info = h.rescan(session)[ui.rescan_info]
    assert "0 changed" in info and "1 embedded" in info
    assert "1 DICOM file with a new header over the same pixels" in info


def test_two_sessions_keys_undo_and_rescan(handlers, colour_images) -> None:
    """A second browser tab: its keys label the class they show, or nothing; undo keeps a later
    label from another tab; a rescan that removed the previewed image leaves both tabs working."""
    from labeler.ui.session import Session

    h, ui = handlers
    folder, truth = colour_images
    ana, bob = SimpleNamespace(username="ana"), SimpleNamespace(username="bob")
    a, b = Session(), Session()
    h.load(a)
    reds = sorted(p for p in truth if truth[p] == "red")
    blues = sorted(p for p in truth if truth[p] == "blue")
    h.assign_named(a, {"selected": reds[:1]}, "<b>red</b>", ana)
    h.assign_named(a, {"selected": blues[:1]}, "blue", ana)
    h.load(b)  # b's keys: 1 · <b>red</b>, 2 · blue
    h.delete_class(a, "<b>red</b>", ana)  # a's key 1 has no class now; b's still shows red
    with pytest.warns(UserWarning, match="changed in another session"):
        out = h.assign_key(0)(b, {"selected": [reds[1]]}, bob)
    assert project_label(h, reds[1]) is None and out[ui.label_keys[0]].value == ""
    assert out[ui.label_keys[1]].value == "2 · blue"  # blue keeps its key
    h.assign_key(1)(b, {"selected": [reds[1]]}, bob)
    assert project_label(h, reds[1]) == "blue"

    h.assign_named(a, {"selected": [reds[2]]}, "blue", ana)
    h.assign_named(b, {"selected": [reds[2]]}, "green", bob)
    out = h.undo(a, ana)  # a's label of reds[2] was replaced by b's: kept
    assert project_label(h, reds[2]) == "green"
    assert "another session" in out[ui.message]

    out = h.assign_named(a, {"selected": [reds[3]]}, "`x` **y** [z](http://e.com) $$", ana)
    assert "<" not in out[ui.message] and "\\*\\*y\\*\\*" in out[ui.message]

    h.set_filter(a, "all", "green", "file name")
    h.rename_class(a, "green", "verdant", ana)
    assert a.query.cls == "verdant"  # the filter follows the renamed class

    b.focus = reds[4]
    (folder / reds[4]).unlink()
    assert "<b>1 image</b> is gone" in h.load(b)[ui.status]
    h.rescan(a)
    out = h.set_filter(b, "all", "", "file name")
    assert b.focus is None and "Click an image" in out[ui.preview]
    for session in (a, b):
        assert "gone" not in h.load(session)[ui.status]
        assert h.open_review(session)[ui.review]
    # A labeled file that now holds another image loses its label, and the rescan says so.
    (folder / reds[5]).write_bytes((folder / blues[5]).read_bytes())
    h.assign_named(a, {"selected": [reds[5]]}, "verdant", ana)
    info = h.rescan(a)[ui.rescan_info]
    assert "**1 label removed**: its file now holds another image" in info
    assert project_label(h, reds[5]) is None


def test_a_refused_action_logs_one_line_and_a_bug_is_raised(handlers, caplog) -> None:
    """A refused action is expected: one log line, no traceback. Anything else goes on to Gradio,
    which prints its traceback."""
    from labeler.ui.refusals import friendly
    from labeler.ui.session import Session

    h, _ = handlers
    caplog.set_level(logging.INFO, logger="labeler.ui")
    with pytest.warns(UserWarning, match="click an image first"):
        assert h.more_like_this(Session()) == gr.skip()
    (record,) = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage().startswith("refused: click an image first;")
    assert "\n" not in record.getMessage()
    caplog.clear()

    @friendly
    def broken() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):
        broken()
    assert caplog.records == []


def test_undo_outlives_a_reload_and_is_each_users_own(handlers, colour_images) -> None:
    """The undo history is the server's, per user: a new page (a reload) undoes the last edit
    of its user, and another user has nothing of theirs to undo."""
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana, bob = SimpleNamespace(username="ana"), SimpleNamespace(username="bob")
    first = Session()
    h.load(first)
    reds = sorted(p for p in truth if truth[p] == "red")
    h.assign_named(first, {"selected": reds[:2]}, "red", ana)
    h.create_class(first, "owl", ana)
    reloaded = Session()
    h.load(reloaded)
    assert h.undo(reloaded, bob)[ui.message] == "Nothing of yours to undo."
    out = h.undo(reloaded, ana)
    assert "created class owl" in out[ui.message] and "owl" not in h.wb.snapshot().classes
    h.undo(reloaded, ana)
    assert project_label(h, reds[0]) is None and project_label(h, reds[1]) is None
    assert h.undo(reloaded, ana)[ui.message] == "Nothing of yours to undo."


def test_undo_history_keeps_the_last_edits_of_each_user() -> None:
    from labeler.edits import Edit
    from labeler.ui.history import UndoHistory

    history = UndoHistory(depth=2)
    for i in range(3):
        history.push("ana", Edit(description=f"edit {i}"))
    history.push("bob", Edit(description="bob's"))
    assert len(history) == 3
    assert [history.pop("ana").description for _ in range(2)] == ["edit 2", "edit 1"]
    assert history.pop("ana") is None and history.pop("carl") is None
    assert history.pop("bob").description == "bob's"


def test_number_keys_stay_with_their_classes_when_one_is_deleted(handlers, colour_images) -> None:
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana, session = SimpleNamespace(username="ana"), Session()
    h.load(session)
    for colour in ("red", "green", "blue"):
        h.assign_named(
            session, {"selected": [p for p in truth if truth[p] == colour][:1]}, colour, ana
        )
    out = h.delete_class(session, "green", ana)
    keys = [(out[b].value, out[b].constructor_args["visible"]) for b in ui.label_keys[:3]]
    assert keys == [("1 · red", True), ("", False), ("3 · blue", True)]  # 3 is still blue
    with pytest.warns(UserWarning, match="no class with key 2"):
        assert h.assign_key(1)(session, {"selected": [next(iter(truth))]}, ana) == {
            ui.message: "Not done: there is no class with key 2"
        }
    h.assign_named(
        session, {"selected": [p for p in truth if truth[p] == "green"][:1]}, "lime", ana
    )
    out = h.class_view(session)
    shown = [out[b].value for b in ui.label_keys]
    assert shown[0] == "1 · red" and shown[2] == "3 · blue"  # a new class moves none either
    assert shown.count("2 · lime") + shown.count("4 · lime") == 1  # 2 once the second turned


def test_a_key_press_does_not_wait_for_a_refit_under_way(handlers, colour_images) -> None:
    """Labeling back to back: the second label shows while the first one's refit still runs."""
    import threading

    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana, session = SimpleNamespace(username="ana"), Session()
    h.load(session)
    reds = sorted(p for p in truth if truth[p] == "red")
    blues = sorted(p for p in truth if truth[p] == "blue")
    h.assign_named(session, {"selected": reds[:2]}, "red", ana)
    h.assign_named(session, {"selected": blues[:2]}, "blue", ana)
    h.refresh(session)
    started, release = _hold_refits(h.wb.live)
    h.assign_key(0)(session, {"selected": reds[2:3]}, ana)
    refit = threading.Thread(target=h.refresh, args=(session,))
    refit.start()
    try:
        assert started.wait(30)  # the refit after that label is under way, and held
        out = h.assign_key(1)(session, {"selected": blues[2:3]}, ana)
        assert refit.is_alive()  # answered while the refit is held
        assert out[ui.message].startswith(views.plain(f"Labeled {blues[2]} as blue"))
        assert h.project.store.labels_of([int(h.wb.live.item_ids[h.wb.row(blues[2])])])
    finally:
        release.set()
        refit.join(30)


def test_a_turn_of_the_page_does_not_wait_for_a_refit_and_the_refit_draws_it(
    handlers, colour_images
) -> None:
    """▶ pressed while the refit after a label runs: the next page shows at once, and the
    refit's redraw leaves the grid to the turn (its answer, larger, could reach the browser
    after the turn's and put the page before back on screen); the next poll draws the turned
    page with the new predictions."""
    import threading

    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana, session = SimpleNamespace(username="ana"), Session()
    session.set_query(page_size=8)
    everything = sorted(truth)
    h.load(session)
    h.assign_named(session, {"selected": everything[:2]}, "red", ana)
    h.assign_named(session, {"selected": everything[8:10]}, "blue", ana)
    h.refresh(session)
    started, release = _hold_refits(h.wb.live)
    h.assign_key(0)(session, {"selected": everything[2:3]}, ana)
    redraw: dict = {}
    refit = threading.Thread(target=lambda: redraw.update(h.refresh(session)))
    refit.start()
    try:
        assert started.wait(30)  # the refit after that label is under way, and held
        turned: dict = {}
        turn = threading.Thread(target=lambda: turned.update(h.next_page(session)))
        turn.start()
        turn.join(10)
        assert not turn.is_alive() and refit.is_alive()  # answered while the refit is held
    finally:
        release.set()
        refit.join(30)
    assert _grid_paths(turned, ui) == everything[10:18]
    assert ui.grid not in redraw and ui.page_info not in redraw and ui.status in redraw
    polled = h.poll(session)  # the turn drew with the predictions before the refit
    assert _grid_paths(polled, ui) == everything[10:18] and session.drawn_fitted
    assert "predicted" in polled[ui.grid]["html"]


def _hold_refits(live):
    """Make every refit of `live` wait for the second event after setting the first: (refit
    started, release it)."""
    import threading

    fit, started, release = live._fit_rows, threading.Event(), threading.Event()

    def held(*args):
        started.set()
        assert release.wait(30)
        return fit(*args)

    live._fit_rows = held
    return started, release


def test_a_label_set_in_another_tab_since_the_page_was_drawn_is_said_when_replaced(
    handlers, colour_images
) -> None:
    from labeler.ui.session import Session

    h, ui = handlers
    _, truth = colour_images
    ana, bob = SimpleNamespace(username="ana"), SimpleNamespace(username="bob")
    a, b = Session(), Session()
    h.load(a)
    h.load(b)  # both pages show the first image unlabeled
    first, second = sorted(truth)[:2]
    h.assign_named(a, {"selected": [first]}, "coat", ana)  # b's page does not show it
    out = h.assign_named(b, {"selected": [first]}, "dress", bob)
    assert out[ui.message] == views.plain(
        f"Labeled {first} as dress (it was coat) · Ctrl+Z undoes · note: {first} had been "
        "labeled coat in another session since this page was drawn; Ctrl+Z puts that back"
    )
    out = h.assign_named(b, {"selected": [first, second]}, "dress", bob)  # b's page is redrawn
    assert "note" not in out[ui.message]
    h.undo(b, bob)
    assert project_label(h, first) == "dress"
    h.undo(b, bob)
    assert project_label(h, first) == "coat"  # as the note said


def test_a_slow_refit_does_not_hold_the_next_review_card(
    handlers, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next card is drawn with the predictions before the label just given while its refit
    runs (held here until the test lets it go), and drawn again once it is done."""
    import json
    import threading

    import labeler.ui.handlers_tabs as tabs

    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    out = h.open_review(session)
    release = threading.Event()
    fit = h.wb.live._fit_rows

    def held(rows, names):
        assert release.wait(timeout=60), "the test never let the refit go"
        return fit(rows, names)

    monkeypatch.setattr(h.wb.live, "_fit_rows", held)
    monkeypatch.setattr(tabs, "REVIEW_REFIT_WAIT", 0.0)
    first, on_first = session.card, out[ui.review_shown]
    out = h.review_key(0)(session, on_first, ana)
    assert labels_by(h)[first][0] == "red"  # labeled at once, the refit still held
    assert session.card_refitting and "from before your last label, updating" in out[ui.review]
    assert "updating predictions" in out[ui.status]
    second = session.card
    assert second not in (None, first) and json.loads(out[ui.review_shown])["path"] == second
    release.set()
    with pytest.warns(UserWarning, match=f"{first} is labeled red already"):
        h.review_key(1)(session, on_first, ana)  # a second press meant for the first card
    redrawn = h.review_refresh(session)  # the header too, drawn during the refit
    assert session.card == second and not session.card_refitting
    assert "updating" not in redrawn[ui.review] and second in redrawn[ui.review]
    assert "updating predictions" not in redrawn[ui.status]
    assert h.wb.snapshot().fitted  # the refit done
    assert isinstance(h.review_refresh(session), type(gr.skip()))  # nothing more to redraw


def test_a_review_key_acts_on_the_card_and_prediction_the_browser_showed(
    handlers, colour_images
) -> None:
    """Enter accepts the prediction that was on screen, not the one a refit made since; a key
    sent for a card that is no longer the one under review does nothing."""
    import json

    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    out = h.open_review(session)
    card = json.loads(out[ui.review_shown])
    assert card["path"] == session.card and card["guess"] in ("red", "blue")
    other = "blue" if card["guess"] == "red" else "red"
    seen = json.dumps({"path": card["path"], "guess": other, "ood": False})  # before a refit
    h.review_accept(session, seen, ana)
    assert project_label(h, card["path"]) == other
    gone = seen  # a second press on the old card
    before = labels_by(h)
    with pytest.warns(UserWarning, match="is labeled .* already"):
        out = h.review_accept(session, gone, ana)
    assert labels_by(h) == before
    assert out[ui.message] == views.plain(
        f"Not done: {card['path']} is labeled {other} already: nothing done; the next card is shown"
    )
    skipped = json.loads(out[ui.review_shown])
    h.review_skip(session, out[ui.review_shown])
    with pytest.warns(UserWarning, match=f"{skipped['path']} is no longer the card under review"):
        h.review_accept(session, out[ui.review_shown], ana)  # a card gone by, not labeled


def test_undo_right_after_a_skip_brings_the_card_back_and_undoes_no_label(
    handlers, colour_images
) -> None:
    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    before = labels_by(h)
    out = h.open_review(session)
    first = session.card
    out = h.review_skip(session, out[ui.review_shown])
    assert out[ui.message] == views.plain(
        f"Skipped {first}: not asked again in this session · Ctrl+Z brings it back"
    )
    out = h.undo(session, ana)
    assert out[ui.message] == views.plain(f"Brought back {first}, skipped: nothing else undone")
    assert session.card == first and first not in session.skipped and first in out[ui.review]
    assert labels_by(h) == before  # the Label tab's last edit is still there
    out = h.review_skip(session, out[ui.review_shown])
    second = session.card
    h.review_key(0)(session, out[ui.review_shown], ana)  # a label after the skip: undo is its
    h.undo(session, ana)
    assert project_label(h, second) is None and first in session.skipped


def test_a_card_that_fits_no_class_says_so_and_enter_does_not_accept_it(
    handlers, colour_images
) -> None:
    import json

    h, _, _, ana, session = _two_classes_labeled(handlers, colour_images)
    h.open_review(session)
    path = session.card
    item = session.review[0]
    d = replace(h.wb.details(path), ood=True)  # as the detector would flag it
    card = views.review_html(item, d, small=False, left=0)
    assert "Fits no class · nearest: <b>" in card and "Enter does not accept it" in card
    shown = views.card_shown(d)
    assert json.loads(shown) == {"path": path, "guess": None, "ood": True}
    before = labels_by(h)
    with pytest.warns(UserWarning, match="fits no class, so Enter does not accept"):
        h.review_accept(session, shown, ana)
    assert labels_by(h) == before and session.card == path
    h.review_key(1)(session, shown, ana)  # a number key labels it
    assert project_label(h, path) == "blue"


def test_a_reload_shows_the_filter_and_order_the_browser_kept(handlers, colour_images) -> None:
    """The browser keeps the Label tab's filter, class and order (`ui.saved_view`); a reload
    (a new session) shows the grid so, except for choices the project no longer offers."""
    from labeler.ui.session import Session

    h, ui, _, _, _ = _two_classes_labeled(handlers, colour_images)
    saved = {"show": "uncertain", "cls": "red", "sort": "margin, lowest first"}
    session = Session()
    out = h.load(session, saved)
    assert (session.query.show, session.query.cls, session.query.sort) == tuple(saved.values())
    assert out[ui.show]["value"] == "uncertain" and out[ui.sort]["value"] == saved["sort"]
    assert out[ui.cls].value == "red"
    assert out[ui.page_info].endswith("uncertain images")
    stale = {"show": "nonsense", "cls": "purple", "sort": 3}  # another version, a class gone
    session = Session()
    out = h.load(session, stale)
    assert session.query == Session().query and out[ui.show]["value"] == "unlabeled"
    assert h.load(Session(), None)[ui.sort]["value"] == "file name"  # nothing kept yet
    # What the browser keeps follows the server's changes too: a class renamed, deleted.
    session = Session()
    h.load(session, saved)
    out = h.rename_class(session, "red", "scarlet", SimpleNamespace(username="ana"))
    assert out[ui.saved_view] == saved | {"cls": "scarlet"}
    out = h.similar_view(session, h.wb.paths[0])  # neighbours listed: the view to go back to
    assert out[ui.saved_view] == saved | {"cls": "scarlet"}
    h.all_images(session)
    out = h.delete_class(session, "scarlet", SimpleNamespace(username="ana"))
    assert out[ui.saved_view] == saved | {"cls": ""}


def test_a_page_closed_or_reloaded_gives_its_review_card_and_grid_lock_back(
    handlers, colour_images
) -> None:
    from labeler.ui.session import Session

    h, _, _, _, a = _two_classes_labeled(handlers, colour_images)
    h.load(a, {}, SimpleNamespace(session_hash="page-a"))
    b = Session()
    h.load(b, {}, SimpleNamespace(session_hash="page-b"))
    h.open_review(a)
    held = a.card
    h.open_review(b)
    assert b.card != held and held in h.cards.elsewhere(b)  # a's card is not dealt to b ...
    lock = h.drawing(a)
    assert h.drawing(a) is lock is not h.drawing(b)  # one lock a page, for its page's life
    h.unload(SimpleNamespace(session_hash="page-a"))  # ... until a's page goes
    assert held not in h.cards.elsewhere(b)
    assert "page-a" not in h._drawing and "page-b" in h._drawing  # nothing kept of a page gone


def test_labels_given_elsewhere_come_in_on_the_next_poll(handlers, colour_images) -> None:
    h, ui, truth, _, session = _two_classes_labeled(handlers, colour_images)
    h.refresh(session)
    assert isinstance(h.poll(session), type(gr.skip()))  # nothing new: nothing redrawn
    other = next(p for p in sorted(truth) if project_label(h, p) is None)
    h.project.label([(other, "green")], annotator="bob")  # the command line, say
    out = h.poll(session)
    assert "green" in out[ui.counts] and session.drawn == h.project.store.label_version()
    assert isinstance(h.poll(session), type(gr.skip()))  # drawn: quiet again


def test_an_undo_while_the_next_card_waits_undoes_the_label_just_given(
    handlers, colour_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label goes on the undo history before the wait for its refit: a Ctrl+Z then undoes
    it, not the label before (a browser QA run pressed Ctrl+Z within the second)."""
    import threading

    h, ui, _, ana, session = _two_classes_labeled(handlers, colour_images)
    out = h.open_review(session)
    waiting, release = threading.Event(), threading.Event()
    refit = h.wb.live.refit_within

    def held(seconds: float) -> bool:
        waiting.set()
        assert release.wait(timeout=60), "the test never let the wait end"
        return refit(seconds)

    monkeypatch.setattr(h.wb.live, "refit_within", held)
    first = session.card
    worker = threading.Thread(target=h.review_key(0), args=(session, out[ui.review_shown], ana))
    worker.start()
    assert waiting.wait(timeout=60)
    before = labels_by(h)
    assert before[first][0] == "red"
    said = h.undo(session, ana)[ui.message]
    release.set()
    worker.join(timeout=60)
    assert said == views.plain(f"Undid: labeled {first} as red")
    assert first not in labels_by(h) and len(labels_by(h)) == len(before) - 1


def test_the_copies_note_names_one_pair_or_counts_them() -> None:
    assert views.copies_note([]) == ""
    one = views.copies_note([("a.png", "b.png", "cat")])
    assert "a.png is the same file, byte for byte, as b.png, labeled cat" in one
    assert one.startswith(" · note:") and "one of the two labels is wrong" in one
    two = views.copies_note([("a.png", "b.png", "cat"), ("c.png", "d.png", "dog")])
    assert two.startswith(" · note: 2 images have a copy under another class (a.png is")
    assert "c.png" not in two


def test_labeling_an_image_whose_copy_holds_another_class_says_so(tmp_path: Path) -> None:
    from imagegen import write_colour_set

    from labeler.ui.handlers_tabs import TabHandlers
    from labeler.ui.layout import build_layout
    from labeler.ui.session import Session

    folder = tmp_path / "images"
    first = sorted(write_colour_set(folder, 3))[0]
    (folder / "copy.png").write_bytes((folder / first).read_bytes())
    project, _ = Project.init(tmp_path / "p", images=folder, backbone="fake", progress=False)
    with project:
        ui = build_layout()
        h, session, ana = TabHandlers(project, ui), Session(), SimpleNamespace(username="ana")
        h.load(session)
        h.assign_named(session, {"selected": ["copy.png"]}, "coat", ana)
        out = h.assign_named(session, {"selected": [first]}, "dress", ana)
    assert out[ui.message] == views.plain(
        f"Labeled {first} as dress · Ctrl+Z undoes · note: {first} is the same file, byte for "
        "byte, as copy.png, labeled coat: one of the two labels is wrong"
    )


def test_an_undo_pressed_during_a_slow_edit_waits_for_it_and_undoes_it(
    handlers, colour_images, monkeypatch
) -> None:
    """The edit answers first, and the undo undoes that edit, not the one before it."""
    import threading

    h, ui, ana, session, reds = _two_reds_labeled(handlers, colour_images)
    started, go, popped = threading.Event(), threading.Event(), threading.Event()
    assign = type(h.wb).assign

    def slow_assign(wb, *args, **kwargs):
        started.set()
        go.wait()
        return assign(wb, *args, **kwargs)

    pop = h.history.pop
    monkeypatch.setattr(h.history, "pop", lambda who: popped.set() or pop(who))
    monkeypatch.setattr(type(h.wb), "assign", slow_assign)
    answers = []
    edit = threading.Thread(
        target=lambda: answers.append(h.assign_named(session, {"selected": reds[2:4]}, "red", ana))
    )
    edit.start()
    started.wait()
    undo = threading.Thread(target=lambda: answers.append(h.undo(session, ana)))
    undo.start()
    # Without turns, the undo would pop the first edit now; give it the chance to.
    assert not popped.wait(0.5)
    go.set()
    edit.join()
    undo.join()
    assert answers[0][ui.message].startswith("Labeled 2 images as red")
    assert answers[1][ui.message].startswith("Undid: labeled 2 images as red")
    assert {p for p in reds[:4] if project_label(h, p)} == set(reds[:2])
