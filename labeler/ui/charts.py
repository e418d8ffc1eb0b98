"""Charts drawn as inline SVG on the server: nothing to load from outside, crisp at any size."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from labeler.live import NO_CLASS, Snapshot
from labeler.ui.settings import PALETTE, UNLABELED_COLOUR
from labeler.ui.views import class_colour, colour, esc
from labeler.wording import plural

HIST_W, HIST_H, HIST_PAD = 260, 110, 22  # one small multiple, px
MAX_HISTOGRAMS = 12  # drawn at most, most auto-labels first; a note counts the others
HIST_TITLE_CHARS = 22  # of a class name in a histogram's title; the full name is its tooltip
MAP_SIZE = 640  # px, square
# Marker shapes (with the legend's symbol), one per run of len(PALETTE) class slots: classes
# whose colours are the same differ in shape, up to len(PALETTE) * len(MAP_MARKERS) classes.
MAP_MARKERS = {"circle": "●", "square": "■", "diamond": "◆"}


def _shortened(name: str) -> str:
    """`name` cut to HIST_TITLE_CHARS characters, the last an ellipsis, when longer."""
    return name if len(name) <= HIST_TITLE_CHARS else name[: HIST_TITLE_CHARS - 1] + "…"


def histograms_svg(hists: dict[str, np.ndarray], slots: Mapping[str, int], threshold: float) -> str:
    """A confidence histogram per class that has auto-labels, the most first and at most
    MAX_HISTOGRAMS, with a note that counts the classes not drawn. Bars at or above `threshold`
    are solid, below faded.

    hists: {class name: (bins,) counts}, as `browse.confidence_histograms` gives; slots: {class
    name: slot}, their colours (`Snapshot.slot_of`).
    """
    if not hists:
        return '<div class="muted">Histograms appear once two classes have labels.</div>'
    predicted = sorted((n for n, c in hists.items() if c.any()), key=lambda n: -hists[n].sum())
    if not predicted:
        none = (
            f"No unlabeled image is predicted as {esc(next(iter(hists)))}."
            if len(hists) == 1  # one class chosen
            else "Every image is labeled: nothing is left to predict."
        )
        return f'<div class="muted">{none}</div>'
    notes = []
    if len(predicted) > MAX_HISTOGRAMS:
        notes.append(
            f"The {MAX_HISTOGRAMS} classes with the most auto-labels are drawn; "
            f"{len(predicted) - MAX_HISTOGRAMS:,} more: choose one under Class to see it."
        )
    if len(predicted) < len(hists):
        empty = len(hists) - len(predicted)
        notes.append(f"Not drawn: {plural(empty, 'class', 'classes')} with no auto-label.")
    note = f'<div class="muted">{" ".join(notes)}</div>' if notes else ""
    panels = []
    for name in predicted[:MAX_HISTOGRAMS]:
        counts, fill = hists[name], class_colour(name, slots)
        bins = len(counts)
        top = max(int(counts.max()), 1)
        bw = (HIST_W - 2 * HIST_PAD) / bins
        plot_h = HIST_H - 2 * HIST_PAD
        bars = []
        for b, n in enumerate(counts.tolist()):
            if n == 0:
                continue
            h = plot_h * n / top
            x = HIST_PAD + b * bw
            above = (b + 1) / bins > threshold
            bars.append(
                f'<rect x="{x:.1f}" y="{HIST_PAD + plot_h - h:.1f}" width="{bw - 1:.1f}" '
                f'height="{h:.1f}" fill="{fill}" opacity="{1 if above else 0.35}">'
                f"<title>{plural(n, 'image')} at {b / bins:.2f}–{(b + 1) / bins:.2f}</title></rect>"
            )
        tx = HIST_PAD + threshold * (HIST_W - 2 * HIST_PAD)
        panels.append(
            f'<svg class="hist" viewBox="0 0 {HIST_W} {HIST_H}" width="{HIST_W}" '
            f'height="{HIST_H}" role="img" aria-label="confidence of {esc(name)}">'
            f'<text x="{HIST_PAD}" y="14" class="title"><title>{esc(name)}</title>'
            f"{esc(_shortened(name))} · {int(counts.sum()):,} predicted</text>{''.join(bars)}"
            f'<line x1="{HIST_PAD}" x2="{HIST_W - HIST_PAD}" y1="{HIST_H - HIST_PAD}" '
            f'y2="{HIST_H - HIST_PAD}" class="axis"/>'
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{HIST_PAD - 4}" y2="{HIST_H - HIST_PAD}" '
            'class="threshold"/>'
            f'<text x="{HIST_PAD}" y="{HIST_H - 6}" class="tick">0</text>'
            f'<text x="{HIST_W - HIST_PAD}" y="{HIST_H - 6}" class="tick end">1</text></svg>'
        )
    return f'{note}<div class="hists">{"".join(panels)}</div>'


def marker(slot: int) -> str:
    """The shape of the points of the class in `slot` on the map (a key of MAP_MARKERS)."""
    return list(MAP_MARKERS)[slot // len(PALETTE) % len(MAP_MARKERS)]


def _point(shape: str, x: float, y: float, radius: float, attrs: str, tip: str) -> str:
    """One map point at (x, y), of the area of a circle of `radius`, with `attrs` and a tooltip."""
    half = radius * math.sqrt(math.pi) / 2  # half the side of a square of that area
    if shape == "circle":
        tag, at = "circle", f'cx="{x:.1f}" cy="{y:.1f}" r="{radius}"'
    elif shape == "square":
        side = f"{2 * half:.1f}"
        tag, at = "rect", f'x="{x - half:.1f}" y="{y - half:.1f}" width="{side}" height="{side}"'
    else:  # diamond: the square on its corner
        d = half * math.sqrt(2)
        corners = f"{x:.1f},{y - d:.1f} {x + d:.1f},{y:.1f} {x:.1f},{y + d:.1f} {x - d:.1f},{y:.1f}"
        tag, at = "polygon", f'points="{corners}"'
    return f"<{tag} {at}{attrs}><title>{tip}</title></{tag}>"


def legend_note(n: int) -> str:
    """What tells the classes apart on the map when colours alone cannot, `n` one more than
    their highest slot; "" when colours can."""
    colours, shapes = len(PALETTE), list(MAP_MARKERS.values())
    if n <= colours:
        return ""
    used = ", ".join(shapes[: -(-n // colours)])
    note = f"{colours} colours: past {colours} classes the shape changes too ({used})"
    if n > colours * len(shapes):
        note += f"; past {colours * len(shapes)}, colours and shapes repeat"
    return note + ". Hover a point to see its class."


def map_svg(
    coords: np.ndarray, rows: np.ndarray, snap: Snapshot, paths: list[str], *, predictions: bool
) -> str:
    """Points of `rows` at `coords` (N, 2) in [0, 1]: hand labels large and outlined, accepted
    predictions medium, unlabeled ones small, by prediction (faded by confidence) or grey. A
    class's colour and shape (`marker`) are the same in the legend."""
    pad = 12
    span = MAP_SIZE - 2 * pad
    dots = []
    for r in rows.tolist():
        x = pad + coords[r, 0] * span
        y = pad + (1 - coords[r, 1]) * span
        label, pred = int(snap.label[r]), int(snap.pred[r])
        if label != NO_CLASS and snap.accepted[r]:
            k, radius, extra = label, 4.0, ""
            tip = f"{paths[r]}: {snap.classes[label]} (accepted prediction)"
        elif label != NO_CLASS:
            k, radius, extra = label, 5.5, ' class="labeled"'
            tip = f"{paths[r]}: {snap.classes[label]}"
        elif predictions and pred != NO_CLASS:
            opacity = 0.25 + 0.6 * float(snap.conf[r])
            k, radius, extra = pred, 3.5, f' fill-opacity="{opacity:.2f}"'
            tip = f"{paths[r]}: predicted {snap.classes[pred]} ({snap.conf[r]:.0%})"
        else:
            k, radius, extra = NO_CLASS, 3.0, ""
            tip = f"{paths[r]}: unlabeled"
        if k == NO_CLASS:
            shape, fill = "circle", UNLABELED_COLOUR
        else:
            shape, fill = marker(snap.slots[k]), colour(snap.slots[k])
        attrs = f' fill="{fill}"{extra} data-path="{esc(paths[r])}"'
        dots.append(_point(shape, x, y, radius, attrs, esc(tip)))
    legend = "".join(
        f'<span><span class="chip {marker(slot)}" style="background:{colour(slot)}"></span>'
        f"{esc(name)}</span>"
        for name, slot in snap.slot_of.items()
    )
    note = legend_note(max(snap.slots, default=-1) + 1)
    return (
        f'<div class="legend">{legend}</div>'
        + (f'<div class="muted legend-note">{note}</div>' if note else "")
        + f'<svg class="map" viewBox="0 0 {MAP_SIZE} {MAP_SIZE}" role="img" '
        f'aria-label="map of the images">{"".join(dots)}</svg>'
    )


CURVE_W, CURVE_H, CURVE_PAD = 420, 170, 26  # px
CURVE_LEFT = 40  # px left of the plot, for the accuracy ticks
CURVE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)  # accuracy gridlines; every other one labeled


def learning_curve_svg(
    points: list[tuple[int, float, float, float]], *, current: int | None = None
) -> str:
    """Estimated accuracy (with its 95% band) against the number of hand labels, 0–100% on a
    fixed scale (a flat curve looks flat), a dot per estimate with its figures as a tooltip.
    `points`: one per number of labels, fewest first (`estimates.by_label_count`); the dot of
    `current` labels, those now, is drawn larger."""
    if len(points) < 2:
        return ""
    points = sorted(points, key=lambda p: p[0])  # a line from left to right
    n = np.array([p[0] for p in points], dtype=float)
    acc, low, high = (np.array([p[k] for p in points]) for k in (1, 2, 3))
    span = max(n.max() - n.min(), 1.0)

    def x(i: int) -> float:
        return CURVE_LEFT + (n[i] - n.min()) / span * (CURVE_W - CURVE_LEFT - CURVE_PAD)

    def y(value: float) -> float:
        return CURVE_PAD + (1 - value) * (CURVE_H - 2 * CURVE_PAD)

    band = [f"{x(i):.1f},{y(high[i]):.1f}" for i in range(len(n))] + [
        f"{x(i):.1f},{y(low[i]):.1f}" for i in reversed(range(len(n)))
    ]
    line = " ".join(f"{x(i):.1f},{y(acc[i]):.1f}" for i in range(len(n)))
    grid = "".join(
        f'<line x1="{CURVE_LEFT}" x2="{CURVE_W - CURVE_PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
        'class="axis"/>'
        for v in CURVE_GRID
    ) + "".join(
        f'<text x="{CURVE_LEFT - 6}" y="{y(v) + 4:.1f}" class="tick end">{v:.0%}</text>'
        for v in CURVE_GRID[::2]
    )

    def dot(i: int) -> str:
        now = n[i] == current
        figures = f"about {acc[i]:.0%} right (95% interval {low[i]:.0%}–{high[i]:.0%})"
        return (
            f'<circle cx="{x(i):.1f}" cy="{y(acc[i]):.1f}" r="{5 if now else 3}" '
            f'class="dot{" current" if now else ""}"><title>{int(n[i])} labels'
            f"{' (now)' if now else ''}: {figures}</title></circle>"
        )

    dots = "".join(dot(i) for i in range(len(n)))
    bottom = CURVE_H - 6
    return (
        f'<svg class="curve" viewBox="0 0 {CURVE_W} {CURVE_H}" width="{CURVE_W}" '
        f'height="{CURVE_H}" role="img" aria-label="learning curve">'
        f'<text x="{CURVE_LEFT}" y="14" class="title">estimated accuracy vs hand labels</text>'
        f"{grid}"
        f'<polygon points="{" ".join(band)}" class="band"/>'
        f'<polyline points="{line}" class="line"/>{dots}'
        f'<text x="{CURVE_LEFT}" y="{bottom}" class="tick">{int(n.min())}</text>'
        f'<text x="{(CURVE_LEFT + CURVE_W - CURVE_PAD) / 2:.0f}" y="{bottom}" class="tick mid">'
        "labels</text>"
        f'<text x="{CURVE_W - CURVE_PAD}" y="{bottom}" class="tick end">{int(n.max())}</text>'
        "</svg>"
    )
