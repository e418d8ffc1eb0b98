"""Class names: what a name may be, and which new names would be confused with existing ones.

Checked wherever labels or classes are written from outside (the label CSV, the UI's edits), so
that a class an expert cannot tell apart from another, or cannot see, is never made:

- one line of at most `MAX_CLASS_NAME` characters, with no surrounding spaces;
- no control characters (NUL, tab, newline) and no invisible format characters (zero-width
  spaces, byte-order marks, right-to-left overrides), except the zero-width (non-)joiners that
  some scripts and emoji need;
- Unicode NFC: names that look the same are stored the same ('é' typed as one character or as
  'e' plus an accent);
- a new name differing from an existing class (or from another new name) only in case, such as
  `bag` beside `Bag`, is refused: it would split one class in two.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from labeler.errors import LabelerError

MAX_CLASS_NAME = 100  # characters
_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner: part of some scripts


def check_class_name(name: str) -> str:
    """`name` in Unicode NFC, or a LabelerError saying what is wrong with it."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise LabelerError(f"class name {name!r} is empty or has surrounding spaces")
    if "\n" in name or "\r" in name or len(name) > MAX_CLASS_NAME:
        raise LabelerError(
            f"a class name must be one line of at most {MAX_CLASS_NAME} characters; got "
            f"{len(name)} characters, {name.count(chr(10)) + 1} line(s), starting {name[:40]!r}"
        )
    hidden = [c for c in name if _is_hidden(c)]
    if hidden:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in hidden}))
        raise LabelerError(
            f"class name {name!r} contains invisible or control characters ({codes}); "
            "type the name again without them"
        )
    return unicodedata.normalize("NFC", name)


def check_new_class_names(names: Iterable[str], existing: Iterable[str]) -> dict[str, str]:
    """Check `names` (as given) against the classes in use; return {given: NFC name}.

    A name not in `existing` whose case-folded form matches an existing class, or another new
    name, is refused with the existing spelling to use instead.
    """
    checked = {name: check_class_name(name) for name in names}
    known = {_fold(c): c for c in existing}
    kept = set(known.values())
    for given, name in checked.items():
        if name in kept:
            continue
        twin = known.setdefault(_fold(name), name)
        if twin != name:
            raise LabelerError(
                f"class name {given!r} differs from {twin!r} only in case, which would make two "
                f"classes of one; use {twin!r} (rename that class first if it is misspelt)"
            )
    return checked


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name.casefold())


def _is_hidden(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cf") and c not in _JOINERS
