"""Tests for labeler.classnames: which class names are refused, and how names are spelt."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from labeler import edits
from labeler.classnames import MAX_CLASS_NAME, check_class_name, check_new_class_names
from labeler.errors import LabelerError
from labeler.store import Store


@pytest.mark.parametrize(
    "name", ["cat", "Äpfel und Birnen", "HER2+", "-neg", "猫", "👩\u200d⚕️ clinician", "a" * 100]
)
def test_good_names_pass(name: str) -> None:
    assert check_class_name(name) == name


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "empty or has surrounding spaces"),
        (" cat", "empty or has surrounding spaces"),
        ("cat\n", "empty or has surrounding spaces"),
        ("two\nlines", "one line of at most 100 characters; got 9 characters, 2 line"),
        ("x" * (MAX_CLASS_NAME + 1), "got 101 characters"),
        ("c\x00t", r"invisible or control characters \(U\+0000\)"),
        ("a\tb", r"U\+0009"),
        ("zero\u200bwidth", r"U\+200B"),
        ("\ufeffbom", r"U\+FEFF"),
        ("evil\u202egnp.exe", r"U\+202E"),  # a right-to-left override
    ],
)
def test_bad_names_are_refused(name: str, match: str) -> None:
    with pytest.raises(LabelerError, match=match):
        check_class_name(name)


def test_names_are_stored_in_nfc() -> None:
    decomposed = "cafe\u0301"  # 'e' + combining acute accent
    assert check_class_name(decomposed) == "caf\u00e9"
    assert unicodedata.is_normalized("NFC", check_class_name(decomposed))


def test_a_new_name_differing_only_in_case_is_refused() -> None:
    with pytest.raises(LabelerError, match=r"'bag' differs from 'Bag' only in case.*use 'Bag'"):
        check_new_class_names(["bag"], ["Bag", "Coat"])


def test_two_new_names_differing_only_in_case_are_refused() -> None:
    with pytest.raises(LabelerError, match=r"differs from .* only in case"):
        check_new_class_names(["Bag", "BAG"], ["Coat"])


def test_existing_names_and_distinct_new_ones_pass() -> None:
    got = check_new_class_names(["Bag", "cafe\u0301", "Straße"], ["Bag", "Coat", "café"])
    assert got == {"Bag": "Bag", "cafe\u0301": "caf\u00e9", "Straße": "Straße"}


def test_case_of_a_decomposed_twin_is_found() -> None:
    with pytest.raises(LabelerError, match="only in case"):
        check_new_class_names(["CAFE\u0301"], ["café"])


# -- where names are written: the UI's edits (the label CSV: tests/test_project.py) --------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.sqlite", create=True)
    s.sync_items([(f"img{i}.png", f"h{i}", 8, 8) for i in range(4)])
    s.set_labels([(1, "Bag")], annotator="ana")
    yield s
    s.close()


@pytest.mark.parametrize(
    "edit",
    [
        lambda store: edits.assign(store, [(2, "bag")], annotator="ana"),
        lambda store: edits.create_class(store, "BAG"),
        lambda store: edits.rename_class(store, "Coat", "bag", annotator="ana"),
    ],
    ids=["assign", "create", "rename"],
)
def test_edits_refuse_a_case_twin_and_change_nothing(store: Store, edit) -> None:
    store.add_class("Coat")
    with pytest.raises(LabelerError, match="only in case"):
        edit(store)
    assert store.classes() == ["Bag", "Coat"]
    assert {lab.item_id: lab.label for lab in store.labels()} == {1: "Bag"}


def test_a_rename_may_fix_the_case_of_its_own_class(store: Store) -> None:
    edits.rename_class(store, "Bag", "bag", annotator="ana")
    assert store.classes() == ["bag"]


def test_edits_store_names_in_nfc(store: Store) -> None:
    edits.assign(store, [(2, "cafe\u0301")], annotator="ana")
    edits.assign(store, [(3, "caf\u00e9")], annotator="ana")  # the same class, typed otherwise
    assert store.classes() == ["Bag", "caf\u00e9"]
