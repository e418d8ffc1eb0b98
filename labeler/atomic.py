"""Writing a file atomically: through a temporary file beside it, moved into place once complete,
so that a reader never sees a half-written file. A failure names the file, never the temporary,
which is removed. Used for the project's own files (index, kNN graph, weights) and for exports."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from labeler.errors import LabelerError, os_reason


def cannot_write_project_file(file: Path, error: OSError) -> LabelerError:
    """The error for a project file that could not be written."""
    return LabelerError(
        f"cannot write {file} ({os_reason(error)}); check that the project folder is writable "
        "and its disk not full, then run the command again"
    )


@contextmanager
def atomic_file(
    file: Path,
    *,
    mode: str = "wb",
    error: Callable[[Path, OSError], LabelerError] = cannot_write_project_file,
) -> Iterator[IO]:
    """A file object to write `file` through, binary or (`mode` "w") UTF-8 text with no newline
    translation; `file` is replaced only when the block ends without an error, with the
    permissions an ordinary new file gets. An OSError on the way (a read-only folder, a full
    disk) is raised as `error(file, the OSError)`."""
    try:
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    except OSError as e:
        raise error(file, e) from e
    text = {} if "b" in mode else {"newline": "", "encoding": "utf-8"}
    try:
        try:
            with os.fdopen(fd, mode, **text) as f:
                yield f
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:  # disk full, I/O error, a folder that refuses the rename
        raise error(file, e) from e


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
