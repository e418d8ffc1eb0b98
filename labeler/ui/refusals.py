"""What a handler does when the facade refuses an action (a LabelerError): a notice in the page,
and the views left as they were. Any other exception is a bug: it goes on to Gradio, which
prints the traceback to the server log."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from labeler.errors import LabelerError
from labeler.ui import views

NOT_DONE = "Not done"  # the title of the notice a refused action shows
_log = logging.getLogger(__name__)


def refuse(message: str) -> None:
    """Show a refused action as a notice in the page, and log it as one line: it is expected,
    not a fault, so no traceback. The notice renders HTML, so the message (which may quote a
    class name or a path) is escaped."""
    _log.info("refused: %s", message)
    gr.Warning(views.esc(message), title=NOT_DONE)


def _answering(fn: Callable, answer: Callable[[tuple, str], Any]) -> Callable:
    """`fn`, answering a LabelerError with answer(fn's positional arguments, message)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LabelerError as e:
            return answer(args, str(e))

    return wrapper


def _notice_only(_args: tuple, message: str) -> Any:
    refuse(message)
    return gr.skip()


def friendly(fn: Callable) -> Callable:
    """Show a LabelerError as a notice in the page (see `refuse`), and leave every view as it was.

    Not `gr.Error`: an event that fails marks each of its outputs with an error badge that stays
    and covers the controls, and Gradio prints its traceback.
    """
    return _answering(fn, _notice_only)


def said(fn: Callable) -> Callable:
    """As `friendly`, for a method of `Handlers` whose event's outputs hold `ui.message`, the
    header's line of what the last action did: a refusal takes that line too (`refused`). Left
    as it was, the line would say what an earlier action did, as if this one had been done."""
    return _answering(fn, lambda args, message: args[0].refused(message))
