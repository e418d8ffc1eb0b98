"""The page: components and where they sit. No behaviour here (see labeler.ui.handlers)."""

from __future__ import annotations

import gradio as gr

from labeler.browse import ANY_CLASS, SHOW, SORTS
from labeler.ui.session import Session
from labeler.ui.settings import KEYED_CLASSES, POLL_SECONDS, THRESHOLD_DEFAULT
from labeler.ui.widgets import image_grid, map_view, panel

KEYS_HELP = (
    "Click an image to select it and see it large · Ctrl/⌘-click or Shift-click to select more · "
    "**Ctrl/⌘+A** selects the page · **1–9** label the selection · typing a class name (a new "
    "one makes the class) and **Enter** labels it too · **←/→** turn pages · **Ctrl+Z** undoes"
)
REVIEW_HELP = (
    "**Enter** accepts the prediction · **1–9** labels it as that class · typing a class name "
    "and **Enter** labels it so · **→** skips"
)
COLOUR_BY = ("labels and predictions", "labels only")
ANY, ALL = "any class", "all classes"  # the "no filter" choice of the class dropdowns
KEY_CLASS = "key"  # CSS class of the number-key buttons
BACK_MIN_WIDTH = 110  # px: "✕ all images", beside the page buttons
LABEL_AS_MIN_WIDTH = 330  # px: its hint on one line; with many class keys, the row wraps instead


class UI:
    """The page's components, by name, as `build_layout` creates them."""

    demo: gr.Blocks
    session: gr.State
    saved_view: gr.BrowserState  # the Label tab's filter and order, kept by the browser
    status: gr.HTML
    message: gr.Markdown  # what the last action did
    undo: gr.Button
    export: gr.Button
    export_file: gr.File
    tabs: gr.Tabs
    poll: gr.Timer  # ticks every POLL_SECONDS: labels given elsewhere are shown
    review_tab: gr.Tab
    trust_tab: gr.Tab
    map_tab: gr.Tab
    # Label
    show: gr.Dropdown
    cls: gr.Dropdown
    sort: gr.Dropdown
    prev: gr.Button
    page_info: gr.Markdown
    next: gr.Button
    back: gr.Button
    label_keys: list[gr.Button]
    label_as: gr.Textbox
    grid: gr.HTML
    preview: gr.HTML
    more: gr.Button
    counts: gr.HTML
    # Review
    review: gr.HTML
    review_shown: gr.Textbox  # hidden: the card on screen, sent with each key (views.card_shown)
    review_keys: list[gr.Button]
    review_as: gr.Textbox
    accept: gr.Button
    skip: gr.Button
    # Trust
    threshold: gr.Slider
    trust_cls: gr.Dropdown
    acceptance: gr.HTML
    check: gr.HTML  # auto-label accuracy estimated from the expert's labels
    trust_note: gr.Markdown  # where to look for kinds of image nobody labeled
    accept_anyway: gr.Checkbox
    accept_above: gr.Button
    histograms: gr.HTML
    # Map
    colour_by: gr.Radio
    map: gr.HTML
    map_note: gr.Markdown
    map_preview: gr.HTML
    map_keys: list[gr.Button]  # label the point clicked
    map_as: gr.Textbox  # ... as a class typed
    map_more: gr.Button
    # Classes
    class_table: gr.HTML
    new_class: gr.Textbox
    create: gr.Button
    rename_from: gr.Dropdown
    rename_to: gr.Textbox
    rename: gr.Button
    merge_from: gr.Dropdown
    merge_into: gr.Dropdown
    merge: gr.Button
    delete_cls: gr.Dropdown
    delete: gr.Button
    rescan: gr.Button
    rescan_info: gr.Markdown


def _keys(prefix: str) -> list[gr.Button]:
    return [
        gr.Button(
            str(i + 1),
            visible=False,
            size="sm",
            min_width=0,
            elem_id=f"{prefix}-key-{i + 1}",
            elem_classes=[KEY_CLASS],
        )
        for i in range(KEYED_CLASSES)
    ]


def _class_dropdown(label: str, *, any_label: str | None = None, scale: int = 1) -> gr.Dropdown:
    """Choices come with the classes at page load; `any_label` names the "no filter" choice."""
    choices = [] if any_label is None else [(any_label, ANY_CLASS)]
    value = None if any_label is None else ANY_CLASS
    return gr.Dropdown(
        choices=choices,
        value=value,
        label=label,
        min_width=160,
        scale=scale,
        allow_custom_value=any_label is not None,  # a filter on a class renamed meanwhile
    )


SAVED_VIEW_KEY = "labeler-view"  # the browser's localStorage key of `UI.saved_view`


def build_layout() -> UI:
    ui = UI()
    with gr.Blocks(title="labeler", analytics_enabled=False, fill_width=True) as ui.demo:
        ui.session = gr.State(Session())
        # A fixed key: the view outlives a restart of the server (a random one is made per
        # start). Nothing private is kept there, and what is read back is checked (`load`).
        ui.saved_view = gr.BrowserState({}, storage_key=SAVED_VIEW_KEY, secret=SAVED_VIEW_KEY)
        ui.poll = gr.Timer(POLL_SECONDS)
        with gr.Row(elem_id="header", equal_height=True):
            gr.HTML("<h1>labeler</h1>", js_on_load=None, elem_id="brand", scale=0)
            ui.status = panel(elem_id="status")
            ui.message = gr.Markdown(elem_id="message")
            ui.undo = gr.Button("↶ Undo", size="sm", scale=0, min_width=90, elem_id="undo")
            ui.export = gr.Button(
                "Export CSV", size="sm", scale=0, min_width=110, variant="primary", elem_id="export"
            )
            # Shown after an export, small, in the header: the page below does not move.
            ui.export_file = gr.File(
                show_label=False, visible=False, scale=0, min_width=0, elem_id="export-file"
            )
        with gr.Tabs(elem_id="tabs") as ui.tabs:
            with gr.Tab("Label", id="label", elem_id="tab-label"):
                _label_tab(ui)
            with gr.Tab("Review", id="review", elem_id="tab-review") as ui.review_tab:
                _review_tab(ui)
            with gr.Tab("Trust", id="trust", elem_id="tab-trust") as ui.trust_tab:
                _trust_tab(ui)
            with gr.Tab("Map", id="map", elem_id="tab-map") as ui.map_tab:
                _map_tab(ui)
            with gr.Tab("Classes", id="classes", elem_id="tab-classes"):
                _classes_tab(ui)
    return ui


def _label_tab(ui: UI) -> None:
    with gr.Row(equal_height=True, elem_id="toolbar"):
        ui.show = gr.Dropdown(list(SHOW), value="unlabeled", label="Show", min_width=160)
        # Twice the others' share: its label on one line beside the page buttons.
        ui.cls = _class_dropdown(
            "Class (label, or prediction if unlabeled)", any_label=ANY, scale=2
        )
        ui.sort = gr.Dropdown(list(SORTS), value="file name", label="Sort", min_width=250)
        # One piece: in a narrow window the toolbar wraps it whole below the filters.
        with gr.Row(equal_height=True, elem_id="pager"):
            ui.prev = gr.Button("◀", size="sm", scale=0, min_width=44, elem_id="page-prev")
            ui.page_info = gr.Markdown(elem_id="page-info")
            ui.next = gr.Button("▶", size="sm", scale=0, min_width=44, elem_id="page-next")
            # In the layout always, hidden while disabled (style.css): shown, it moves nothing.
            ui.back = gr.Button(
                "✕ all images",
                size="sm",
                scale=0,
                min_width=BACK_MIN_WIDTH,
                interactive=False,
                elem_id="back",
            )
    with gr.Row(equal_height=True, elem_id="keys"):
        ui.label_keys = _keys("label")
        ui.label_as = gr.Textbox(
            placeholder="Label selection as… (type a class, Enter)",
            show_label=False,
            container=False,
            min_width=LABEL_AS_MIN_WIDTH,
            elem_id="label-as",
        )
        panel('<span id="selection-info"></span>', scale=0, min_width=110)
    with gr.Row():
        with gr.Column(scale=3):
            ui.grid = image_grid({"html": "", "selected": []}, elem_id="grid")
            gr.Markdown(KEYS_HELP, elem_classes=["help"])
        with gr.Column(scale=1, min_width=320, elem_id="side"):
            ui.preview = panel(elem_id="preview")
            ui.more = gr.Button("More like this", size="sm", elem_id="more")
            ui.counts = panel(elem_id="counts")


def _review_tab(ui: UI) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            ui.review = panel(elem_id="review")
            # Rendered (so that the browser sends its value with the keys) but never seen.
            ui.review_shown = gr.Textbox(
                show_label=False, container=False, elem_id="review-shown", interactive=False
            )
        with gr.Column(scale=2, min_width=300):
            gr.Markdown(REVIEW_HELP, elem_classes=["help"])
            with gr.Row():
                ui.accept = gr.Button(
                    "Accept prediction (Enter)", variant="primary", elem_id="review-accept"
                )
                ui.skip = gr.Button("Skip (→)", elem_id="review-skip")
            gr.Markdown("Or label it as:", elem_classes=["help"])
            with gr.Row(elem_id="review-keys"):
                ui.review_keys = _keys("review")
            ui.review_as = gr.Textbox(
                placeholder="…or type a class (any, new ones too), Enter",
                show_label=False,
                container=False,
                elem_id="review-as",
            )


def _trust_tab(ui: UI) -> None:
    with gr.Row(equal_height=True):
        ui.threshold = gr.Slider(
            0.0,
            1.0,
            value=THRESHOLD_DEFAULT,
            step=0.01,
            label="Confidence threshold (a probability: type 0.9 or 90)",
            elem_id="threshold",
            scale=3,
        )
        ui.trust_cls = _class_dropdown("Class", any_label=ALL)
        ui.accept_above = gr.Button("Accept", variant="primary", scale=1, elem_id="accept-above")
    # Shown, and needed before the button works, where the estimated precision may be far off.
    ui.accept_anyway = gr.Checkbox(
        False, label="Accept anyway", visible=False, elem_id="accept-anyway"
    )
    ui.acceptance = panel(elem_id="acceptance")
    ui.check = panel(elem_id="check")
    ui.trust_note = gr.Markdown(elem_classes=["help"])
    gr.Markdown(
        "Confidence of the unlabeled images, per predicted class, most predicted first",
        elem_classes=["help"],
    )
    ui.histograms = panel(elem_id="histograms")


def _map_tab(ui: UI) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            ui.colour_by = gr.Radio(list(COLOUR_BY), value=COLOUR_BY[0], label="Colour")
            ui.map = map_view({"html": ""}, elem_id="map")
            ui.map_note = gr.Markdown(elem_classes=["help"])
        with gr.Column(scale=2, min_width=320):
            ui.map_preview = panel(elem_id="map-preview")
            with gr.Row(elem_id="map-keys"):
                ui.map_keys = _keys("map")
            ui.map_as = gr.Textbox(
                placeholder="…or type a class (any, new ones too), Enter",
                show_label=False,
                container=False,
                elem_id="map-as",
            )
            ui.map_more = gr.Button("More like this, in the grid", size="sm", elem_id="map-more")


def _classes_tab(ui: UI) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            ui.class_table = panel(elem_id="class-table")
        with gr.Column(scale=3):
            with gr.Row(elem_classes=["ops-row"]):
                ui.new_class = gr.Textbox(label="New class", elem_id="new-class")
                ui.create = gr.Button("Create", scale=0, min_width=100)
            with gr.Row(elem_classes=["ops-row"]):
                ui.rename_from = _class_dropdown("Rename")
                ui.rename_to = gr.Textbox(label="to")
                ui.rename = gr.Button("Rename", scale=0, min_width=100)
            with gr.Row(elem_classes=["ops-row"]):
                ui.merge_from = _class_dropdown("Merge")
                ui.merge_into = _class_dropdown("into")
                ui.merge = gr.Button("Merge", scale=0, min_width=100)
            with gr.Row(elem_classes=["ops-row"]):
                ui.delete_cls = _class_dropdown("Delete class (its images become unlabeled)")
                ui.delete = gr.Button("Delete", variant="stop", scale=0, min_width=100)
            with gr.Row(elem_classes=["ops-row"]):
                ui.rescan = gr.Button("Rescan images folder", scale=0, min_width=200)
                ui.rescan_info = gr.Markdown()
