"""Event handlers of the Label and Classes tabs and the header: each reads the session and the
inputs, calls the facade (`Project.workbench()`), and returns {component: new value}.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import gradio as gr

from labeler import browse
from labeler.classnames import class_meant
from labeler.edits import Edit
from labeler.errors import LabelerError
from labeler.live import Snapshot
from labeler.project import Project
from labeler.ui import views
from labeler.ui.history import UndoHistory
from labeler.ui.layout import ALL, ANY, KEY_CLASS, UI
from labeler.ui.refusals import NOT_DONE, friendly, refuse, said
from labeler.ui.session import Cards, Session, annotator
from labeler.ui.settings import PIXELATED_MAX_SIDE, SIMILAR_K
from labeler.workbench import Counts, Workbench, class_counts

Updates = dict[Any, Any]


def _kept(query: browse.Query) -> dict[str, str]:
    """What the browser keeps of the grid's view (`ui.saved_view`): its filter, class and
    order, as the server last set them (a class renamed or deleted, too)."""
    return {"show": query.show, "cls": query.cls, "sort": query.sort}


def in_turn(fn: Callable) -> Callable:
    """For a handler that edits labels or classes, or undoes: one user's edits run one at a
    time (`Handlers.turn_of`). An undo pressed while a slow edit (a bulk accept) is under way
    then waits, undoes that edit and answers after it; it had undone the edit before it, or
    answered first while the edit's late answer still said 'Ctrl+Z undoes'."""

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(self: Handlers, *args: Any, **kwargs: Any) -> Any:
        request = signature.bind(self, *args, **kwargs).arguments["request"]
        with self.turn_of(request):
            return fn(self, *args, **kwargs)

    return run


class Handlers:
    def __init__(self, project: Project, ui: UI) -> None:
        self.project = project
        self.ui = ui
        self.history = UndoHistory()  # for the server's lifetime, not a page's
        self.cards = Cards()  # the review card on each page's screen
        self._drawing: dict[str | int, threading.Lock] = {}  # per page: see `drawing`
        self._turns: dict[str, threading.RLock] = {}  # per user: see `in_turn`
        self._locks_lock = threading.Lock()

    @property
    def wb(self) -> Workbench:
        return self.project.workbench()

    def refused(self, message: str) -> Updates:
        """A refused action: its notice (`refuse`), and the header's line saying it."""
        refuse(message)
        return {self.ui.message: views.plain(f"{NOT_DONE}: {message}")}

    def small(self, path: str) -> bool:
        return self.wb.longest_side(path) <= PIXELATED_MAX_SIDE

    # -- views shared by many events ---------------------------------------------------------------

    def label_outputs(self) -> list:
        ui = self.ui
        return [ui.session, ui.grid, ui.page_info, ui.back, ui.preview, ui.saved_view]

    def class_outputs(self) -> list:
        ui = self.ui
        dropdowns = [ui.cls, ui.trust_cls, ui.rename_from, ui.merge_from, ui.merge_into]
        return [*ui.label_keys, *ui.review_keys, *ui.map_keys, *dropdowns, ui.delete_cls, ui.counts,
                ui.class_table, ui.status, ui.message, ui.export_file]  # fmt: skip

    def all_outputs(self) -> list:
        return self.label_outputs() + self.class_outputs()

    def label_view(
        self,
        session: Session,
        *,
        keep_selection: bool = False,
        turn: int = 0,
        back: Sequence[int] = (),
    ) -> Updates:
        """The grid's page, along the session's `browse.Trail`: turned on (`turn` 1) or back
        (-1), or the page on screen redrawn (after an edit or a refit; an undo's rows `back` put
        on it). A new query starts a trail at its page (by number). Its selection is cleared, or
        (`keep_selection`) left to the page, whose script keeps what the expert selected
        meanwhile."""
        ui, wb = self.ui, self.wb
        session.sync(wb)
        snap = wb.snapshot()
        query, trail = session.query, session.trail
        if trail is None or not trail.follows(query):
            first = browse.page(snap, wb.paths, query)
            trail = browse.Trail.start(query, [t.row for t in first.tiles])
        elif turn:
            trail = trail.turned(snap, forward=turn > 0)
        else:
            trail = trail.redrawn(snap, back=back)
        session.trail = trail
        page = trail.page(snap, wb.paths)
        session.shown = tuple(t.row for t in page.tiles)
        session.seen = {t.row: t.label for t in page.tiles}
        session.drawn, session.drawn_fitted = snap.version, snap.fitted
        session.set_query(page=page.page)
        small = {t.path for t in page.tiles if self.small(t.path)}
        selected = None if keep_selection else []
        return {
            ui.session: session,
            ui.grid: {"html": views.grid_html(page, snap.slot_of, small), "selected": selected},
            ui.page_info: views.page_info(
                page,
                show=session.query.show,
                similar_to=session.similar_to,
                ood_short=snap.ood_short,
            ),
            ui.back: gr.Button(interactive=session.similar_to is not None),
            ui.saved_view: _kept(session.before_similar or session.query),
        } | self.preview_view(session)

    def preview_view(self, session: Session) -> Updates:
        wb = self.wb
        session.sync(wb)
        details = None if session.focus is None else wb.details(session.focus)
        small = session.focus is not None and self.small(session.focus)
        return {self.ui.preview: views.preview_html(details, wb.snapshot().slot_of, small=small)}

    def class_view(self, session: Session, *, keep_forms: bool = False) -> Updates:
        """Class buttons, choices and counts. A class filter on a class that is gone is reset;
        the Classes tab's forms are emptied (a stale name there would be refused), unless
        `keep_forms`: a refit after a label removes no class, and emptying them then would undo
        a choice the expert made while it ran."""
        ui = self.ui
        snap = self.wb.snapshot()
        names = list(snap.classes)
        # A class's key is its slot's, as its colour is: deleting a class moves no other key.
        by_key = {slot: name for name, slot in reversed(snap.slot_of.items())}
        session.keys = tuple(by_key.get(k) for k in range(len(ui.label_keys)))
        counts = class_counts(snap)
        out: Updates = {}
        for keys in (ui.label_keys, ui.review_keys, ui.map_keys):
            for k, button in enumerate(keys):
                name = session.keys[k]
                colour = [] if name is None else [views.slot_class(k)]  # as the chips
                out[button] = gr.Button(
                    "" if name is None else f"{k + 1} · {name}",
                    visible=name is not None,
                    elem_classes=[KEY_CLASS, *colour],
                )
        choices = [(name, name) for name in names]
        # The box is set only where the server changed the filter (its class renamed or gone):
        # an answer drawn before the expert chose another class would put the old one back.
        shown = session.query.cls if session.query.cls in names else browse.ANY_CLASS
        moved = {"value": shown} if shown != session.class_box else {}
        session.class_box = shown
        out[ui.cls] = gr.Dropdown(choices=[(ANY, browse.ANY_CLASS), *choices], **moved)
        out[ui.trust_cls] = gr.Dropdown(choices=[(ALL, browse.ANY_CLASS), *choices])
        emptied = {} if keep_forms else {"value": None}
        for dropdown in (ui.rename_from, ui.merge_from, ui.merge_into, ui.delete_cls):
            out[dropdown] = gr.Dropdown(choices=choices, **emptied)
        table = views.counts_html(counts, snap.slot_of)
        out[ui.counts] = table
        out[ui.class_table] = table
        out[ui.status] = self.status(snap, counts)
        if session.exported not in (None, snap.version):  # labels changed since: a stale file
            out[ui.export_file] = gr.File(value=None, visible=False)
            session.exported = None
        return out

    def status(self, snap: Snapshot, counts: Counts) -> str:
        wb = self.wb
        return views.status_html(snap, counts, method=wb.method, missing=wb.missing_files)

    def after_edit(
        self,
        session: Session,
        edit: Edit | None = None,
        message: str = "",
        *,
        request: gr.Request | None = None,
        back: Sequence[int] = (),
        keep_selection: bool = False,
    ) -> Updates:
        """Every view an edit changes, and a line saying what was done. The edit goes on the
        undo history of the user making the request (`recorded`); an undo's rows `back` are
        shown. The grid's selection is cleared (it was labeled), unless `keep_selection`."""
        if edit is not None:
            message = message or self.recorded(session, edit, request)
        cls = session.query.cls
        if cls != browse.ANY_CLASS and cls not in self.wb.snapshot().classes:
            session.set_query(cls=browse.ANY_CLASS, page=1)  # the filtered class is gone
        grid = self.label_view(session, back=back, keep_selection=keep_selection)
        views_ = grid | self.class_view(session)
        return views_ | {self.ui.message: views.plain(message)}

    def recorded(self, session: Session, edit: Edit, request: gr.Request | None) -> str:
        """Put `edit` on the undo history of the user making the request, and say what it did."""
        session.last_skipped = None  # Ctrl+Z now undoes this edit, not the skip before it
        said = f"{edit.description[0].upper()}{edit.description[1:]}"
        if not edit.changed:  # a repeated click changes nothing: nothing to undo
            return said
        self.history.push(annotator(request), edit)
        return said + " · Ctrl+Z undoes" + views.copies_note(self.wb.copies_labeled_otherwise(edit))

    # -- page load, filters, paging ----------------------------------------------------------------

    def unload(self, request: gr.Request) -> None:
        """The page was closed or reloaded: its review card goes back to the others at once, not
        after REVIEW_CLAIM_SECONDS (a reload deals the same expert a card again); its grid's
        lock goes."""
        self.cards.release(request.session_hash)
        with self._locks_lock:
            self._drawing.pop(request.session_hash, None)

    @said
    def load(
        self, session: Session, saved: dict | None = None, request: gr.Request | None = None
    ) -> Updates:
        """The page's first views, with the filter and order the browser kept from the last
        visit (`saved`: {"show", "cls", "sort"}, see `ui.saved_view`) where they still apply. The
        page is told apart from others by Gradio's session id, which `unload` gets too (see
        `Cards`)."""
        if request is not None and request.session_hash:
            session.token = request.session_hash
        self.wb.check_files()
        session.set_query(**self._still_valid(saved if isinstance(saved, dict) else {}))
        where = f"Images in `{self.project.images_root}`, embedded with `{self.project.model_key}`"
        q, ui = session.query, self.ui
        boxes = {ui.show: gr.update(value=q.show), ui.sort: gr.update(value=q.sort)}
        return self.after_edit(session) | {ui.rescan_info: where} | boxes

    def _still_valid(self, saved: dict) -> dict[str, str]:
        """The choices of `saved` that this project still offers (a class may be gone)."""
        offered = {
            "show": browse.SHOW,
            "sort": tuple(browse.SORTS),
            "cls": self.wb.snapshot().classes,
        }
        return {key: saved[key] for key, values in offered.items() if saved.get(key) in values}

    @friendly
    def set_filter(self, session: Session, show: str, cls: str, sort: str) -> Updates:
        """A new filter or order shows its first page. The same one again changes nothing: the
        browser's dropdown reports a choice twice (on the click and on leaving the box), and a
        second page drawn then would clear what the expert selected in between."""
        wanted = {"show": show, "cls": cls or browse.ANY_CLASS, "sort": sort}
        session.class_box = wanted["cls"]
        if all(getattr(session.query, k) == v for k, v in wanted.items()):
            return gr.skip()
        session.set_query(**wanted, page=1)
        return self.label_view(session)

    @friendly
    def prev_page(self, session: Session) -> Updates:
        return self.turn_page(session, -1)

    @friendly
    def next_page(self, session: Session) -> Updates:
        return self.turn_page(session, 1)

    def turn_page(self, session: Session, turn: int) -> Updates:
        """The page after (1) or before (-1) the one on screen, drawn at once with the last
        predictions: waiting for a refit under way, it would race that refit's `refresh`,
        which could then draw the page before and answer last, putting it back on screen.
        The poll redraws the turned page once the refit is done (see `refresh`)."""
        with self.wb.live.deferred(), self.drawing(session):
            session.turns += 1
            return self.label_view(session, turn=turn)

    def turn_of(self, request: gr.Request | None) -> threading.RLock:
        """The lock that the edits of the user making `request` take in turn (see `in_turn`)."""
        with self._locks_lock:
            return self._turns.setdefault(annotator(request), threading.RLock())

    def drawing(self, session: Session) -> threading.Lock:
        """The lock of `session`'s grid: a page turn and a refresh, which run at once (in
        queues of their own), each read the page on screen and set it; held around that, the
        one cannot draw from the page the other is replacing (a turn seemed lost so). Kept by
        the page's session id (`load` sets it), until `unload`."""
        with self._locks_lock:
            return self._drawing.setdefault(session.token or id(session), threading.Lock())

    @friendly
    def pick(self, session: Session, evt: gr.EventData) -> Updates:
        session.focus = evt.image
        return {self.ui.session: session} | self.preview_view(session)

    @friendly
    def more_like_this(self, session: Session) -> Updates:
        if session.focus is None:
            raise LabelerError("click an image first; its nearest neighbours are then listed")
        return self.similar_view(session, session.focus)

    def similar_view(self, session: Session, path: str) -> Updates:
        """The grid listing `path` first, then its nearest neighbours, labeled or not: a filter
        would hide some of them (all but the uncertain, say) with no sign of why. The image
        asked about leads, to compare the others with."""
        if session.similar_to is None:  # the grid to go back to with "all images"
            session.before_similar, session.before_trail = session.query, session.trail
        session.similar_to = path
        rows = (self.wb.row(path), *self.wb.similar_rows(path, SIMILAR_K - 1))
        session.set_query(rows=rows, show="all", cls=browse.ANY_CLASS, page=1)
        session.class_box = browse.ANY_CLASS
        ui = self.ui
        shown = {ui.show: gr.update(value="all"), ui.cls: gr.update(value=browse.ANY_CLASS)}
        return self.label_view(session) | shown

    @friendly
    def all_images(self, session: Session) -> Updates:
        """Back from a list of neighbours to the grid as it was: its filter, class and page."""
        session.similar_to = None
        back = session.before_similar or session.query
        session.trail, session.before_trail = session.before_trail, None
        session.before_similar = None
        session.query = replace(back, rows=None)
        if session.query.cls not in (browse.ANY_CLASS, *self.wb.snapshot().classes):
            session.set_query(cls=browse.ANY_CLASS, page=1)  # the class went meanwhile
        q, ui = session.query, self.ui
        session.class_box = q.cls
        shown = {ui.show: q.show, ui.cls: q.cls, ui.sort: q.sort}  # the boxes as the grid
        return self.label_view(session) | {box: gr.update(value=v) for box, v in shown.items()}

    # -- labeling and undo -------------------------------------------------------------------------

    def assign_key(self, k: int) -> Callable[..., Updates]:
        """Handler of key button k (0-based): label the grid's selection as the k-th class."""

        def handler(session: Session, grid: dict, request: gr.Request) -> Updates:
            return self._assign_key(k, session, grid, request)

        return handler

    @said
    def _assign_key(self, k: int, session: Session, grid: dict, request: gr.Request) -> Updates:
        name = self.key_class(session, k)
        if name is None:
            return self.keys_changed(session)
        return self._assign(session, grid, name, request)

    def key_class(self, session: Session, k: int) -> str | None:
        """The class key k (0-based) showed on this page; None when that class is gone since."""
        if k >= len(session.keys) or session.keys[k] is None:
            raise LabelerError(f"there is no class with key {k + 1}")
        name = session.keys[k]
        with self.wb.live.deferred():  # the classes now, without waiting for a refit under way
            return name if name in self.wb.snapshot().classes else None

    def typed(self, name: str) -> str:
        """A class name typed into a box: stripped, and an existing class where it differs from
        one only in case or character forms (`class_meant`); a clear error when empty."""
        if not name.strip():
            raise LabelerError("type a class name first, then press Enter")
        return class_meant(name.strip(), self.project.store.classes())

    def keys_changed(self, session: Session) -> Updates:
        """Nothing labeled: the classes changed in another session; the keys are redrawn."""
        message = "The classes were changed in another session: nothing was labeled. The keys now "
        message += "show the current classes; press again."
        refuse(message)
        return self.after_edit(session, message=message)

    @said
    def assign_named(self, session: Session, grid: dict, name: str, request: gr.Request) -> Updates:
        return self._assign(session, grid, self.typed(name), request) | {self.ui.label_as: ""}

    @in_turn
    def _assign(
        self,
        session: Session,
        grid: dict,
        name: str,
        request: gr.Request,
        *,
        keep_selection: bool = False,
    ) -> Updates:
        """Label the images `grid["selected"]` as class `name`; the grid's selection is then
        cleared, unless `keep_selection` (they were picked elsewhere: on the Map)."""
        selected = list(grid.get("selected") or [])
        seen = session.seen  # as drawn before this edit: the redraw below replaces it
        edit = self.wb.assign(selected, name, annotator=annotator(request))
        if session.focus is None and selected:
            session.focus = selected[-1]
        with self.wb.live.deferred():  # show the label now; `refresh` brings the predictions
            out = self.after_edit(session, edit, request=request, keep_selection=keep_selection)
        changed = views.unseen_note(self.wb.replaced_unseen(seen, edit))
        return out | ({self.ui.message: out[self.ui.message] + changed} if changed else {})

    @friendly
    def refresh(self, session: Session) -> Updates:
        """Predictions refitted after a quick edit, keeping any selection made meanwhile.

        The refit comes first; the page is then drawn from the session as it is by then, in
        case the expert filtered meanwhile (the session is shared, not copied). When a page was
        turned meanwhile, the grid is left to that turn: this answer, larger, could reach the
        browser after the answer of a turn computed after it, and put the page before back on
        screen; the turned page, drawn with the predictions before the refit, is redrawn by
        the next poll.
        """
        turns = session.turns
        self.wb.snapshot()
        with self.drawing(session):
            out = {} if session.turns != turns else self.label_view(session, keep_selection=True)
            out |= self.class_view(session, keep_forms=True)
        out.pop(self.ui.session, None)
        return out

    def poll(self, session: Session) -> Updates:
        """Every POLL_SECONDS: the views redrawn as `refresh` does when labels or classes changed
        since the grid was drawn (by another expert, or `labeler label` on the command line),
        so that the header, counts and captions show them, or when it was drawn before a refit
        was done; nothing otherwise."""
        if session.drawn is None:
            return gr.skip()
        if session.drawn_fitted and self.project.store.label_version() == session.drawn:
            return gr.skip()
        return self.refresh(session)

    @said
    @in_turn
    def undo(self, session: Session, request: gr.Request) -> Updates:
        edit = self.history.pop(annotator(request))
        if edit is None:
            return {self.ui.message: "Nothing of yours to undo."}
        done = self.wb.undo(edit, annotator=annotator(request))
        with self.wb.live.deferred():
            out = self.after_edit(session, back=done.rows)
        where = views.on_page(done.rows, session.shown)
        return out | {self.ui.message: views.plain(done.said + where)}
