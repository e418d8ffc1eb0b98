"""Label and class edits with undo (labeler.edits) and the store methods under them."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeler import edits
from labeler.errors import LabelerError
from labeler.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.sqlite", create=True)
    s.sync_items([(f"img{i}.png", f"h{i}", 8, 8) for i in range(6)])
    yield s
    s.close()


def labels(store: Store) -> dict[int, str]:
    return {lab.item_id: lab.label for lab in store.labels()}


def test_assign_then_undo_restores_previous_labels(store: Store) -> None:
    store.set_labels([(1, "cat")], annotator="ana")
    edit = edits.assign(store, [(1, "dog"), (2, "dog")], annotator="bob")
    assert labels(store) == {1: "dog", 2: "dog"}
    assert edit.description == "labeled 2 images as dog; 1 had another label (cat), now replaced"
    assert "undid" in edits.undo(store, edit, annotator="bob")
    assert labels(store) == {1: "cat"}
    history = store.label_history(2)
    assert [h[0] for h in history] == ["dog", None]  # the undo is in the history too


def test_relabeling_a_selection_says_which_labels_it_replaced(store: Store) -> None:
    """Ctrl+A on a page that holds just-labeled images relabels them too: the message says so,
    by class, and leaves out labels that were already the class asked."""
    store.set_labels([(1, "cat"), (2, "cat"), (3, "bird"), (4, "dog")], annotator="ana")
    edit = edits.assign(store, [(i, "dog") for i in range(1, 7)], annotator="ana")
    assert edit.description == (
        "labeled 5 images as dog; 3 had another label (cat 2, bird 1), now replaced"
    )
    fresh = edits.assign(store, [(1, "cat"), (6, "cat")], annotator="bob")
    assert fresh.description == "labeled 2 images as cat; 2 had another label (dog), now replaced"


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: edits.assign(s, [(1, "dog"), (2, "dog")], annotator="bob"),
        lambda s: edits.merge_classes(s, "cat", "dog", annotator="bob"),
        lambda s: edits.delete_class(s, "cat", annotator="bob"),
    ],
    ids=["relabel", "merge", "delete"],
)
def test_undo_gives_labels_back_in_the_name_and_time_they_were_given(store: Store, edit) -> None:
    """The export's annotator and labeled_at are ana's again after bob undoes his edit; the
    history says that bob undid."""
    store.set_labels([(1, "cat"), (2, "cat")], annotator="ana", at="2026-01-02T03:04:05Z")
    store.set_labels([(3, "dog")], annotator="bob")
    before = [(r.item_id, r.label, r.annotator, r.labeled_at) for r in store.labels()]
    done = edit(store)
    edits.undo(store, done, annotator="bob")
    assert [(r.item_id, r.label, r.annotator, r.labeled_at) for r in store.labels()] == before
    assert store.label_history(1)[-1][:2] == ("cat", "bob")


def test_undo_of_a_relabel_to_the_same_class_gives_the_label_back_to_its_first_annotator(
    store: Store,
) -> None:
    """ana presses bob's class on bob's label (Ctrl+A on a page): the label becomes hers; her
    undo gives it back to bob, with his time."""
    store.set_labels([(1, "cat")], annotator="bob", at="2026-01-02T03:04:05Z")
    before = [(r.item_id, r.label, r.annotator, r.labeled_at) for r in store.labels()]
    edit = edits.assign(store, [(1, "cat"), (2, "cat")], annotator="ana")
    assert {r.item_id: r.annotator for r in store.labels()} == {1: "ana", 2: "ana"}
    edits.undo(store, edit, annotator="ana")
    assert [(r.item_id, r.label, r.annotator, r.labeled_at) for r in store.labels()] == before


def test_undo_keeps_labels_another_session_set_since(store: Store) -> None:
    store.set_labels([(1, "cat")], annotator="ana")
    edit = edits.assign(store, [(1, "dog"), (2, "dog"), (3, "dog")], annotator="ana")
    store.set_labels([(2, "owl")], annotator="bob")  # a second tab relabels image 2
    edits.delete_class(store, "owl", annotator="bob")  # ... or unlabels it, for image 2
    store.set_labels([(3, "cat")], annotator="bob")
    done = edits.undo(store, edit, annotator="ana")
    assert labels(store) == {1: "cat", 3: "cat"}  # 1 restored; 2 and 3 as bob left them
    assert "kept 2 images relabeled since by another session" in done


def test_assign_needs_a_selection_and_a_clean_name(store: Store) -> None:
    with pytest.raises(LabelerError, match="no images selected"):
        edits.assign(store, [], annotator="ana")
    with pytest.raises(LabelerError, match="surrounding spaces"):
        edits.assign(store, [(1, " cat")], annotator="ana")
    assert labels(store) == {}


def test_apply_labels_is_one_transaction(store: Store) -> None:
    with pytest.raises(Exception):  # noqa: B017 - item 99 does not exist: foreign key fails
        store.apply_labels([(1, "cat"), (99, "cat")], annotator="ana")
    assert labels(store) == {}


def test_create_class_and_undo_removes_it_only_when_unused(store: Store) -> None:
    edit = edits.create_class(store, "owl")
    assert store.classes() == ["owl"]
    edits.undo(store, edit, annotator="ana")
    assert store.classes() == []
    edit = edits.create_class(store, "owl")
    store.set_labels([(3, "owl")], annotator="ana")
    assert "kept class owl" in edits.undo(store, edit, annotator="ana")
    assert labels(store) == {3: "owl"}
    with pytest.raises(LabelerError, match="exists already"):
        edits.create_class(store, "owl")


def test_rename_keeps_labels_and_history_and_undoes(store: Store) -> None:
    store.set_labels([(1, "cat"), (2, "dog")], annotator="ana")
    edit = edits.rename_class(store, "cat", "kitten", annotator="ana")
    assert store.classes() == ["kitten", "dog"]  # same position: the same number key
    assert labels(store) == {1: "kitten", 2: "dog"}
    assert store.label_history(1)[0][0] == "kitten"
    with pytest.raises(LabelerError, match="merge"):
        edits.rename_class(store, "kitten", "dog", annotator="ana")
    edits.undo(store, edit, annotator="ana")
    assert store.classes() == ["cat", "dog"]


def test_merge_moves_labels_and_undo_splits_them_again(store: Store) -> None:
    store.set_labels(
        [(1, "cat"), (2, "cat"), (3, "dog")], annotator="ana", at="2026-01-01T00:00:00Z"
    )
    edit = edits.merge_classes(store, "cat", "dog", annotator="bob")
    assert store.classes() == ["dog"]
    assert labels(store) == {1: "dog", 2: "dog", 3: "dog"}
    # Each moved label keeps who gave it and when, as a rename does; the history has the merge.
    assert {(lab.annotator, lab.labeled_at) for lab in store.labels()} == {
        ("ana", "2026-01-01T00:00:00Z")
    }
    assert [(label, who) for label, who, _ in store.label_history(1)] == [
        ("cat", "ana"),
        ("dog", "bob"),
    ]
    edits.undo(store, edit, annotator="bob")
    assert store.classes() == ["cat", "dog"]
    assert labels(store) == {1: "cat", 2: "cat", 3: "dog"}


def test_delete_unlabels_and_drops_predictions_and_undo_restores(store: Store) -> None:
    import numpy as np

    store.set_labels([(1, "cat"), (2, "dog")], annotator="ana")
    store.add_run(
        method="m",
        model="x",
        params={},
        item_ids=np.array([3, 4]),
        labels=["cat", "dog"],
        confidence=np.array([0.9, 0.8]),
        margin=np.array([0.5, 0.4]),
        entropy=np.array([0.1, 0.2]),
    )
    edit = edits.delete_class(store, "cat", annotator="ana")
    assert store.classes() == ["dog"]
    assert labels(store) == {2: "dog"}
    assert [p[1] for p in store.predictions(store.latest_run().id)] == ["dog"]
    edits.undo(store, edit, annotator="ana")
    assert store.classes() == ["cat", "dog"]
    assert labels(store) == {1: "cat", 2: "dog"}


def test_a_deleted_name_can_be_used_again(store: Store) -> None:
    store.set_labels([(1, "cat"), (2, "dog")], annotator="ana")
    edits.delete_class(store, "cat", annotator="ana")
    store.set_labels([(3, "cat")], annotator="ana")  # labeling revives the class
    assert store.classes() == ["cat", "dog"]
    edits.delete_class(store, "cat", annotator="ana")
    edit = edits.rename_class(store, "dog", "cat", annotator="ana")  # onto a deleted name
    assert store.classes() == ["cat"]
    assert labels(store) == {2: "cat"}
    edits.undo(store, edit, annotator="ana")
    assert labels(store) == {2: "dog"}


def test_label_version_changes_with_labels_and_classes(store: Store) -> None:
    v0 = store.label_version()
    store.add_class("cat")
    v1 = store.label_version()
    store.set_labels([(1, "cat")], annotator="ana")
    v2 = store.label_version()
    store.rename_class("cat", "kitten")
    v3 = store.label_version()
    assert len({v0, v1, v2, v3}) == 4
    other = Store(store.path)  # another process or connection sees the same version
    assert other.label_version() == v3
    other.close()


def test_confirming_an_accepted_label_by_hand_records_the_expert(store: Store) -> None:
    store.apply_labels([(1, "cat")], annotator="ana (accepted auto)")
    assert store.apply_labels([(1, "cat")], annotator="ana") == 1
    assert store.apply_labels([(1, "cat")], annotator="ana") == 0
    assert [lab.annotator for lab in store.labels()] == ["ana"]


def test_label_events_since_and_labels_of(store: Store) -> None:
    start = store.label_version()[0]
    store.apply_labels([(1, "cat"), (2, "dog")], annotator="ana")
    store.apply_labels([(1, None)], annotator="bob")
    events = store.label_events_since(start)
    assert [(i, name, who) for _, i, name, who in events] == [
        (1, "cat", "ana"),
        (2, "dog", "ana"),
        (1, None, "bob"),
    ]
    assert store.label_events_since(events[-1][0]) == []
    assert store.labels_of([1, 2, 3]) == {2: "dog"}
    assert store.labels_of(range(1, 1200)) == {2: "dog"}  # more ids than one query takes


def test_a_repeated_label_changes_nothing_and_leaves_nothing_to_undo(store: Store) -> None:
    first = edits.assign(store, [(1, "cat"), (2, "cat")], annotator="ana")
    assert first.changed
    events = store.label_version()
    again = edits.assign(store, [(1, "cat"), (2, "cat")], annotator="ana")  # a double click
    assert not again.changed and again.description == "2 images already labeled cat"
    assert store.label_version() == events  # no event, no refit
    part = edits.assign(store, [(1, "cat"), (3, "cat")], annotator="ana")
    assert part.previous == ((3, None, "cat"),) and part.description == "labeled 1 image as cat"
    confirmed = edits.assign(store, [(1, "cat")], annotator="bob")  # another expert's label
    assert confirmed.changed and labels(store)[1] == "cat"


def test_accepted_predictions_stay_accepted_through_class_edits_and_undos(store: Store) -> None:
    """A merge moves an accepted prediction as one, and undoing a merge, a deletion or a hand
    relabel puts it back as one: never a hand label, which the heads would train on."""
    from labeler.store.annotator import accepted_annotator, is_accepted

    store.sync_items([(f"{i}.png", f"h{i}", 1, 1) for i in range(3)])
    a, b, c = (item.id for item in store.items())
    store.apply_labels([(a, "cat"), (b, "cat")], annotator=accepted_annotator("ana"))
    store.apply_labels([(c, "cat")], annotator="ana")

    def accepted() -> dict[int, bool]:
        return {lab.item_id: is_accepted(lab.annotator) for lab in store.labels()}

    assert accepted() == {a: True, b: True, c: False}
    store.add_class("dog")
    merge = edits.merge_classes(store, "cat", "dog", annotator="zed")
    assert accepted() == {a: True, b: True, c: False}
    assert {lab.label for lab in store.labels()} == {"dog"}
    edits.undo(store, merge, annotator="zed")
    assert accepted() == {a: True, b: True, c: False}
    deletion = edits.delete_class(store, "cat", annotator="zed")
    assert accepted() == {}
    edits.undo(store, deletion, annotator="zed")
    assert accepted() == {a: True, b: True, c: False}
    relabel = edits.assign(store, [(a, "dog")], annotator="bob")  # checked by hand: a hand label
    assert accepted()[a] is False
    edits.undo(store, relabel, annotator="bob")
    assert accepted()[a] is True and store.labels_of([a]) == {a: "cat"}


def test_a_hand_label_of_the_same_class_confirms_an_accepted_prediction(store: Store) -> None:
    from labeler.store.annotator import accepted_annotator

    store.sync_items([("a.png", "h1", 1, 1)])
    a = store.items()[0].id
    store.set_labels([(a, "cat")], annotator=accepted_annotator("ana"))
    assert store.set_labels([(a, "cat")], annotator=accepted_annotator("bob")) == 0  # no news
    assert store.set_labels([(a, "cat")], annotator="bob") == 1  # checked by hand
    assert store.labels()[0].annotator == "bob"
    assert store.set_labels([(a, "cat")], annotator="ana") == 0  # a hand label already


def test_undoing_the_label_that_made_a_class_removes_the_class_if_unused(store: Store) -> None:
    store.set_labels([(1, "cat")], annotator="ana")
    edit = edits.assign(store, [(2, "effusion")], annotator="ana")  # a new name: a new class
    assert store.classes() == ["cat", "effusion"]
    assert edits.undo(store, edit, annotator="ana") == "undid: labeled 1 image as effusion"
    assert store.classes() == ["cat"]  # a typo undone leaves no class (nor its number key)
    edit = edits.assign(store, [(2, "effusion"), (3, "effusion")], annotator="ana")
    again = edits.assign(store, [(4, "effusion")], annotator="bob")  # made no class
    assert again.created == ()
    store.set_labels([(5, "effusion")], annotator="bob")  # another session uses it meanwhile
    assert "kept class effusion" in edits.undo(store, edit, annotator="ana")
    assert labels(store) == {1: "cat", 4: "effusion", 5: "effusion"}
