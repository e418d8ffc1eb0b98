"""Wording shared by what the command line, the server and the UI print."""

from __future__ import annotations

import shlex
from collections.abc import Sequence


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`n` with its noun: plural(1, "label") → '1 label', plural(2, "label") → '2 labels';
    `many`, the plural form when adding an s is wrong: plural(2, "class", "classes"). Thousands
    are separated: '12,000 images'."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"


def shell(arg: object) -> str:
    """`arg` (a path, a name) as one argument of a command to paste into a shell: quoted where
    it holds spaces or shell characters, as it is otherwise."""
    return shlex.quote(str(arg))


def printable(text: str) -> str:
    """`text` on one line: each unprintable character (a newline or tab in a file name) as its
    escape, `\\n`; the rest as it is, accents and all."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def quoted(text: str) -> str:
    """`text` in quotes for a message, as typed: 'sub\\img.png' shows one backslash, where
    repr() doubles it. Text with a quote or an unprintable character is repr()'s."""
    if text.isprintable() and "'" not in text:
        return f"'{text}'"
    return repr(text)


def line_numbers(lines: Sequence[int], shown: int = 10) -> str:
    """'line 3', 'lines 3, 5, 9' or 'lines 3, 5, … (12 in all)': the first `shown` of `lines`
    (of a file) for a message."""
    text = ", ".join(map(str, lines[:shown]))
    more = "" if len(lines) <= shown else f", … ({len(lines)} in all)"
    return f"{'line' if len(lines) == 1 else 'lines'} {text}{more}"


def same_content(n: int) -> str:
    """' (1 file has the same content as another: one vector for both)', said after how many
    images were embedded, where `n` files got the vector of another file's same content; '' for
    none."""
    if not n:
        return ""
    if n == 1:
        return " (1 file has the same content as another: one vector for both)"
    return f" ({plural(n, 'file')} have the same content as other files: they share their vectors)"


def reheadered(n: int) -> str:
    """What a rescan did with `n` DICOM files whose header changed over the same pixels."""
    return (
        f"{plural(n, 'DICOM file')} with a new header over the same pixels (de-identified or "
        "exported again?): labels kept, embedded again"
    )


def multi_frame(n: int) -> str:
    """What init says of `n` new images with more than one frame, of which one is used."""
    return (
        f"{plural(n, 'image')} {'has' if n == 1 else 'have'} more than one frame (multi-frame "
        "DICOM, multi-page TIFF, animated WebP/PNG): each is shown, embedded and labeled by its "
        "first frame"
    )


def cleared_reason(n: int) -> str:
    """Why a rescan removed `n` labels: 'its file now holds another image', or of several,
    'their files now hold other images'."""
    return "its file now holds another image" if n == 1 else "their files now hold other images"


def images_folder_gone(project: object) -> str:
    """What to do when a project's images folder is not found, for a message: why it may be
    gone and the two ways back, with the command to paste for project path `project`."""
    return (
        "moved, renamed or not mounted: bring it back there (mount the drive, or move the "
        "folder back), or point the project at the images' new place with `labeler init "
        f"{shell(project)} --images NEW_FOLDER`"
    )
