"""HTML for the Trust tab: what a threshold would accept, the check from the expert's labels,
and the note on kinds nobody labeled (see `views` for the escaping rule)."""

from __future__ import annotations

from collections.abc import Mapping

from labeler.browse import FITS_NO_CLASS, Acceptance, ood_off
from labeler.estimates import AccuracyCheck
from labeler.ui.views import bold, chip, esc
from labeler.wording import plural

MAX_ACCEPTANCE_ROWS = 12  # classes listed at most, most accepted first; a note counts the others


def accept_anyway_label(a: Acceptance) -> str:
    """The box to tick before a bulk accept whose estimated precision may be far off."""
    return f"Accept anyway ({a.caution}): I have looked for images of other kinds"


def acceptance_html(a: Acceptance, slots: Mapping[str, int]) -> str:
    """What a threshold would accept: the total, and per class (at most MAX_ACCEPTANCE_ROWS, the
    most accepted first, ties in class order) with a note that counts the classes not listed;
    `slots` colour the classes (`Snapshot.slot_of`)."""
    warning = ""
    if a.ood_short:
        warning = (
            f'<div class="warning">{ood_off(a.ood_short).capitalize()}: images of a kind you '
            "have not labeled are not left out yet, and accepting now labels them as one of "
            "your classes.</div>"
        )
    if a.uncalibrated:
        names = ", ".join(esc(n) for n in a.uncalibrated)
        warning += (
            f'<div class="warning">Confidences are not calibrated for {names}: one hand label '
            "each, so nothing could be checked against a held-out label (they tend to be too "
            "low). Label a second image of each before accepting in bulk.</div>"
        )
    if a.ood:
        warning += (
            f'<div class="muted">{plural(a.ood, "image")} at this confidence '
            f"{'fits' if a.ood == 1 else 'fit'} no class (far from every labeled image and "
            "group): left out. Label them, or a new class, by hand.</div>"
        )
    if a.count == 0:
        at = f"{a.threshold:.2f}"
        return f'{warning}<div class="muted">No unlabeled prediction at confidence ≥ {at}.</div>'
    ranked = sorted(a.per_class.items(), key=lambda item: -item[1][0])
    rows = "".join(
        f"<tr><td>{chip(name, slots)}{esc(name)}</td><td>{n:,}</td><td>{p:.1%}</td></tr>"
        for name, (n, p) in ranked[:MAX_ACCEPTANCE_ROWS]
    )
    rest = [n for _, (n, _) in ranked[MAX_ACCEPTANCE_ROWS:]]
    more = (
        f'<div class="muted">The {MAX_ACCEPTANCE_ROWS} classes with the most to accept are listed; '
        f"{len(rest):,} more would accept {plural(sum(rest), 'image')}: choose one under Class "
        "to see it.</div>"
        if rest
        else ""
    )
    return warning + (
        f'<div class="headline">At confidence ≥ {a.threshold:.2f}: '
        f"{bold(plural(a.count, 'image'))} would be auto-accepted, estimated precision "
        f"<b>{a.precision:.1%}</b></div>"
        '<table class="counts"><thead><tr><th>class</th><th>would accept</th>'
        f"<th>est. precision</th></tr></thead><tbody>{rows}</tbody></table>{more}"
        '<div class="muted">Precision is estimated as the mean calibrated confidence of the '
        "accepted predictions.</div>"
    )


TRUST_NOTE = (
    "The model knows only the classes you have labeled: an image of a kind with no label yet is "
    "predicted as one of them, and its confidence does not show it. The check from the hand labels "
    "allows for such kinds only roughly (a label alone in its class counts as a miss). Look for "
    "them on the Map and under Show: {where} before trusting a threshold."
)


def trust_note(ood_short: int) -> str:
    """The Trust tab's note on kinds of image nobody labeled, and where to look for them."""
    where = f"{FITS_NO_CLASS} and uncertain"
    if ood_short:
        where = f"uncertain ({ood_off(ood_short)})"
    return TRUST_NOTE.format(where=where)


def check_html(check: AccuracyCheck, curve_svg: str) -> str:
    """The accuracy of all auto-labels as estimated from the hand labels now (out of fold),
    or that none could be made from them."""
    if check.current is None and not check.curve:
        return (
            '<div class="muted">A check from the hand labels appears once two classes have two '
            "labels each.</div>"
        )
    if check.current is None:
        return (
            f'<div class="check"><div class="headline">No check from the '
            f"{plural(check.labels, 'hand label')} now: it needs two classes with two labels each, "
            "and images left to auto-label.</div>"
            '<div class="muted">The curve shows the checks of the labels there were before.</div>'
            f"{curve_svg}</div>"
        )
    n, acc, low, high = check.current
    return (
        f'<div class="check"><div class="headline">Check from the hand labels: about '
        f"<b>{acc:.0%}</b> of the auto-labels are right (95% interval {low:.0%}–{high:.0%}, "
        f"from the {plural(n, 'hand label')}, each predicted by a model that did not see it).</div>"
        '<div class="muted">The precision estimated for an accept trusts the model\'s '
        "confidence; this check tests it against the hand labels. When they disagree, believe this "
        "one and label more.</div>"
        f"{curve_svg}</div>"
    )
