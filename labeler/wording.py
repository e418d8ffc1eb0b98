"""Wording shared by what the command line, the server and the UI print."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`n` with its noun: plural(1, "label") → '1 label', plural(2, "label") → '2 labels';
    `many`, the plural form when adding an s is wrong: plural(2, "class", "classes"). Thousands
    are separated: '12,000 images'."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"
