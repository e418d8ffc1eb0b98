"""HTML for the custom views (grid, preview, review card, tables), from facade results.

Pure functions: every text that comes from the user (paths, class names, annotators) is escaped
here, so nothing typed into one browser runs as markup in another.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from labeler.browse import FITS_NO_CLASS, Page, Tile, ood_off
from labeler.heads import DEFAULT_METHOD
from labeler.live import Snapshot
from labeler.ui.settings import IMAGE_ROUTE, KEYED_CLASSES, PALETTE
from labeler.wording import plural
from labeler.workbench import Counts, Details, ReviewItem


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$<>&])")


def plain(text: object) -> str:
    """Text for a Markdown component, shown as typed: no markup, links, images or formulas."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def colour(slot: int) -> str:
    """The colour of a class's slot (`Snapshot.slots`): its own while the class lives."""
    return PALETTE[slot % len(PALETTE)]


def slot_class(slot: int) -> str:
    """The CSS class that gives a number-key button the colour of the class in `slot` (the
    server's stylesheet has one per colour)."""
    return f"slot-{slot % len(PALETTE)}"


def class_colour(name: str, slots: Mapping[str, int]) -> str:
    """The colour of class `name`; `slots`: {class name: slot} (`Snapshot.slot_of`)."""
    return colour(slots.get(name, 0))


def image_url(path: str) -> str:
    """Relative URL of an image, so the page also works behind a path prefix."""
    return f"{IMAGE_ROUTE}/{quote(path)}"


def _img(path: str, *, small: bool, cls: str) -> str:
    crisp = " pixelated" if small else ""
    src = esc(image_url(path))
    return f'<img class="{cls}{crisp}" src="{src}" alt="{esc(path)}" loading="lazy">'


def chip(name: str, slots: Mapping[str, int]) -> str:
    return f'<span class="chip" style="background:{class_colour(name, slots)}"></span>'


def _caption(t: Tile, slots: Mapping[str, int]) -> str:
    if t.label is not None:
        how = "accepted" if t.accepted else "hand"
        return (
            f'<span class="cap labeled {how}">{chip(t.label, slots)}{esc(t.label)}'
            f"<small>{'auto ✓' if t.accepted else '✓'}</small></span>"
        )
    if t.pred is not None:
        mark = '<b class="ood-mark">?</b> ' if t.ood else ""
        return (
            f'<span class="cap predicted">{chip(t.pred, slots)}{esc(t.pred)}'
            f"<small>{mark}{t.conf:.0%}</small></span>"
        )
    return '<span class="cap none">unlabeled</span>'


OOD_NOTE = "fits no class: far from every labeled class, so its prediction is a guess"


def status_html(snap: Snapshot, counts: Counts, *, method: str, missing: int) -> str:
    """The header's line, short and of one length whatever the model does (a line that grew
    during a refit would move the grid under the pointer): counts as the export has them (the
    images that fit no class apart from the auto-labels) and the model on screen, `method`,
    with its own account of what it chose as the tooltip; first, a warning when `missing`
    images are gone from the folder."""
    hand = sum(c.human for c in counts.classes)
    accepted = sum(c.accepted for c in counts.classes)
    auto = sum(c.auto for c in counts.classes)
    model, account = f"model: {method}", snap.method
    if method != DEFAULT_METHOD:
        model += ", a fast preview"
        account += f" · a fast preview of this many images: the export uses {DEFAULT_METHOD}"
    if not snap.fitted:
        model += " (updating predictions…)"
    elif snap.has_predictions:
        model += f" (refit {snap.fit_seconds * 1000:.0f} ms)"
    else:
        model, account = "model: none yet", "predictions start once two classes have labels"
    gone = (
        f"⚠ <b>{plural(missing, 'image')}</b> {'is' if missing == 1 else 'are'} gone from the "
        "folder: Rescan on the Classes tab · "
        if missing
        else ""
    )
    return (
        f'<div class="status-line" title="{esc(account)}">{gone}'
        f"{bold(plural(len(snap.label), 'image'))} · <b>{hand:,}</b> by hand · "
        f"<b>{accepted:,}</b> accepted · <b>{auto:,}</b> auto-labeled · "
        f"{_fit_no_class(counts.fits_no_class)}{model}</div>"
    )


def bold(counted: str) -> str:
    """'<b>12</b> images' of `plural`'s '12 images'."""
    number, noun = counted.split(" ", 1)
    return f"<b>{number}</b> {noun}"


def _fit_no_class(n: int) -> str:
    """'<b>19</b> fit no class · ' of the header's line; '' for none."""
    return f"<b>{n:,}</b> {'fits' if n == 1 else 'fit'} no class · " if n else ""


def grid_html(page: Page, slots: Mapping[str, int], small: set[str]) -> str:
    """The tiles of one page; `slots` colour the classes (`Snapshot.slot_of`), `small` holds the
    paths to upscale with crisp pixels."""
    if not page.tiles:
        return '<div class="empty">No images match. Change the filter above.</div>'
    tiles = []
    for i, t in enumerate(page.tiles):
        title = f"{t.path} · {OOD_NOTE}" if t.ood else t.path
        ood = ' data-ood="1"' if t.ood else ""
        tiles.append(
            f'<figure class="tile" data-path="{esc(t.path)}" data-i="{i}" tabindex="-1"{ood} '
            f'title="{esc(title)}"><span class="tick">✓</span>'
            f"{_img(t.path, small=t.path in small, cls='thumb')}"
            f"<figcaption>{_caption(t, slots)}</figcaption></figure>"
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def page_info(page: Page, *, show: str, similar_to: str | None, ood_short: int) -> str:
    """E.g. "page 2 of 5 · 214 unlabeled images"; `show` is the filter (browse.SHOW);
    `ood_short`, the labels the flags of the filter "fits no class" still need."""
    shown = (similar_to or "").replace("`", "'")  # a backtick would end the code span
    where = f"like `{shown}` · " if similar_to else ""
    if show == FITS_NO_CLASS and ood_short:
        what = ood_off(ood_short)
    elif show == FITS_NO_CLASS:
        what = f"{plural(page.total, 'image')} that {'fits' if page.total == 1 else 'fit'} no class"
    else:
        what = plural(page.total, "image" if show == "all" else f"{show} image")
    return f"{where}page **{page.page}** of {page.pages} · {what}"


def preview_html(d: Details | None, slots: Mapping[str, int], *, small: bool) -> str:
    if d is None:
        return '<div class="preview empty">Click an image to see it large.</div>'
    if d.label is None:
        label = '<span class="muted">not labeled</span>'
    else:
        label = f"{chip(d.label, slots)}<b>{esc(d.label)}</b>" + (
            ' <span class="muted">(accepted prediction)</span>' if d.accepted else ""
        )
    ood = f'<div class="field ood-note">⚠ This image {OOD_NOTE}.</div>' if d.ood else ""
    bars = "".join(
        f'<div class="bar"><span class="name">{chip(name, slots)}{esc(name)}</span>'
        f'<span class="track"><span style="width:{p:.1%};background:{class_colour(name, slots)}">'
        f"</span></span><span class=num>{p:.0%}</span></div>"
        for name, p in d.top
    )
    history = "".join(
        f"<li>{esc(lab) if lab is not None else '<i>removed</i>'} · {esc(who)} · {esc(at)}</li>"
        for lab, who, at in reversed(d.history)
    )
    return (
        f'<div class="preview">{_img(d.path, small=small, cls="large")}'
        f'<div class="path" title="{esc(d.path)}">{esc(d.path)}</div>'
        f'<div class="field">Label: {label}</div>{ood}'
        f'<div class="field">Predictions{bars or ": none yet"}</div>'
        f'<div class="field">History<ul class="history">{history or "<li>none</li>"}</ul></div>'
        "</div>"
    )


def review_html(
    item: ReviewItem | None,
    d: Details | None,
    *,
    small: bool,
    left: int,
    skipped: int = 0,
    refitting: bool = False,
) -> str:
    """The card of `item`: its prediction and the reason it was chosen, both from `d` (the
    image's details now), so that they give the same numbers after any refit since the pick.
    With no item, `skipped` counts the images skipped in this session (still unlabeled).
    `refitting`: the prediction is the model's before the last label, whose refit is under way."""
    if item is None or d is None:
        return f'<div class="review empty">{esc(nothing_to_review(skipped))}.</div>'
    top = d.top[0] if d.top else None
    updating = (
        '<span class="updating"> · from before your last label, updating…</span>'
        if refitting
        else ""
    )
    if not top:
        guess = '<div class="guess">No prediction yet: label images of two classes first.</div>'
    elif d.ood:
        guess = (
            f'<div class="guess ood">Fits no class · nearest: <b>{esc(top[0])}</b>?{updating}'
            '</div><div class="ood-note">Far from every labeled image: perhaps a kind nobody has '
            "labeled yet. Enter does not accept it: press its class's key, or type a class "
            "(a new one too).</div>"
        )
    else:
        guess = (
            f'<div class="guess">Predicted <b>{esc(top[0])}</b> · {top[1]:.0%} confident'
            f"{updating}</div>"
        )
    return (
        f'<div class="review">{_img(d.path, small=small, cls="hero")}'
        f'<div class="path">{esc(d.path)}</div>{guess}'
        f'<div class="reason">Why this one: {esc(item.reason(d.top))}</div>'
        f'<div class="muted">{left} more in this batch</div></div>'
    )


def card_shown(d: Details | None) -> str:
    """What the review card on screen shows, as the browser sends it back with a key: JSON
    {"path", "guess", "ood"} ('' for no card), so that a key acts on the image and prediction
    seen (a card that fits no class shows no prediction to accept)."""
    if d is None:
        return ""
    guess = d.top[0][0] if d.top and not d.ood else None  # a flagged image's is no prediction
    return json.dumps({"path": d.path, "guess": guess, "ood": bool(d.ood)})


def card_on_screen(shown: str) -> tuple[str, str | None, bool] | None:
    """(path, predicted class or None, flagged as fitting no class) of `card_shown`'s text, or
    None for no card."""
    if not shown:
        return None
    card = json.loads(shown)
    return card["path"], card["guess"], card["ood"]


def _key(slot: int) -> str:
    """The number key of the class in `slot`, as its button shows it ('' for none)."""
    return str(slot + 1) if slot < KEYED_CLASSES else ""


def nothing_to_review(skipped: int, doing: str = "review") -> str:
    """Why there is no review card (to `doing`): every image is labeled, or only the `skipped`
    ones are left."""
    if not skipped:
        return f"Nothing to {doing}: every image is labeled, or on another expert's card"
    return (
        f"Nothing to {doing}: only the {plural(skipped, 'image')} you skipped "
        f"{'is' if skipped == 1 else 'are'} left; open the Review tab again to see them"
    )


def counts_html(counts: Counts, slots: Mapping[str, int]) -> str:
    """The classes with their counts as the export has them: an image that fits no class is
    no auto-label of the class it was guessed as, and a note under the table counts them."""
    if not counts.classes:
        return '<div class="muted">No classes yet: select images, type a class name, Enter.</div>'
    rows = "".join(
        f"<tr><td class=key>{_key(slots[c.name])}</td>"
        f"<td>{chip(c.name, slots)}{esc(c.name)}</td>"
        f"<td>{c.human:,}</td><td>{c.accepted:,}</td><td>{c.auto:,}</td></tr>"
        for c in counts.classes
    )
    n = counts.fits_no_class
    ood = (
        f'<div class="muted">{plural(n, "image")} {"fits" if n == 1 else "fit"} no class: '
        "not auto-labeled (exported with no label). Label them by hand.</div>"
        if n
        else ""
    )
    return (
        '<table class="counts"><thead><tr><th>key</th><th>class</th><th>by hand</th>'
        f"<th>accepted</th><th>auto</th></tr></thead><tbody>{rows}</tbody></table>{ood}"
    )


def on_page(rows: Sequence[int], shown: Sequence[int]) -> str:
    """Where the images an undo restored (`rows`) are, when it restored several, among the rows
    `shown` on the page (the undo of one image's label names it: `Workbench.assign`)."""
    there = sum(r in shown for r in rows)
    if len(rows) < 2 or not there:
        return ""
    where = "the Label tab's page"  # said from any tab: the Trust tab's undo of an accept, say
    if there == len(rows):
        return f" · shown on {where}"
    return f" · {there} of them shown on {where}, the others on other pages"


def copies_note(copies: Sequence[tuple[str, str, str]]) -> str:
    """A note of the images an edit labeled whose byte-identical copy holds another class, as
    (path, copy's path, copy's label) (`Workbench.copies_labeled_otherwise`); '' when none.
    Raw text, as the edit's description it follows: `plain` is applied to both together."""
    if not copies:
        return ""
    path, copy, label = copies[0]
    what = f"{path} is the same file, byte for byte, as {copy}, labeled {label}"
    if len(copies) > 1:
        what = f"{plural(len(copies), 'image')} have a copy under another class ({what}; …)"
    return f" · note: {what}: one of the two labels is wrong"


def unseen_note(unseen: Sequence[tuple[str, str | None]]) -> str:
    """A note of the labels an edit replaced that another session had set since the page was
    drawn, as (path, label it had) (`Workbench.replaced_unseen`); '' when none."""
    if not unseen:
        return ""
    path, was = unseen[0]
    what = f"{path} had been {'unlabeled' if was is None else f'labeled {was}'}"
    if len(unseen) > 1:
        what = f"{plural(len(unseen), 'image')} had been relabeled ({what}, …)"
    return plain(
        f" · note: {what} in another session since this page was drawn; Ctrl+Z puts "
        f"{'that' if len(unseen) == 1 else 'those'} back"
    )
