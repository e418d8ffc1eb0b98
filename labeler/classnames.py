"""Class names: what a name may be, and which new names would be confused with existing ones.

Checked wherever labels or classes are written from outside (the label CSV, the UI's edits), so
that a class an expert cannot tell apart from another, or cannot see, is never made:

- one line of at most `MAX_CLASS_NAME` characters (counted in NFC), with no surrounding spaces;
- no control characters (NUL, tab, newline), no halves of a character (lone surrogates) and no
  invisible format characters (zero-width spaces, byte-order marks, right-to-left overrides),
  except the zero-width (non-)joiners that some scripts and emoji need and the tags of a
  regional flag emoji (🏴 England);
- the left-to-right, right-to-left and Arabic letter marks (U+200E, U+200F, U+061C), which Hebrew
  and Arabic keyboards type and right-to-left text carries when copied, and the soft hyphen
  (U+00AD) of names copied from web pages, are dropped rather than refused: invisible, they
  would otherwise make two classes that look the same;
- Unicode NFC: names that look the same are stored the same ('é' typed as one character or as
  'e' plus an accent);
- a new name that looks like an existing class (or another new name), differing only in case or
  in the form of its characters, is refused: it would split one class in two. Case: `bag` beside
  `Bag`, `STRASSE` beside `Straße`, `İzmir` beside `izmir` (without knowing the language, `I` is
  taken as the capital of `i`, not of the Turkish `ı`). Form: the compatibility characters that
  Unicode maps to plain ones (NFKC: full-width `ｂａｇ`, mathematical `𝐛𝐚𝐠`, the micro sign `µ`
  for the Greek `μ`, `Ⅱ` for `II`, the ligature `ﬁ`), and the joiners and emoji variation
  selectors, which change how a name looks little or not at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from labeler.errors import LabelerError
from labeler.wording import plural

MAX_CLASS_NAME = 100  # characters
_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner: part of some scripts
# Dropped (str.translate): direction marks, and the soft hyphen that names copied from web pages
# carry, invisible unless a line breaks there.
_DROPPED = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u00ad"))
# Left out when comparing names: joiners and variation selectors (U+FE00..U+FE0F).
_UNSEEN = dict.fromkeys([*map(ord, _JOINERS), *range(0xFE00, 0xFE10)])
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs")  # control, invisible format, lone surrogate
# A regional flag emoji: black flag, tag letters, cancel tag (the tags are format characters).
_TAG_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


class ClassNameError(LabelerError):
    """A class name refused; `names`: the names at fault, as given (a label CSV's refusal names
    the lines that hold them)."""

    def __init__(self, message: str, *names: str) -> None:
        super().__init__(message)
        self.names = names


def check_class_name(name: str) -> str:
    """`name` as stored (`_spelling`), or a LabelerError saying what is wrong with it."""
    if not isinstance(name, str):
        raise ClassNameError(f"class name {name!r} is not text; give the name as text", name)
    spelt = _spelling(name)
    if not spelt.strip():
        raise ClassNameError("a class name cannot be empty or only spaces; type a name", name)
    if spelt != spelt.strip():
        raise ClassNameError(f"class name {name!r} has surrounding spaces; leave them out", name)
    lines = len(spelt.splitlines())
    if lines > 1 or len(spelt) > MAX_CLASS_NAME:
        raise ClassNameError(
            f"a class name must be one line of at most {MAX_CLASS_NAME} characters; got "
            f"{plural(len(spelt), 'character')}, {plural(lines, 'line')}, starting {spelt[:40]!r}",
            name,
        )
    hidden = [c for c in _TAG_FLAG.sub("", spelt) if _is_hidden(c)]
    if hidden:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in hidden}))
        raise ClassNameError(
            f"class name {name!r} contains invisible or control characters ({codes}); "
            "type the name again without them",
            name,
        )
    return spelt


def check_new_class_names(names: Iterable[str], existing: Iterable[str]) -> dict[str, str]:
    """Check `names` (as given) against the classes in use; return {given: name as stored}.

    A name that is an existing class once spelt as stored (`_spelling`) is that
    class, in the spelling it has (an older project may hold names stored otherwise). Any other
    name that matches an existing class, or another new name, once case-folded and in
    compatibility form (`_fold`) is refused with the existing spelling to use instead.
    Refusals are ClassNameErrors naming the new names at fault.
    """
    existing = list(existing)
    checked = {name: check_class_name(name) for name in names}
    same = {_spelling(c): c for c in existing}
    known = {_fold(c): (c, ()) for c in existing}  # -> (name as stored, as given if new)
    for given, name in checked.items():
        if name in same:
            checked[given] = same[name]
            continue
        twin, twin_given = known.setdefault(_fold(name), (name, (given,)))
        if twin != name:
            raise ClassNameError(
                f"class name {given!r} differs from {twin!r} only in case or in the form of its "
                "characters (full-width or styled letters, ligatures, joiners), which would make "
                f"two classes of one; use {twin!r} (rename that class first if it is misspelt)",
                given,
                *twin_given,
            )
    return checked


def class_meant(name: str, existing: Iterable[str]) -> str:
    """The class of `existing` that `name` differs from only in case or in the form of its
    characters (typed 'Bag' for 'bag'), else `name` as it is: a name typed in the browser
    labels with the class the expert evidently meant, where an import refuses it."""
    fold = _fold(name)
    return next((c for c in existing if _fold(c) == fold), name)


def _spelling(name: str) -> str:
    """`name` as stored: NFC, with direction marks and soft hyphens dropped."""
    return unicodedata.normalize("NFC", name.translate(_DROPPED))


def _fold(name: str) -> str:
    """What `name` looks like: NFKC, case-folded, without joiners and variation selectors; 'İ'
    folds to 'i' (casefold gives 'i' and a combining dot)."""
    plain = unicodedata.normalize("NFKC", _spelling(name).translate(_UNSEEN))
    return unicodedata.normalize("NFKC", plain.casefold()).replace("i\u0307", "i")


def _is_hidden(c: str) -> bool:
    return unicodedata.category(c) in _HIDDEN_CATEGORIES and c not in _JOINERS
