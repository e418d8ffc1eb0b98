"""The browser UI (Gradio Blocks): layout (`layout`), thin handlers (`handlers`,
`handlers_tabs`) that call the facade, per-session state (`session`), and the server (`server`).
"""

from __future__ import annotations

import os

# Nothing leaves the machine: no usage analytics, whatever the environment says.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from labeler.project import Project

__all__ = ["build_app", "serve"]


def build_app(project: Project) -> gr.Blocks:
    """The Blocks app for one open project: layout, then each event wired to its handler."""
    from labeler.ui.handlers_tabs import TabHandlers
    from labeler.ui.layout import build_layout
    from labeler.ui.widgets import SEND_MAP_PICK, let_go_when_emptied, within_bounds

    ui = build_layout()
    h = TabHandlers(project, ui)
    s = ui.session
    private = {"api_visibility": "private"}  # the page's handlers are no API (the CLI is)
    quick = {**private, "show_progress": "hidden"}
    # The preview is drawn by a pick and by the refit after an edit: one queue for both, so a
    # slow refit cannot answer after a later pick with the image picked before it.
    preview = {**quick, "concurrency_id": "preview"}
    # The slow accuracy check follows the Trust tab, an accept and an undo: one queue for all,
    # so that a check of older labels cannot answer after one of newer labels.
    check_queue = {"concurrency_id": "check"}
    # The threshold's views are drawn by opening the tab, moving the slider, choosing a class
    # and after an accept or undo: one queue for all, so that the tab's views (drawn at the
    # slider's value when it opened, and waiting for a refit) cannot answer after the slider's.
    trust_queue = {"concurrency_id": "trust"}
    # The review keys, the card's redraws and the undo: one queue, so that a redraw cannot
    # overtake the card of a later key, and an undo comes after the key pressed before it.
    review = {"concurrency_id": "review"}
    # Gradio's default trigger mode drops an event while the same one is pending: a pick waiting
    # behind a refit would swallow the next pick, and a key pressed twice would label once. Each
    # pick and key press carries its own image or selection, so all of them run, in order.
    # ("always_last" is no cure: Gradio 6 replays the first pending event's data, not the last.)
    # The review keys too: each press carries the card it was made on (`ui.review_shown`), so
    # a second press meant for a card gone by is refused, not applied to the next, unseen.
    every = {"trigger_mode": "multiple"}
    everything = h.all_outputs()
    label = h.label_outputs()
    trust_in = [s, ui.threshold, ui.trust_cls, ui.accept_anyway]
    trust_out = h.trust_outputs()
    # Every event that sends the threshold keeps it within the slider's bounds (95 typed in its
    # box, not yet read as 0.95, is refused by Gradio with a traceback): see `within_bounds`.
    bounds = (ui.threshold.minimum, ui.threshold.maximum)
    trust_sent = {"js": within_bounds(*bounds, before=1, extra=2)}

    def trust_follows(event):
        """The Trust tab's views after `event`, then its accuracy check as an event of its own."""
        views = event.then(
            h.move_threshold, trust_in, trust_out, **quick, **trust_queue, **trust_sent
        )
        return views.then(h.check, None, ui.check, **quick, **check_queue)

    with ui.demo:
        ui.demo.load(
            h.load, [s, ui.saved_view], [*everything, ui.rescan_info, ui.show, ui.sort], **private
        )
        ui.demo.unload(h.unload)
        # Labels given elsewhere (another expert, the command line) come in on the next tick;
        # in the preview's queue, so that it cannot answer after a later refresh.
        ui.poll.tick(h.poll, s, everything, **preview)
        ui.poll.tick(h.trust_poll, trust_in, trust_out, **quick, **trust_queue, **trust_sent)
        # Label tab
        # In the preview's queue: a redraw of the page (after a refit, or a poll) cannot answer
        # after a new filter with the page of the old one.
        filters = [ui.show, ui.cls, ui.sort]
        for control in filters:
            control.input(h.set_filter, [s, *filters], label, **preview)
        # Each press turns a page: → pressed twice while the first turn runs turns two.
        ui.prev.click(h.prev_page, s, label, **quick, **every)
        ui.next.click(h.next_page, s, label, **quick, **every)
        similar = [*label, ui.show, ui.cls]  # neighbours are listed whatever the filter
        ui.back.click(h.all_images, s, [*similar, ui.sort], **quick)  # ... and back, as it was
        ui.more.click(h.more_like_this, s, similar, **quick)
        ui.grid.pick(h.pick, s, [s, ui.preview], **preview, **every)
        # Quick edits answer at once with the new labels; `.then` refits and shows predictions.
        for k, button in enumerate(ui.label_keys):
            button.click(h.assign_key(k), [s, ui.grid], everything, **quick, **every).then(
                h.refresh, s, everything, **preview
            )
        ui.label_as.submit(
            h.assign_named, [s, ui.grid, ui.label_as], [*everything, ui.label_as], **quick
        ).then(None, ui.label_as, None, js=let_go_when_emptied("label-as")).then(
            h.refresh, s, everything, **preview
        )
        # The Trust tab follows an undo (of a bulk accept, say), its check as an event of its own.
        trust_follows(
            ui.undo.click(
                h.undo,
                s,
                [*everything, ui.review, ui.review_shown, ui.accept_anyway],
                **quick,
                **review,
                **every,  # each Ctrl+Z undoes one edit: a second press is not dropped
            ).then(h.refresh, s, everything, **preview)
        )
        ui.export.click(h.export, s, [ui.export_file, ui.message], **private)
        # Review tab
        card_out, shown = h.review_outputs(), [s, ui.review_shown]
        ui.review_tab.select(h.open_review, s, [s, ui.review, ui.review_shown], **private)
        # A key acts on the card on screen (`ui.review_shown`, sent by the browser). The next card
        # waits a moment for the refit of the label just given (a spinner on the card), then is
        # drawn with the predictions before it and drawn again when the refit is done.
        card = {**private, "show_progress": "full", "show_progress_on": [ui.review]}

        def then_redrawn(event):
            return event.then(h.review_refresh, s, card_out, **quick, **review)

        then_redrawn(ui.accept.click(h.review_accept, shown, card_out, **card, **review, **every))
        then_redrawn(
            ui.skip.click(h.review_skip, shown, [*card_out, ui.message], **quick, **review, **every)
        )
        for k, button in enumerate(ui.review_keys):
            then_redrawn(button.click(h.review_key(k), shown, card_out, **card, **review, **every))
        then_redrawn(
            ui.review_as.submit(
                h.review_named,
                [*shown, ui.review_as],
                [*card_out, ui.review_as],
                **card,
                **review,
            )
        ).then(None, ui.review_as, None, js=let_go_when_emptied("review-as"))
        # Trust tab
        ui.trust_tab.select(
            h.move_threshold, trust_in, trust_out, **private, **trust_queue, **trust_sent
        ).then(h.check, None, ui.check, **private, **check_queue)
        # A value typed beyond the slider's bounds is taken at the bound, and the box shows it.
        ui.threshold.change(
            h.move_threshold,
            trust_in,
            trust_out,
            **quick,
            **trust_queue,
            **trust_sent,
        ).then(None, ui.threshold, ui.threshold, js=within_bounds(*bounds, shown=True))
        for control in (ui.trust_cls, ui.accept_anyway):
            control.input(
                h.move_threshold, trust_in, trust_out, **quick, **trust_queue, **trust_sent
            )
        trust_follows(
            ui.accept_above.click(
                h.accept_above, trust_in, [*everything, ui.accept_anyway], **quick, **trust_sent
            )
        )
        # Map tab
        ui.map_tab.select(
            h.open_map, [s, ui.colour_by], [ui.map, ui.map_note, ui.map_preview], **private
        )
        ui.colour_by.input(h.map_view, ui.colour_by, [ui.map, ui.map_note], **quick)
        ui.map.pick(h.map_pick, s, [s, ui.map_preview], **quick, **every)

        def then_map_redrawn(event):
            """After a label given on the Map: the refit's views, then the map with it."""
            return event.then(h.refresh, s, everything, **preview).then(
                h.map_view, ui.colour_by, [ui.map, ui.map_note], **quick
            )

        map_labeled = [*everything, ui.map_preview]
        for k, button in enumerate(ui.map_keys):
            then_map_redrawn(
                button.click(
                    h.map_key(k), [s, ui.map], map_labeled, js=SEND_MAP_PICK, **quick, **every
                )
            )
        # A class typed: any, new ones too (beyond the nine keys).
        then_map_redrawn(
            ui.map_as.submit(
                h.map_named,
                [s, ui.map, ui.map_as],
                [*map_labeled, ui.map_as],
                js=SEND_MAP_PICK,
                **quick,
            ).then(None, ui.map_as, None, js=let_go_when_emptied("map-as"))
        )
        ui.map_more.click(h.map_more, [s, ui.map], [*similar, ui.tabs], js=SEND_MAP_PICK, **quick)
        # Classes tab
        for trigger in (ui.create.click, ui.new_class.submit):
            trigger(h.create_class, [s, ui.new_class], [*everything, ui.new_class], **private)
        ui.rename.click(
            h.rename_class,
            [s, ui.rename_from, ui.rename_to],
            [*everything, ui.rename_to],
            **private,
        )
        ui.merge.click(h.merge_classes, [s, ui.merge_from, ui.merge_into], everything, **private)
        ui.delete.click(h.delete_class, [s, ui.delete_cls], everything, **private)
        ui.rescan.click(h.rescan, s, [*everything, ui.rescan_info], **private)
    return ui.demo


def serve(
    project: Project,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: list[tuple[str, str]] | None = None,
) -> None:
    """Serve the UI until interrupted (see labeler.ui.server)."""
    from labeler.ui.server import run

    run(project, host=host, port=port, auth=auth)
