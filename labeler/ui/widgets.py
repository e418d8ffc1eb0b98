"""Custom views built on `gr.HTML`: the selectable image grid and the clickable map.

Their value is {"html": str, ...} rendered on the server (labeler.ui.views, labeler.ui.charts);
the JavaScript here only handles selection and clicks and reports them as events.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

TEMPLATE = "${value.html}"

GRID_JS = """
const tiles = () => Array.from(element.querySelectorAll('.tile'));
let last = null;  // the path of the tile a Shift-click range starts from
let chosen = new Set();
function sync() {
  const selected = tiles().filter(t => t.classList.contains('selected')).map(t => t.dataset.path);
  chosen = new Set(selected);
  props.value = {...props.value, selected};
  const info = document.getElementById('selection-info');
  if (info) info.textContent = selected.length ? `${selected.length} selected` : '';
}
function applySelection() {
  const given = props.value && props.value.selected;
  if (given) {
    chosen = new Set(given);
    last = null;
  }  // null: keep what the expert has selected meanwhile, and where a Shift-click range starts
  tiles().forEach(t => t.classList.toggle('selected', chosen.has(t.dataset.path)));
  sync();
}
element.addEventListener('click', (e) => {
  const tile = e.target.closest('.tile');
  if (!tile) return;
  const all = tiles();
  const i = all.indexOf(tile);
  const from = all.findIndex(t => t.dataset.path === last);
  if (e.shiftKey && from >= 0) {
    all.slice(Math.min(from, i), Math.max(from, i) + 1).forEach(t => t.classList.add('selected'));
  } else if (e.ctrlKey || e.metaKey || e.target.closest('.tick')) {
    tile.classList.toggle('selected');
  } else {
    all.forEach(t => t.classList.toggle('selected', t === tile));
  }
  last = tile.dataset.path;
  sync();
  trigger('pick', {image: tile.dataset.path});
});
document.addEventListener('keydown', (e) => {
  if (!element.checkVisibility() || e.target.closest('input, textarea, select')) return;
  if (e.altKey || e.shiftKey) return;
  const command = e.ctrlKey || e.metaKey;
  if (command && (e.key === 'a' || e.key === 'A')) {  // the page, not the text of the window
    tiles().forEach(t => t.classList.add('selected'));
  } else if (!command && e.key === 'Escape') {
    tiles().forEach(t => t.classList.remove('selected'));
  } else {
    return;
  }
  e.preventDefault();
  sync();
});
watch('value', applySelection);
applySelection();
"""

MAP_JS = """
let picked = null;  // the path of the point clicked last: ringed, and sent with a key press
function ring() {
  element.querySelectorAll('.picked').forEach(c => c.classList.remove('picked'));
  const dots = Array.from(element.querySelectorAll('[data-path]'));
  const dot = dots.find(d => d.dataset.path === picked);
  if (dot) dot.classList.add('picked');
  if (props.value && props.value.picked !== picked) props.value = {...props.value, picked};
}
element.addEventListener('click', (e) => {
  const dot = e.target.closest('[data-path]');
  if (!dot) return;
  picked = dot.dataset.path;
  ring();
  trigger('pick', {image: picked});
});
watch('value', ring);  // a redrawn map rings the point again
"""


def let_go_when_emptied(box_id: str) -> str:
    """JS for the step after a submit of the text box `box_id`, given the box's value: once the
    server has emptied it (the name was taken), the box lets go of the focus, so that the keys
    work again; a refused name stays in the box, focused, to be corrected. A click on the box
    types another name."""
    return (
        "(text) => { const el = document.activeElement; "
        f"if (!text && el && el.closest('#{box_id}')) el.blur(); }}"
    )


# JS run in the browser before an event whose inputs are (session, map, …): the map's value sent
# as the point ringed on screen only, not with its SVG (hundreds of kB at each key press).
SEND_MAP_PICK = "(s, m, ...rest) => [s, {picked: m?.picked ?? null}, ...rest]"


def within_bounds(
    low: float, high: float, *, before: int = 0, extra: int = 0, shown: bool = False
) -> str:
    """JS run in the browser before an event of a slider: its input (the value typed into the
    slider's number box) kept within [low, high], the `before` inputs ahead of it and the
    `extra` after it passed on (a gr.State among them is passed as the browser holds it: the
    server uses its own).
    Gradio refuses an out-of-range value with an error on the page and a traceback in the log;
    a typed 1.5 is meant as the most there is. `shown`: for writing the value back into the
    box, which is left as typed while it has the focus (a value put in mid-typing garbles the
    next keys: 95 typed became 1, then 15); keys.js reads what was typed on Enter or on
    leaving the box."""
    ahead = "".join(f"b{i}, " for i in range(before))
    rest = "".join(f", a{i}" for i in range(extra))
    typing = "document.activeElement?.matches('input[type=number]') ? t : " if shown else ""
    clamped = f"{typing}Math.min({high}, Math.max({low}, Number(t)))"
    return f"({ahead}t{rest}) => [{ahead}{clamped}{rest}]"


# Plain gr.HTML instances, not subclasses: Gradio writes a .pyi beside any Component subclass.


def image_grid(value: dict[str, Any], **kwargs: Any) -> gr.HTML:
    """A page of image tiles. Click selects one, Ctrl/Cmd-click or the tick toggles, Shift-click
    selects a range, Ctrl/⌘+A selects the page, Escape clears. Value: {"html", "selected": [paths]}
    (None from the server: keep the current selection); event `pick` carries {"image": path}."""
    return gr.HTML(
        value, html_template=TEMPLATE, js_on_load=GRID_JS, apply_default_css=False, **kwargs
    )


def map_view(value: dict[str, Any], **kwargs: Any) -> gr.HTML:
    """An SVG map whose points carry image paths; event `pick` carries {"image": path}. Value:
    {"html", "picked": path of the point clicked last, kept across redraws}: an event that takes
    the map as input acts on the point ringed on screen, not on a pick still queued."""
    return gr.HTML(
        value, html_template=TEMPLATE, js_on_load=MAP_JS, apply_default_css=False, **kwargs
    )


def panel(html: str = "", **kwargs: Any) -> gr.HTML:
    """Server-rendered HTML without default click events or Gradio's prose styling."""
    return gr.HTML(html, js_on_load=None, apply_default_css=False, **kwargs)
