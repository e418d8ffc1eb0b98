"""Summaries of the few-shot benchmark: the table, the headline against the best peer, the plot.

Records are dicts with keys dataset, shots, method, seed and the figures of `fewshot.score`.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from labeler.bench.peers import PEERS
from labeler.wording import plural

HEADLINE_DATASETS = ("fmnist-balanced", "fmnist-longtail")
HEADLINE_SHOTS = (1, 5)
DEFAULT_METHOD = "auto"
FEW_SEEDS = 5  # fewer seeds give a t-interval too wide to compare methods by (t > 2.8)


def summarise(records: list[dict]) -> dict[tuple[str, int, str], dict[str, float]]:
    """(dataset, shots, method) → mean figures, the accuracy's 95% t-interval half-width, n."""
    groups: dict[tuple[str, int, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["dataset"], int(r["shots"]), r["method"])].append(r)
    out = {}
    for key, rows in groups.items():
        acc = np.array([r["accuracy"] for r in rows], dtype=np.float64)
        half = 0.0
        if len(acc) > 1:
            half = float(stats.t.ppf(0.975, len(acc) - 1) * acc.std(ddof=1) / math.sqrt(len(acc)))
        figures = {
            name: float(np.nanmean([r[name] for r in rows]))
            if not all(np.isnan(r[name]) for r in rows)
            else float("nan")
            for name in rows[0]
            if name not in ("dataset", "shots", "method", "seed")
        }
        out[key] = figures | {"ci95": half, "n": len(rows)}
    return out


def table(summary: dict) -> str:
    """One block per (dataset, shots), methods by falling accuracy; percentages.

    `floor` is the ECE that perfectly calibrated confidences would show on as many rows
    (`ece_noise_floor`): the part of ECE that is sampling noise, not miscalibration.
    """
    lines = []
    header = (
        f"{'method':28s} {'accuracy':>15s} {'ECE':>6s} {'floor':>6s} {'prec@.9':>8s} "
        f"{'cov@.9':>7s} {'prec@95%':>9s} {'cov@95%':>8s} {'time s':>7s}"
    )
    for dataset, shots in sorted({(d, s) for d, s, _ in summary}):
        rows = {m: f for (d, s, m), f in summary.items() if (d, s) == (dataset, shots)}
        n = next(iter(rows.values()))["n"]
        lines += ["", f"{dataset}, {shots}-shot ({plural(n, 'seed')})", header]
        for method, f in sorted(rows.items(), key=lambda item: -item[1]["accuracy"]):
            target = "" if method in PEERS else f"{_pct(f['target_precision']):>9s}"
            target_cov = "" if method in PEERS else f"{_pct(f['target_coverage']):>8s}"
            lines.append(
                f"{method:28s} {100 * f['accuracy']:7.2f} ± {_half_width(f):>5s} "
                f"{f['ece']:6.3f} {f['ece_floor']:6.3f} {_pct(f['precision']):>8s} "
                f"{_pct(f['coverage']):>7s} "
                f"{target or '':>9s} {target_cov or '':>8s} {f['seconds']:7.2f}"
            )
    fewest = min((f["n"] for f in summary.values()), default=FEW_SEEDS)
    if fewest < FEW_SEEDS:
        none = "; from 1 seed there is none (-)" if fewest == 1 else ""
        lines += [
            "",
            f"± is a 95% t-interval over the seeds, wide from fewer than {FEW_SEEDS} (here as few "
            f"as {fewest}){none}: run --seeds {FEW_SEEDS} or more for figures to compare",
        ]
    return "\n".join(lines)


def headline(summary: dict, *, method: str = DEFAULT_METHOD) -> tuple[str, list[float]]:
    """`method` against the best peer in each headline setting; the text and the gaps (points)."""
    lines, gaps = [], []
    for dataset in HEADLINE_DATASETS:
        for shots in HEADLINE_SHOTS:
            rows = {m: f for (d, s, m), f in summary.items() if (d, s) == (dataset, shots)}
            peers = {m: f["accuracy"] for m, f in rows.items() if m in PEERS}
            if method not in rows or not peers:
                continue
            best = max(peers, key=peers.get)
            gap = 100 * (rows[method]["accuracy"] - peers[best])
            gaps.append(gap)
            lines.append(
                f"{dataset:16s} {shots:2d}-shot: {method} {100 * rows[method]['accuracy']:.2f} vs "
                f"best peer {best} {100 * peers[best]:.2f}: {gap:+.2f} points"
            )
    if gaps:
        lines.append(f"mean gap {np.mean(gaps):+.2f} points, smallest {min(gaps):+.2f}")
    return "\n".join(lines), gaps


def write_csv(records: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def plot(summary: dict, path: Path, *, highlight: tuple[str, ...] = (DEFAULT_METHOD,)) -> None:
    """Accuracy against shots, one panel per dataset; ours in colour, the peers in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({d for d, _, _ in summary})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        methods = sorted({m for d, _, m in summary if d == dataset})
        for method in methods:
            points = sorted(
                (s, f) for (d, s, m), f in summary.items() if (d, m) == (dataset, method)
            )
            shots = [s for s, _ in points]
            acc = np.array([100 * f["accuracy"] for _, f in points])
            ci = np.array([100 * f["ci95"] for _, f in points])
            if method in highlight:
                ax.errorbar(shots, acc, yerr=ci, marker="o", lw=2.5, label=method, zorder=3)
            elif method in PEERS:
                ax.plot(shots, acc, color="grey", lw=1, alpha=0.6, marker=".", label=method)
            else:
                ax.plot(shots, acc, lw=1, ls="--", marker=".", label=method)
        ax.set_xscale("log")
        ax.set_xticks(sorted({s for d, s, _ in summary if d == dataset}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_title(dataset)
        ax.set_xlabel("labeled images per class")
        ax.set_ylabel("accuracy, %")
        ax.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=7, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _half_width(figures: dict) -> str:
    """The accuracy's interval half-width in points, "-" from one seed (no interval)."""
    return "-" if figures["n"] < 2 else f"{100 * figures['ci95']:.2f}"


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"
