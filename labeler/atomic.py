"""Writing a project's own files (index, kNN graph, weights) atomically: through a temporary file
beside the target, moved into place once complete, so that a reader never sees a half-written
file. A failure names the target, never the temporary, which is removed."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from labeler.errors import LabelerError, os_reason


@contextmanager
def atomic_file(file: Path) -> Iterator[BinaryIO]:
    """A binary file object to write `file` through; `file` is replaced only when the block ends
    without an error. An OSError on the way (a read-only folder, a full disk) is raised as a
    LabelerError that names `file` and says what to do."""
    tmp = file.with_name(f".{file.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # writer's own
    try:
        try:
            with open(tmp, "wb") as f:
                yield f
            os.replace(tmp, file)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise _cannot_write(file, e) from e


def _cannot_write(file: Path, error: OSError) -> LabelerError:
    """The error for a project file that could not be written."""
    return LabelerError(
        f"cannot write {file} ({os_reason(error)}); check that the project folder is writable "
        "and its disk not full, then run the command again"
    )
