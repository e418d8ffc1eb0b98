"""Per-browser-session state: what the grid shows, the review queue (the undo history is the
server's, per user: labeler.ui.history)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field, replace

import gradio as gr

from labeler.browse import ANY_CLASS, Query, Trail
from labeler.ui.settings import DEFAULT_ANNOTATOR, PAGE_SIZE, REVIEW_CLAIM_SECONDS
from labeler.workbench import ReviewItem, Workbench


@dataclass
class Session:
    query: Query = field(default_factory=lambda: Query(page_size=PAGE_SIZE))
    similar_to: str | None = None  # the grid lists this image's neighbours
    before_similar: Query | None = None  # the grid's query before it listed neighbours
    trail: Trail | None = None  # the grid's pages turned through, as shown
    before_trail: Trail | None = None  # ... before the grid listed neighbours
    focus: str | None = None  # the image in the grid's preview
    map_focus: str | None = None  # the image picked on the map
    review: list[ReviewItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # skipped in review, not asked again
    reviewed: list[ReviewItem] = field(default_factory=list)  # labeled in review, latest last
    last_skipped: ReviewItem | None = None  # skipped since this session's last edit: Ctrl+Z
    card: str | None = None  # the image on the review card on screen: what its keys label
    card_refitting: bool = False  # the card was drawn during a refit, with the predictions before
    token: str | None = None  # this session's own, made on first use (see `Cards`)
    keys: tuple[str | None, ...] = ()  # the class on each number key (None: no class), as shown
    turns: int = 0  # pages turned so far (a refresh that waited for a refit leaves the grid)
    shown: tuple[int, ...] = ()  # rows of the grid's page on screen, in their order
    seen: dict[int, str | None] = field(default_factory=dict)  # their labels as drawn
    generation: int = -1  # the workbench the rows above index (a rescan builds a new one)
    drawn: tuple[int, str] | None = None  # the label version the grid on screen was drawn at
    drawn_fitted: bool = True  # ... with the predictions of a model fitted to it
    trust_drawn: tuple[int, str] | None = None  # the label version of the Trust tab's figures
    exported: tuple[int, str] | None = None  # the label version of the export link on screen
    class_box: str = ANY_CLASS  # the class the Class filter box shows, as last set or seen

    def set_query(self, **changes: object) -> None:
        self.query = replace(self.query, **changes)

    def sync(self, wb: Workbench) -> None:
        """Forget rows and images of a workbench that a rescan replaced (rows move, files go)."""
        if self.generation == wb.generation:
            return
        if self.generation >= 0:
            self.similar_to = None
            self.before_similar = None
            self.trail = self.before_trail = None
            self.set_query(rows=None)
            self.shown = ()
            self.seen = {}
            self.review = []
            self.reviewed = []
            self.last_skipped = None
            self.card = None
            self.focus = self.focus if self.focus and wb.has(self.focus) else None
            self.map_focus = self.map_focus if self.map_focus and wb.has(self.map_focus) else None
        self.generation = wb.generation


class Cards:
    """The review card on each session's screen, so that two experts reviewing at once (or one
    in two tabs) are not dealt the same image; safe across threads. A card claimed more than
    REVIEW_CLAIM_SECONDS ago (a tab left open, or closed) no longer holds its image back."""

    def __init__(self, *, hold: float = REVIEW_CLAIM_SECONDS) -> None:
        self._hold = hold
        self._cards: dict[str, tuple[str, float]] = {}  # token -> (path, when claimed)
        self._lock = threading.Lock()

    def claim(self, session: Session, path: str | None) -> None:
        """`path` is on `session`'s card now (None: no card)."""
        if session.token is None:  # not in the dataclass default: gr.State copies it per page
            # (`load` sets Gradio's session id instead, which the page's unload event gets.)
            session.token = uuid.uuid4().hex
        with self._lock:
            if path is None:
                self._cards.pop(session.token, None)
            else:
                self._cards[session.token] = (path, time.monotonic())

    def release(self, token: str | None) -> None:
        """The page of session `token` is gone: its card is free."""
        with self._lock:
            self._cards.pop(token, None)

    def elsewhere(self, session: Session) -> set[str]:
        """The images on the cards of the other sessions."""
        now = time.monotonic()
        with self._lock:
            return {
                path
                for token, (path, when) in self._cards.items()
                if token != session.token and now - when < self._hold
            }


def annotator(request: gr.Request | None) -> str:
    """The logged-in user's name, or the default annotator when the server has no login."""
    name = getattr(request, "username", None)
    return name or DEFAULT_ANNOTATOR
