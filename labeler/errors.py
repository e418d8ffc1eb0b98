"""User-facing errors: one clear sentence that names what was received and how to fix it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class LabelerError(Exception):
    """An error the user can act on; the CLI prints it as one line on stderr and exits non-zero."""


class ProjectNotFound(LabelerError):
    """The project folder does not exist or holds no labeler project."""


class ImageError(LabelerError):
    """An image file cannot be decoded; the message is the reason recorded for the skipped file."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C after part of a command's work was saved; the message says what was kept."""


@contextmanager
def interrupted_says(kept: str) -> Iterator[None]:
    """A Ctrl-C in the block becomes `Interrupted(kept)`: what the work had saved, or that it
    saved nothing. One already said (from a step within) goes on as it is."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(kept) from None


def os_reason(error: OSError) -> str:
    """The reason of a file-system error, lower-case, to follow a colon or a parenthesis."""
    return (error.strerror or str(error)).lower()
