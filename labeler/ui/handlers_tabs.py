"""Event handlers of the Review, Trust, Map and Classes tabs, and of export and rescan (see
labeler.ui.handlers for the Label tab's and those shared)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

import gradio as gr

from labeler import browse
from labeler.datamap import points_to_draw
from labeler.errors import LabelerError
from labeler.export import EXPORTS_DIR
from labeler.project import SKIPPED_NAME
from labeler.ui import charts, views, views_trust
from labeler.ui.handlers import Handlers, Updates, in_turn
from labeler.ui.layout import COLOUR_BY
from labeler.ui.refusals import friendly, said
from labeler.ui.session import Session, annotator
from labeler.ui.settings import RESCAN_NAMED, REVIEW_BATCH, REVIEW_REFIT_WAIT
from labeler.wording import cleared_reason, multi_frame, plural, reheadered, same_content
from labeler.workbench import ReviewItem

if TYPE_CHECKING:
    from labeler.edits import Edit


class CardChanged(LabelerError):
    """The review card a key press meant is gone since it was drawn: nothing is done."""


class TabHandlers(Handlers):
    # -- review queue ------------------------------------------------------------------------------

    def _current(self, session: Session) -> ReviewItem | None:
        """The first queued image still unlabeled and on no other session's card; the queue is
        refilled from `suggest`."""
        session.sync(self.wb)
        labeled = self.wb.snapshot().labeled
        elsewhere = self.cards.elsewhere(session)
        session.review = [r for r in session.review if not (labeled[r.row] or r.path in elsewhere)]
        if not session.review:
            exclude = [*session.skipped, *elsewhere]
            session.review = self.wb.review_batch(REVIEW_BATCH, exclude=exclude)
        return session.review[0] if session.review else None

    def _on_card(
        self, session: Session, doing: str, shown: str
    ) -> tuple[ReviewItem, str | None, bool]:
        """The image on the card on screen, as the browser sent it with the key (`shown`, see
        `views.card_shown`), the prediction it showed, and whether it showed the image as
        fitting no class. If another session labeled it meanwhile, or it is no longer the card
        under review (a rescan, a press meant for a card gone by), nothing is done
        (`CardChanged`): the next card is drawn with a note."""
        session.sync(self.wb)
        on_screen = views.card_on_screen(shown)
        if on_screen is None:
            nothing = views.nothing_to_review(len(session.skipped), doing)
            raise LabelerError(nothing[0].lower() + nothing[1:])
        path, guess, ood = on_screen
        item = session.review[0] if session.review else None
        with self.wb.live.deferred():  # the labels now; a refit under way need not be waited for
            snap = self.wb.snapshot()
        if item is None or item.path != path:
            row = self.wb.row(path) if self.wb.has(path) else None
            if row is not None and snap.labeled[row]:  # a key pressed twice
                raise CardChanged(f"{path} is labeled {snap.classes[snap.label[row]]} already")
            raise CardChanged(f"{path} is no longer the card under review")
        if snap.labeled[item.row]:
            session.review.pop(0)
            label = snap.classes[snap.label[item.row]]
            raise CardChanged(f"{item.path} was labeled {label} in another session meanwhile")
        if guess is not None and guess not in snap.classes:
            raise CardChanged(f"the class {guess} shown for {item.path} was deleted meanwhile")
        return item, guess, ood

    def review_view(self, session: Session, *, refitting: bool = False) -> Updates:
        """The card, with `refitting`: drawn with the predictions before the last label."""
        item = self._current(session)
        session.card = None if item is None else item.path
        session.card_refitting = refitting and item is not None
        self.cards.claim(session, session.card)
        details = None if item is None else self.wb.details(item.path)
        small = item is not None and self.small(item.path)
        left = max(0, len(session.review) - 1)
        return {
            self.ui.session: session,
            self.ui.review: views.review_html(
                item,
                details,
                small=small,
                left=left,
                skipped=len(session.skipped),
                refitting=session.card_refitting,
            ),
            self.ui.review_shown: views.card_shown(details),
        }

    def _next_card(
        self, session: Session, edit: Edit | None, request: gr.Request | None
    ) -> Updates:
        """The views after a review key (with the label `edit`, if any) and the next card. The
        card's prediction should be of a model that saw the label just given: it waits for
        that refit up to REVIEW_REFIT_WAIT, then is drawn with the predictions before it, and
        `review_refresh` draws it again once the refit is done."""
        # On the undo history at once: a Ctrl+Z during the wait undoes this label, not the last.
        said = None if edit is None else self.recorded(session, edit, request)
        fresh = self.wb.live.refit_within(REVIEW_REFIT_WAIT)
        with nullcontext() if fresh else self.wb.live.deferred():
            out = {} if said is None else self.after_edit(session, message=said)
            return out | self.review_view(session, refitting=not fresh)

    def review_outputs(self) -> list:
        return [*self.all_outputs(), self.ui.review, self.ui.review_shown]

    @friendly
    def open_review(self, session: Session) -> Updates:
        """The card; when only images skipped in this session are left, they are dealt again."""
        if self._current(session) is None and session.skipped:
            session.skipped = []
        return self.review_view(session)

    def review_refresh(self, session: Session) -> Updates:
        """The card and the other views, drawn again once the refit under way is done, when they
        were drawn during it (nothing otherwise)."""
        if not session.card_refitting and session.drawn_fitted:
            return gr.skip()
        return self.refresh(session) | self.review_view(session)

    def _card_changed(self, session: Session, why: CardChanged) -> Updates:
        return self.refused(f"{why}: nothing done; the next card is shown") | self.review_view(
            session
        )

    @in_turn
    def _review_label(
        self, session: Session, name: str | None, shown: str, request: gr.Request
    ) -> Updates:
        try:
            item, guess, ood = self._on_card(session, "review", shown)
        except CardChanged as why:
            return self._card_changed(session, why)
        if name is None:  # accept the prediction on screen, whatever a refit made of it since
            if ood:
                raise LabelerError(
                    "this image fits no class, so Enter does not accept its nearest class; "
                    "press its class's number key, or type its class (a new one too)"
                )
            if guess is None:
                raise LabelerError("no prediction to accept yet; label it with a number key")
            name = guess
        edit = self.wb.assign([item.path], name, annotator=annotator(request))
        session.reviewed = [*session.reviewed[-REVIEW_BATCH:], session.review.pop(0)]
        return self._next_card(session, edit, request)

    @said
    def review_accept(self, session: Session, shown: str, request: gr.Request) -> Updates:
        return self._review_label(session, None, shown, request)

    def review_key(self, k: int) -> Callable[..., Updates]:
        """Handler of review key k (0-based): label the image as the k-th class."""

        def handler(session: Session, shown: str, request: gr.Request) -> Updates:
            return self._review_key(k, session, shown, request)

        return handler

    @said
    def _review_key(self, k: int, session: Session, shown: str, request: gr.Request) -> Updates:
        name = self.key_class(session, k)
        if name is None:
            return self.keys_changed(session) | self.review_view(session)
        return self._review_label(session, name, shown, request)

    @said
    def review_named(self, session: Session, shown: str, name: str, request: gr.Request) -> Updates:
        labeled = self._review_label(session, self.typed(name), shown, request)
        return labeled | {self.ui.review_as: ""}

    def undo(self, session: Session, request: gr.Request) -> Updates:
        """As the Label tab's undo; an image labeled in review and unlabeled by the undo is the
        review's current card again (the expert undid it to look again). Right after a skip,
        the undo brings the skipped card back instead, and undoes no edit. Either way the Trust
        tab's "accept anyway" box is unticked: a bulk accept after an undo asks again."""
        return self._undo(session, request) | {self.ui.accept_anyway: False}

    @in_turn
    def _undo(self, session: Session, request: gr.Request) -> Updates:
        skipped = session.last_skipped
        if skipped is not None and skipped.path in session.skipped:
            session.last_skipped = None
            session.skipped.remove(skipped.path)
            session.review.insert(0, skipped)
            said = f"Brought back {skipped.path}, skipped: nothing else undone"
            return self.review_view(session) | {self.ui.message: views.plain(said)}
        out = super().undo(session, request)
        if self.ui.grid not in out or not session.reviewed:  # refused, or nothing undone
            return out
        last = session.reviewed[-1]
        if self.wb.snapshot().labeled[last.row]:
            return out
        session.reviewed.pop()
        session.review.insert(0, last)
        return out | self.review_view(session)

    @said
    def review_skip(self, session: Session, shown: str) -> Updates:
        try:
            item, _, _ = self._on_card(session, "skip", shown)
        except CardChanged as why:
            return self._card_changed(session, why)
        session.skipped.append(item.path)
        session.last_skipped = session.review.pop(0)
        message = f"Skipped {item.path}: not asked again in this session · Ctrl+Z brings it back"
        return self._next_card(session, None, None) | {self.ui.message: views.plain(message)}

    # -- trust: threshold and bulk accept ----------------------------------------------------------

    def trust_view(self, session: Session, threshold: float, cls: str, confirmed: bool) -> Updates:
        """The threshold's views. Where the estimated precision may be far off, the Accept
        button waits for the box beside it to be ticked (`confirmed`). The session keeps the
        label version they were drawn at: an accept of other labels' predictions is refused."""
        snap = self.wb.snapshot()
        session.trust_drawn = snap.version
        a = browse.acceptance(snap, threshold, cls or browse.ANY_CLASS)
        hists = browse.confidence_histograms(snap)
        if cls:
            hists = {k: v for k, v in hists.items() if k == cls}
        return {
            self.ui.acceptance: views_trust.acceptance_html(a, snap.slot_of),
            self.ui.accept_anyway: gr.Checkbox(
                visible=a.needs_confirmation, label=views_trust.accept_anyway_label(a)
            ),
            self.ui.accept_above: gr.Button(
                f"Accept {plural(a.count, 'prediction')} ≥ {threshold:.2f}",
                interactive=a.count > 0 and (confirmed or not a.needs_confirmation),
            ),
            self.ui.histograms: charts.histograms_svg(hists, snap.slot_of, threshold),
            self.ui.trust_note: views_trust.trust_note(snap.ood_short),
        }

    def trust_outputs(self) -> list:
        ui = self.ui
        return [ui.acceptance, ui.accept_anyway, ui.accept_above, ui.histograms, ui.trust_note]

    @friendly
    def check(self) -> Updates:
        """The learning curve: slower (it refits out of fold), so not on every slider move. It
        is an event of its own, after the threshold's views: with them, it would answer after a
        slider moved meanwhile and put back the views of the threshold before."""
        check = self.wb.accuracy_check()  # of the head on screen
        now = None if check.current is None else check.current[0]
        svg = charts.learning_curve_svg(check.curve, current=now)
        return {self.ui.check: views_trust.check_html(check, svg)}

    @friendly
    def move_threshold(
        self, session: Session, threshold: float, cls: str, confirmed: bool
    ) -> Updates:
        return self.trust_view(session, threshold, cls, confirmed)

    @friendly
    def trust_poll(self, session: Session, threshold: float, cls: str, confirmed: bool) -> Updates:
        """Every POLL_SECONDS: the Trust tab's views redrawn when the labels changed since they
        were drawn (another expert, the command line, or this page's Label tab); nothing
        otherwise, or before the tab was first opened."""
        if session.trust_drawn in (None, self.project.store.label_version()):
            return gr.skip()
        return self.trust_view(session, threshold, cls, confirmed)

    @said
    @in_turn
    def accept_above(
        self, session: Session, threshold: float, cls: str, confirmed: bool, request: gr.Request
    ) -> Updates:
        """Accept the predictions at or above `threshold`. The Trust tab's views follow as events
        of their own (see `check`), drawn from the slider as it is by then."""
        edit = self.wb.accept(
            threshold,
            cls or browse.ANY_CLASS,
            annotator=annotator(request),
            confirmed=confirmed,
            seen=session.trust_drawn,
        )
        # The box is ticked for this accept only: the next one asks again.
        return self.after_edit(session, edit, request=request) | {self.ui.accept_anyway: False}

    # -- map ---------------------------------------------------------------------------------------

    @friendly
    def map_view(self, colour_by: str) -> Updates:
        wb = self.wb
        snap = wb.snapshot()
        projection = wb.projection()
        rows = points_to_draw(snap.labeled)
        svg = charts.map_svg(
            projection.coords, rows, snap, wb.paths, predictions=colour_by == COLOUR_BY[0]
        )
        total = plural(len(snap.label), "image")
        note = (
            f"{projection.method} of the embeddings: {len(rows):,} of {total} "
            "shown (every labeled one first). Click a point to see its image; its class's "
            "number key labels it."
        )
        return {self.ui.map: {"html": svg}, self.ui.map_note: note}

    @friendly
    def open_map(self, session: Session, colour_by: str) -> Updates:
        """The Map tab as it opens: the map, and the preview of the point clicked before, with
        the labels now (given on another tab since, say)."""
        session.sync(self.wb)
        return self.map_view(colour_by) | self.map_preview_view(session)

    @friendly
    def map_pick(self, session: Session, evt: gr.EventData) -> Updates:
        session.sync(self.wb)
        session.map_focus = evt.image
        return {self.ui.session: session} | self.map_preview_view(session)

    def map_preview_view(self, session: Session) -> Updates:
        path = session.map_focus
        details = None if path is None else self.wb.details(path)
        small = path is not None and self.small(path)
        html = views.preview_html(details, self.wb.snapshot().slot_of, small=small)
        return {self.ui.map_preview: html}

    def map_key(self, k: int) -> Callable[..., Updates]:
        """Handler of the Map tab's key k (0-based): label the point ringed on screen (the map's
        value, sent with the key) as the k-th class. Not the last pick the server has seen: a
        pick queued behind the last key's label and redraw would give this key to the point
        before."""

        def handler(session: Session, shown: dict | None, request: gr.Request) -> Updates:
            return self._map_key(k, session, (shown or {}).get("picked"), request)

        return handler

    @said
    def _map_key(self, k: int, session: Session, path: str | None, request: gr.Request) -> Updates:
        self._check_picked(path, "press its class's key")
        name = self.key_class(session, k)
        if name is None:
            return self.keys_changed(session)
        return self._map_label(session, path, name, request)

    @said
    def map_named(
        self, session: Session, shown: dict | None, name: str, request: gr.Request
    ) -> Updates:
        """The Map tab's "type a class" box: the point ringed on screen labeled as the class
        typed (any, new ones too: there are number keys for nine)."""
        path = (shown or {}).get("picked")
        self._check_picked(path, "type its class")
        return self._map_label(session, path, self.typed(name), request) | {self.ui.map_as: ""}

    def _check_picked(self, path: str | None, then: str) -> None:
        if path is None or not self.wb.has(path):
            raise LabelerError(f"click a point on the map first, then {then}")

    def _map_label(self, session: Session, path: str, name: str, request: gr.Request) -> Updates:
        session.map_focus = path
        # The Label tab's grid keeps its selection: it was made there, for its own keys.
        out = self._assign(session, {"selected": [path]}, name, request, keep_selection=True)
        return out | self.map_preview_view(session)

    @friendly
    def map_more(self, session: Session, shown: dict | None) -> Updates:
        """The grid listing the point ringed on screen (the map's value) and its neighbours."""
        path = (shown or {}).get("picked")
        self._check_picked(path, "ask for more like it")
        session.focus = session.map_focus = path
        return self.similar_view(session, path) | {self.ui.tabs: gr.Tabs(selected="label")}

    # -- classes -----------------------------------------------------------------------------------

    @said
    @in_turn
    def create_class(self, session: Session, name: str, request: gr.Request) -> Updates:
        edit = self.wb.create_class(name.strip())
        return self.after_edit(session, edit, request=request) | {self.ui.new_class: ""}

    @said
    @in_turn
    def rename_class(self, session: Session, old: str, new: str, request: gr.Request) -> Updates:
        edit = self.wb.rename_class(
            _chosen(old, "the class to rename"), new.strip(), annotator=annotator(request)
        )
        if session.query.cls == old:
            session.set_query(cls=new.strip())  # the grid keeps showing the same images
        return self.after_edit(session, edit, request=request) | {self.ui.rename_to: ""}

    @said
    @in_turn
    def merge_classes(
        self, session: Session, source: str, target: str, request: gr.Request
    ) -> Updates:
        edit = self.wb.merge_classes(
            _chosen(source, "the class to merge"),
            _chosen(target, "the class to merge it into"),
            annotator=annotator(request),
        )
        return self.after_edit(session, edit, request=request)

    @said
    @in_turn
    def delete_class(self, session: Session, name: str, request: gr.Request) -> Updates:
        name = _chosen(name, "the class to delete")
        edit = self.wb.delete_class(name, annotator=annotator(request))
        return self.after_edit(session, edit, request=request)

    # -- export and rescan -------------------------------------------------------------------------

    @said
    def export(self, session: Session, progress: gr.Progress = gr.Progress()) -> Updates:  # noqa: B008
        """Write the export and show its download link, until the labels change (`class_view`
        hides it then: the file no longer holds what the screen shows)."""
        progress(0.1, desc="Predicting every image from the current labels")
        folder = self.project.path / EXPORTS_DIR
        folder.mkdir(exist_ok=True)
        out = folder / f"labels-{datetime.now():%Y%m%d-%H%M%S}.csv"
        session.exported = self.project.store.label_version()  # before: a later edit hides it
        n = self.wb.export(out)
        progress(1.0, desc="Written")
        return {
            self.ui.export_file: gr.File(value=str(out), visible=True),
            # The file's name, not its path: the header's line holds two lines at most, and
            # the download link beside it gives the file.
            self.ui.message: f"Exported {plural(n, 'row')} to {out.name} in {EXPORTS_DIR}/",
        }

    @said
    def rescan(
        self,
        session: Session,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
    ) -> Updates:
        progress(0.0, desc="Scanning the images folder")
        r = self.project.rescan()
        s = r.sync
        info = (
            f"{plural(r.images, 'image')}: {s.added} new, {s.renamed} renamed, "
            f"{s.changed} changed, {s.missing} gone; "
            f"{r.embedded} embedded{same_content(r.same_content)}; {len(r.skipped)} skipped"
        )
        if r.skipped:
            where = f"all listed in `{self.project.path / SKIPPED_NAME}`"
            info += f" ({_named(r.skipped)}; {where})"
        if r.multi_frame:
            info += f". {multi_frame(len(r.multi_frame))} ({_named(r.multi_frame, 'frames')})"
        if s.reheadered:
            info += f". {reheadered(s.reheadered)}"
        if s.cleared:
            n = len(s.cleared)
            info += (
                f". **{plural(n, 'label')} removed**: {cleared_reason(n)} (listed in "
                f"`{r.cleared_file}`)"
            )
        return self.after_edit(session) | {self.ui.rescan_info: info}


def _named(files: list[tuple[str, object]], unit: str = "") -> str:
    """The first RESCAN_NAMED of (path, what of it) for the rescan's line: "`a.png`: 3 frames;
    … (40 in all)"."""
    named = "; ".join(
        f"`{path}`: {what}{' ' + unit if unit else ''}" for path, what in files[:RESCAN_NAMED]
    )
    return named + (f"; … ({len(files)} in all)" if len(files) > RESCAN_NAMED else "")


def _chosen(name: str | None, what: str) -> str:
    """A dropdown's choice, or a clear error when none was made."""
    if not name:
        raise LabelerError(f"choose {what} first")
    return name
