"""Charts drawn as inline SVG on the server: nothing to load from outside, crisp at any size."""

from __future__ import annotations

import numpy as np

from labeler.live import NO_CLASS, Snapshot
from labeler.ui.settings import UNLABELED_COLOUR
from labeler.ui.views import colour, esc

HIST_W, HIST_H, HIST_PAD = 260, 110, 22  # one small multiple, px
MAP_SIZE = 640  # px, square


def histograms_svg(hists: dict[str, np.ndarray], classes: tuple[str, ...], threshold: float) -> str:
    """One confidence histogram per class, bars at or above `threshold` solid, below faded."""
    if not hists:
        return '<div class="muted">Histograms appear once two classes have labels.</div>'
    panels = []
    for name, counts in hists.items():
        k = classes.index(name)
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
                f'height="{h:.1f}" fill="{colour(k)}" opacity="{1 if above else 0.35}">'
                f"<title>{n} images at {b / bins:.2f}–{(b + 1) / bins:.2f}</title></rect>"
            )
        tx = HIST_PAD + threshold * (HIST_W - 2 * HIST_PAD)
        panels.append(
            f'<svg class="hist" viewBox="0 0 {HIST_W} {HIST_H}" width="{HIST_W}" '
            f'height="{HIST_H}" role="img" aria-label="confidence of {esc(name)}">'
            f'<text x="{HIST_PAD}" y="14" class="title">{esc(name)} · {int(counts.sum()):,} '
            f"predicted</text>{''.join(bars)}"
            f'<line x1="{HIST_PAD}" x2="{HIST_W - HIST_PAD}" y1="{HIST_H - HIST_PAD}" '
            f'y2="{HIST_H - HIST_PAD}" class="axis"/>'
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{HIST_PAD - 4}" y2="{HIST_H - HIST_PAD}" '
            'class="threshold"/>'
            f'<text x="{HIST_PAD}" y="{HIST_H - 6}" class="tick">0</text>'
            f'<text x="{HIST_W - HIST_PAD}" y="{HIST_H - 6}" class="tick end">1</text></svg>'
        )
    return f'<div class="hists">{"".join(panels)}</div>'


def map_svg(
    coords: np.ndarray, rows: np.ndarray, snap: Snapshot, paths: list[str], *, predictions: bool
) -> str:
    """Points of `rows` at `coords` (N, 2) in [0, 1]: hand labels large and outlined, accepted
    predictions medium, unlabeled ones small, by prediction (faded by confidence) or grey."""
    pad = 12
    span = MAP_SIZE - 2 * pad
    dots = []
    for r in rows.tolist():
        x = pad + coords[r, 0] * span
        y = pad + (1 - coords[r, 1]) * span
        label, pred = int(snap.label[r]), int(snap.pred[r])
        if label != NO_CLASS and snap.accepted[r]:
            fill, radius, extra = colour(label), 4.0, ""
            tip = f"{paths[r]}: {snap.classes[label]} (accepted prediction)"
        elif label != NO_CLASS:
            fill, radius, extra = colour(label), 5.5, ' class="labeled"'
            tip = f"{paths[r]}: {snap.classes[label]}"
        elif predictions and pred != NO_CLASS:
            opacity = 0.25 + 0.6 * float(snap.conf[r])
            fill, radius, extra = colour(pred), 3.5, f' fill-opacity="{opacity:.2f}"'
            tip = f"{paths[r]}: predicted {snap.classes[pred]} ({snap.conf[r]:.0%})"
        else:
            fill, radius, extra = UNLABELED_COLOUR, 3.0, ""
            tip = f"{paths[r]}: unlabeled"
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}"{extra} '
            f'data-path="{esc(paths[r])}"><title>{esc(tip)}</title></circle>'
        )
    legend = "".join(
        f'<span><span class="chip" style="background:{colour(k)}"></span>{esc(name)}</span>'
        for k, name in enumerate(snap.classes)
    )
    return (
        f'<div class="legend">{legend}</div>'
        f'<svg class="map" viewBox="0 0 {MAP_SIZE} {MAP_SIZE}" role="img" '
        f'aria-label="map of the images">{"".join(dots)}</svg>'
    )


CURVE_W, CURVE_H, CURVE_PAD = 320, 120, 26  # px


def learning_curve_svg(points: list[tuple[int, float, float, float]]) -> str:
    """Estimated accuracy (with its 95% band) against the number of labels."""
    if len(points) < 2:
        return ""
    n = np.array([p[0] for p in points], dtype=float)
    acc, low, high = (np.array([p[k] for p in points]) for k in (1, 2, 3))
    span = max(n.max() - n.min(), 1.0)

    def xy(i: int, value: float) -> str:
        x = CURVE_PAD + (n[i] - n.min()) / span * (CURVE_W - 2 * CURVE_PAD)
        return f"{x:.1f},{CURVE_PAD + (1 - value) * (CURVE_H - 2 * CURVE_PAD):.1f}"

    band = [xy(i, high[i]) for i in range(len(n))] + [
        xy(i, low[i]) for i in reversed(range(len(n)))
    ]
    line = " ".join(xy(i, acc[i]) for i in range(len(n)))
    return (
        f'<svg class="curve" viewBox="0 0 {CURVE_W} {CURVE_H}" width="{CURVE_W}" '
        f'height="{CURVE_H}" role="img" aria-label="learning curve">'
        f'<polygon points="{" ".join(band)}" class="band"/>'
        f'<polyline points="{line}" class="line"/>'
        f'<text x="{CURVE_PAD}" y="14" class="title">estimated accuracy vs labels</text>'
        f'<text x="{CURVE_PAD}" y="{CURVE_H - 6}" class="tick">{int(n.min())}</text>'
        f'<text x="{CURVE_W - CURVE_PAD}" y="{CURVE_H - 6}" class="tick end">{int(n.max())}</text>'
        "</svg>"
    )
