"""Annotator names: what the store accepts as the author of a label."""

from __future__ import annotations

from labeler.errors import LabelerError

MAX_ANNOTATOR_CHARS = 100
ACCEPTED_SUFFIX = " (accepted auto)"  # appended to the annotator of bulk-accepted predictions
# Who removed a label, in the label history, when a rescan found new content under its path.
CONTENT_CHANGED = "rescan: the file's content changed"


def accepted_annotator(annotator: str) -> str:
    """The annotator recorded for predictions that `annotator` accepted in bulk (`annotator`
    itself when it is such a name already)."""
    return annotator if is_accepted(annotator) else annotator + ACCEPTED_SUFFIX


def is_accepted(annotator: str) -> bool:
    """Whether a label with this annotator is a prediction accepted in bulk."""
    return annotator.endswith(ACCEPTED_SUFFIX)


def check_annotator(name: str, *, accepted: bool = False) -> str:
    """Return `name` if it can be recorded as an annotator, else raise a LabelerError saying why.

    A name is one line of at most MAX_ANNOTATOR_CHARS printable characters, not empty, not
    padded with spaces, and without the marker of predictions accepted in bulk
    (ACCEPTED_SUFFIX): a hand label recorded in such a name would be taken for
    an accepted prediction and never trained on.

    accepted: the name may end with that marker once (as `labeler.live.accepted_annotator`
    records it); what comes before must be a valid name.
    """
    marker = ACCEPTED_SUFFIX.strip()
    base = name.removesuffix(ACCEPTED_SUFFIX) if accepted else name
    problem = _problem(base, marker)
    if problem:
        raise LabelerError(
            f"annotator name {base!r} {problem}; use one line of up to {MAX_ANNOTATOR_CHARS} "
            f"characters without surrounding spaces or {marker!r}, e.g. 'ana'"
        )
    return name


def _problem(name: str, marker: str) -> str | None:
    """What is wrong with annotator `name`, or None."""
    if not name.strip():
        return "is empty"
    if name != name.strip():
        return "has spaces around it"
    if not name.isprintable():
        return "is not one line of printable characters"
    if len(name) > MAX_ANNOTATOR_CHARS:
        return f"is {len(name)} characters long"
    if marker.casefold() in name.casefold():
        return f"contains {marker!r}, which marks predictions accepted in bulk"
    return None
