"""Each user's undo history, kept by the server for as long as it runs: a page reload, a second
tab or a rescan does not lose it. Users are told apart by login (all are one without a login)."""

from __future__ import annotations

import threading
from collections import deque

from labeler.edits import Edit

UNDO_DEPTH = 200  # edits kept per user; older ones can no longer be undone


class UndoHistory:
    """Last-in, first-out edits per user name, at most `depth` each; safe across threads."""

    def __init__(self, *, depth: int = UNDO_DEPTH) -> None:
        self._depth = depth
        self._edits: dict[str, deque[Edit]] = {}
        self._lock = threading.Lock()

    def push(self, user: str, edit: Edit) -> None:
        with self._lock:
            self._edits.setdefault(user, deque(maxlen=self._depth)).append(edit)

    def pop(self, user: str) -> Edit | None:
        """The user's last edit not yet undone, taken off the history; None when there is none."""
        with self._lock:
            edits = self._edits.get(user)
            return edits.pop() if edits else None

    def __len__(self) -> int:
        with self._lock:
            return sum(len(e) for e in self._edits.values())
