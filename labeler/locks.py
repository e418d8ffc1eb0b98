"""One command at a time that replaces a project's weights (`finetune`, `adapt`): each holds the
lock of PROJECT/weights.lock while it runs, and a second one refuses at start; otherwise each
would replace the other's weights without a word.

The lock is the operating system's (flock on POSIX, msvcrt.locking on Windows), which goes with
its process however that ends (done, Ctrl-C, a crash, kill -9): a lock is never left stale, so
none is ever taken over. The holder writes its process id and command into the file, for a
refusal to name.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labeler.config import WEIGHTS_LOCK_NAME
from labeler.errors import LabelerError, os_reason

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

# What a lock held elsewhere raises: flock EWOULDBLOCK (EAGAIN), msvcrt.locking EACCES.
_HELD = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})
_HOLDER_BYTES = 200  # read at most this much of the lock file: "PID COMMAND"


@contextmanager
def weights_lock(project: Path, *, command: str) -> Iterator[None]:
    """Hold the weights lock of the project folder `project` while the block runs `command`
    (finetune, adapt).

    Raises:
        LabelerError: another process holds it (named when it said who it is), or the lock
            file cannot be made.
    """
    file = project / WEIGHTS_LOCK_NAME
    try:
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise LabelerError(
            f"cannot create the lock file {file} ({os_reason(e)}); check that the project "
            "folder is writable"
        ) from e
    try:
        if not _try_lock(fd):
            raise LabelerError(_held(_holder(fd), command))
        _write_holder(fd, f"{os.getpid()} {command}")
        try:
            yield
        finally:
            _write_holder(fd, "")  # free: the file names no one
    finally:
        os.close(fd)  # lets the lock go


def replaces_weights(method: Callable[..., Any]) -> Callable[..., Any]:
    """Make a method of `Project` that replaces its weights (`finetune`, `adapt`) run holding
    the weights lock of the project's folder, as the command of the method's name."""

    @functools.wraps(method)
    def locked(project, *args, **kwargs):
        with weights_lock(project.path, command=method.__name__):
            return method(project, *args, **kwargs)

    return locked


def _try_lock(fd: int) -> bool:
    """Lock the open file `fd` without waiting; False when another process holds the lock."""
    try:
        if sys.platform == "win32":
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in _HELD:
            return False
        raise
    return True


def _write_holder(fd: int, holder: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, holder.encode())


def _holder(fd: int) -> tuple[int, str] | None:
    """(process id, command) that the lock's holder wrote into the file, or None when it cannot
    be read (not yet written, or a Windows lock that keeps others from reading)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        pid, command = os.read(fd, _HOLDER_BYTES).decode().split(" ", 1)
        return int(pid), command
    except (OSError, ValueError):
        return None


def _held(holder: tuple[int, str] | None, command: str) -> str:
    """The refusal of `command` while `holder` (or an unknown process) holds the lock."""
    who = (
        "another `labeler finetune` or `labeler adapt`"
        if holder is None
        else f"another `labeler {holder[1]}` (process {holder[0]})"
    )
    return (
        f"{who} is changing this project's weights now; wait until it has finished, then run "
        f"{command} again (two at once would each replace the other's weights)"
    )
