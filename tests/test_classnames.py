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
    "name",
    [
        "cat",
        "Äpfel und Birnen",
        "HER2+",
        "-neg",
        "?",
        "猫",
        "👩\u200d⚕️ clinician",
        "a" * 100,
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland",
    ],
    ids=["ascii", "umlauts", "plus", "minus", "punctuation", "cjk", "zwj-emoji", "100", "tag-flag"],
)
def test_good_names_pass(name: str) -> None:
    assert check_class_name(name) == name


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("\u0648\u0631\u0645\u200f \u062e\u0628\u064a\u062b", "ورم خبيث"),  # RLM after a word
        ("\u200fשפיר", "שפיר"),  # RLM before Hebrew
        ("HER2 \u200eإيجابي\u200e", "HER2 إيجابي"),  # LRM around a mixed name
        ("\u061cسليم", "سليم"),  # Arabic letter mark
        ("adeno\u00adcarcinoma", "adenocarcinoma"),  # a soft hyphen copied from a web page
    ],
    ids=["arabic-rlm", "hebrew-rlm", "mixed-lrm", "arabic-letter-mark", "soft-hyphen"],
)
def test_invisible_marks_of_copied_text_are_dropped(typed: str, stored: str) -> None:
    assert check_class_name(typed) == stored
    assert check_new_class_names([typed], [stored]) == {typed: stored}  # the same class


def test_length_is_counted_once_composed() -> None:
    decomposed = "e\u0301" * 60  # 120 code points typed, 60 characters in NFC
    assert check_class_name(decomposed) == "\u00e9" * 60


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "cannot be empty or only spaces; type a name"),
        ("   ", "cannot be empty or only spaces"),
        (" cat", "has surrounding spaces; leave them out"),
        ("cat\n", "has surrounding spaces"),
        ("two\nlines", "one line of at most 100 characters; got 9 characters, 2 line"),
        ("x" * (MAX_CLASS_NAME + 1), "got 101 characters"),
        ("c\x00t", r"invisible or control characters \(U\+0000\)"),
        ("a\tb", r"U\+0009"),
        ("zero\u200bwidth", r"U\+200B"),
        ("\ufeffbom", r"U\+FEFF"),
        ("evil\u202egnp.exe", r"U\+202E"),  # a right-to-left override
        ("\u2067isolated\u2069", r"U\+2067, U\+2069"),  # direction isolates stay refused
        ("half \ud83d", r"U\+D83D"),  # a lone surrogate: half an emoji, cannot be stored
        ("\U000e0067b", r"U\+E0067"),  # a tag character outside a flag
        ("line\u2028separator", "one line of at most 100 characters; got 14 characters, 2 line"),
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


@pytest.mark.parametrize(
    ("new", "existing"),
    [("STRASSE", "Straße"), ("İzmir", "izmir"), ("izmir", "İZMİR"), ("ΟΔΟΣ", "οδος")],
    ids=["sharp-s", "dotted-capital-i", "dotted-capitals", "final-sigma"],
)
def test_special_case_pairs_are_twins(new: str, existing: str) -> None:
    with pytest.raises(LabelerError, match=f"differs from {existing!r} only in case"):
        check_new_class_names([new], [existing])


@pytest.mark.parametrize(
    ("new", "existing"),
    [
        ("\uff42\uff41\uff47", "bag"),  # full-width
        ("\U0001d41b\U0001d41a\U0001d420", "Bag"),  # mathematical bold
        ("10 \u00b5m", "10 \u03bcm"),  # micro sign, Greek mu
        ("Grade \u2161", "grade II"),  # Roman numeral two
        ("\ufb01brosis", "Fibrosis"),  # ligature
        ("bag\u200d", "bag"),  # a joiner after Latin letters
        ("\u2764\ufe0f", "\u2764"),  # emoji presentation selector
    ],
    ids=["full-width", "math-bold", "micro", "roman", "ligature", "joiner", "variation"],
)
def test_look_alikes_are_twins(new: str, existing: str) -> None:
    with pytest.raises(LabelerError, match=f"from {existing!r} only in case or in the form"):
        check_new_class_names([new], [existing])


def test_look_alikes_do_not_merge_distinct_names() -> None:
    names = ["Grade 2", "Grade 2a", "x\u00b2", "co\u00f6p", "coop", "\u0915\u094d\u0937"]
    assert check_new_class_names(names, []) == {n: n for n in names}


def test_dotless_i_is_a_letter_of_its_own() -> None:
    assert check_new_class_names(["ılık"], ["ilik"]) == {"ılık": "ılık"}  # Turkish: two words


@pytest.mark.parametrize(
    ("given", "existing", "stored"),
    [
        ("caf\u00e9", ["cafe\u0301"], "cafe\u0301"),  # stored decomposed by an older version
        ("bag", ["bag", "BAG"], "bag"),  # case twins made before they were refused
        ("x", ["x\u200f"], "x\u200f"),  # a direction mark kept by an older version
    ],
)
def test_an_existing_class_is_found_however_it_was_stored(
    given: str, existing: list[str], stored: str
) -> None:
    assert check_new_class_names([given], existing) == {given: stored}


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


def test_edits_drop_direction_marks(store: Store) -> None:
    edits.assign(store, [(2, "\u05e9\u05e4\u05d9\u05e8\u200f")], annotator="ana")  # RLM typed
    edits.assign(store, [(3, "\u05e9\u05e4\u05d9\u05e8")], annotator="ana")
    assert store.classes() == ["Bag", "\u05e9\u05e4\u05d9\u05e8"]
