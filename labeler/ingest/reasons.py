"""Reason sentences for skipped files, shared by the decoders (PIL images and DICOM), and the
capture of what decoding libraries print, so that a bad file gives one reason and no noise."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence

MAX_DETAIL = 160  # characters of a library's error message kept in a reason
MAX_SAID = 4096  # bytes kept of what C libraries print to stderr during one decode
_PYDICOM = r"pydicom(\.|$)"  # the modules whose warnings are not shown (pydicom logs them too)


def short_detail(exc: BaseException, said: Sequence[str] = ()) -> str:
    """An exception's message on one line (see `one_line`), or its type name when empty.
    pydicom lists why each of its decoders failed on the lines after the first. `said`, what the
    library printed while failing (see `library_output`), comes first: a C decoder says there
    what its exception does not."""
    return one_line([*said, *str(exc).splitlines()]) or type(exc).__name__


def one_line(lines: Iterable[str]) -> str:
    """The non-blank `lines` of a library's message joined by '; ', shortened to MAX_DETAIL
    characters; '' when there are none."""
    text = "; ".join(line.strip() for line in lines if line.strip()).replace(":; ", ": ")
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def too_large_reason(width: int, height: int, max_pixels: int) -> str:
    """The reason sentence for an image whose header claims more than `max_pixels` pixels."""
    return (
        f"image too large: {width}x{height} pixels exceeds the limit of {max_pixels:,}, which "
        "keeps a decode from filling the memory; downscale the image or crop its region"
    )


@contextlib.contextmanager
def library_output(*, c_stderr: bool) -> Iterator[list[str]]:
    """Keep what decoding libraries say while the block runs from being printed.

    pydicom's warnings (UserWarning, e.g. "End of file reached before delimiter") are not
    shown; pydicom logs each one to its "pydicom" logger as well, and other warnings pass. With
    `c_stderr`, in the main thread, what C libraries write to the process's stderr (GDCM's
    libjpeg and OpenJPEG report damaged data there) is collected instead of printed. Yields a
    list that holds those lines, stripped, once the block ends, with or without an exception.
    Other threads keep stderr: it is one descriptor for the whole process, and taking it from
    one thread would swallow the others' output. (The warning filters are process-wide too;
    threads that race here can only leave pydicom's warnings shown or hidden a while longer.)
    """
    said: list[str] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", category=UserWarning, module=_PYDICOM)
        if c_stderr and threading.current_thread() is threading.main_thread():
            stack.enter_context(_stderr_into(said))
        yield said


@contextlib.contextmanager
def _stderr_into(said: list[str]) -> Iterator[None]:
    """Point file descriptor 2 at a temporary file while the block runs, then restore it and
    append the non-empty lines written meanwhile (at most MAX_SAID bytes) to `said`. Without a
    usable descriptor 2 (a windowless process) the block runs as it is."""
    _flush_stderr()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                _flush_stderr()
                os.dup2(saved, 2)
                sink.seek(0)
                text = sink.read(MAX_SAID).decode("utf-8", "replace")
                said.extend(line.strip() for line in text.splitlines() if line.strip())
    finally:
        os.close(saved)


def _flush_stderr() -> None:
    """Write out what Python holds for stderr, so that it lands before a redirect changes."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
