"""Active-learning simulation: an oracle labels what a strategy suggests, batch by batch.

    python -m labeler.bench.active [--rounds 5] [--batch 10] [--seeds 5] [--strategies auto]
                                   [--pools balanced,long-tailed] [--plot active.png]

Each seed draws a pool of real Fashion-MNIST test embeddings (balanced: `--per-class` images of
each class; long-tailed: class sizes falling geometrically from `--max-per-class` by
`--imbalance`). Each strategy starts from zero labels; every round it suggests `--batch` images,
the ground truth labels them, and the project's default head is fitted on all labels so far and
scored on the unlabeled rest. `random` labels the same budget uniformly at random; strategies
that need predictions (margin, …) take random batches until two classes are labeled. The curves
(mean over seeds, with 95% t-intervals) are printed and plotted, with the ratio of areas under
the curve and the final gap against random, and how well the accuracy estimate made from the
labels alone (`labeler.active.stopping`) tracked the truth: its mean error and mean |error|, how
often its 95% interval held the true accuracy, and the interval's mean width.
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from labeler.active import available_strategies, create_strategy, make_pool
from labeler.active.stopping import estimate_auto_label_accuracy
from labeler.cliargs import HELP_WIDTH, int_at_least
from labeler.heads import DEFAULT_HEAD

RANDOM = "random"  # the baseline: not a strategy of the app, so not in the registry
POOLS = ("balanced", "long-tailed")


@dataclass(frozen=True)
class Curve:
    """One simulated labeling session; arrays (R,) over rounds."""

    n_labels: np.ndarray  # int64 labels after each round
    accuracy: np.ndarray  # float64 share of correct auto-labels on the unlabeled rest
    estimate: np.ndarray  # float64 estimated accuracy from the labels alone (nan: none yet)
    covered: np.ndarray  # float64 estimate's 95% interval contains the accuracy (nan: none)
    width: np.ndarray  # float64 width of that interval (nan: none)
    classes_found: np.ndarray  # int64 classes with at least one label


def simulate(
    raw: np.ndarray,
    y: np.ndarray,
    strategy: str,
    *,
    rounds: int,
    batch: int,
    seed: int,
    head: str = DEFAULT_HEAD,
) -> Curve:
    """Label `rounds` batches of `batch` suggested by `strategy` (or RANDOM) from the truth y.

    Args:
        raw: (N, D) float32 embeddings; y: (N,) int64 true classes.
    """
    chooser = None if strategy == RANDOM else create_strategy(strategy)
    rng = np.random.default_rng(seed)
    names = np.char.mod("c%d", y).astype(object)
    rows = np.empty(0, dtype=np.int64)
    pool = make_pool(raw, rows, [], head=head, seed=seed)
    out: dict[str, list] = {k: [] for k in ("n", "acc", "est", "cov", "width", "found")}
    for _ in range(rounds):
        cold = chooser is not None and (chooser.needs_proba or chooser.needs_committee)
        if chooser is None or (cold and pool.proba is None):  # uncertainty starts at random
            picks = rng.choice(np.flatnonzero(~pool.labeled), batch, replace=False)
        else:
            picks = np.array([s.index for s in chooser.suggest(pool, batch)], dtype=np.int64)
        rows = np.concatenate([rows, picks])
        pool = make_pool(raw, rows, names[rows], head=head, seed=seed, unit=pool.vectors)
        rest = ~pool.labeled
        if pool.proba is None:  # one class labeled: everything is that class
            predicted, confidence = np.full(rest.sum(), pool.classes[0], dtype=object), None
        else:
            predicted = np.asarray(pool.classes, dtype=object)[pool.proba[rest].argmax(axis=1)]
            confidence = pool.proba[rest].max(axis=1)
        accuracy = float(np.mean(predicted == names[rest]))
        est = None
        if confidence is not None:
            est = estimate_auto_label_accuracy(
                raw, rows, names[rows], confidence, head=head, seed=seed
            )
        out["n"].append(len(rows))
        out["acc"].append(accuracy)
        out["est"].append(np.nan if est is None else est.accuracy)
        out["cov"].append(np.nan if est is None else float(est.low <= accuracy <= est.high))
        out["width"].append(np.nan if est is None else est.high - est.low)
        out["found"].append(len(np.unique(y[rows])))
    return Curve(
        n_labels=np.asarray(out["n"], dtype=np.int64),
        accuracy=np.asarray(out["acc"]),
        estimate=np.asarray(out["est"]),
        covered=np.asarray(out["cov"]),
        width=np.asarray(out["width"]),
        classes_found=np.asarray(out["found"], dtype=np.int64),
    )


def draw_pool(
    y: np.ndarray,
    kind: str,
    *,
    seed: int,
    per_class: int = 300,
    max_per_class: int = 500,
    imbalance: float = 10.0,
) -> np.ndarray:
    """(M,) int64 sorted indices of a balanced or long-tailed pool drawn from labels y."""
    from labeler.bench.data import long_tailed_indices

    if kind == "long-tailed":
        return long_tailed_indices(y, imbalance=imbalance, max_per_class=max_per_class, seed=seed)
    if kind != "balanced":
        raise ValueError(f"unknown pool {kind!r}; choose from {', '.join(POOLS)}")
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def mean_interval(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, R) per seed → mean (R,) and the half-width (R,) of its 95% t-interval over seeds."""
    s = len(values)
    if s < 2:
        return values.mean(axis=0), np.zeros(values.shape[1])
    half = stats.t.ppf(0.975, s - 1) * values.std(axis=0, ddof=1) / np.sqrt(s)
    return values.mean(axis=0), half


def summarise(curves: dict[str, list[Curve]]) -> list[str]:
    """Printable lines: mean curves with intervals, area ratio and final gap against random."""
    lines = []
    base_runs = np.array([c.accuracy for c in curves[RANDOM]]) if RANDOM in curves else None
    base = None if base_runs is None else base_runs.mean(axis=0)
    for name, runs in curves.items():
        acc = np.array([c.accuracy for c in runs])
        mean, half = mean_interval(acc)
        points = "  ".join(f"{m:.3f}±{h:.3f}" for m, h in zip(mean, half, strict=True))
        found = np.mean([c.classes_found for c in runs], axis=0)
        lines.append(f"  {name:16s} {points}   classes found {' '.join(f'{f:.1f}' for f in found)}")
        if base is not None and name != RANDOM:
            # Same pools and seeds as random: intervals of the paired differences.
            _, ratio_half = mean_interval((acc.mean(axis=1) / base_runs.mean(axis=1))[:, None])
            gap, gap_half = mean_interval(100 * (acc - base_runs))
            lines.append(
                f"  {'':16s} area {mean.mean() / base.mean():.3f}× random (±{ratio_half[0]:.3f}), "
                f"final {gap[-1]:+.1f}±{gap_half[-1]:.1f} points, first batch "
                f"{gap[0]:+.1f}±{gap_half[0]:.1f} points"
            )
        err = np.array([c.estimate - c.accuracy for c in runs])
        if np.isfinite(err).any():
            cov = np.array([c.covered for c in runs])
            width = np.array([c.width for c in runs])
            lines.append(
                f"  {'':16s} estimate from labels: mean error {100 * np.nanmean(err):+.1f}, "
                f"mean |error| {100 * np.nanmean(np.abs(err)):.1f} points, 95% interval "
                f"(mean width {100 * np.nanmean(width):.1f} points) held the truth "
                f"{np.nanmean(cov):.0%} of {int(np.isfinite(cov).sum())} times"
            )
    return lines


def plot(results: dict[str, dict[str, list[Curve]]], out: Path) -> None:
    """One panel per pool: mean accuracy against labels with 95% bands, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (pool, curves) in zip(axes[0], results.items(), strict=True):
        for name, runs in curves.items():
            x = runs[0].n_labels
            mean, half = mean_interval(np.array([c.accuracy for c in runs]))
            ax.plot(x, mean, marker="o", label=name)
            ax.fill_between(x, mean - half, mean + half, alpha=0.2)
        ax.set(title=f"{pool} pool", xlabel="expert labels", ylabel="accuracy of auto-labels")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


EXAMPLES = (  # arguments after the command, in its --help
    "--seeds 10       # auto against random, 10 pools each",
    "--strategies margin,typiclust --pools long-tailed",
)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The benchmark's options, each with its help, and examples after them; `prog` names the
    command in its usage line and examples."""
    prog = prog or "python -m labeler.bench.active"
    p = argparse.ArgumentParser(
        prog=prog,
        description=textwrap.fill(__doc__.split("\n\n")[0], HELP_WIDTH),
        epilog="\n".join(["examples:", *(f"  {prog} {e}" for e in EXAMPLES)]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    positive = int_at_least(1)
    p.add_argument(
        "--rounds", type=positive, default=5, help="batches labeled in each session (default 5)"
    )
    p.add_argument(
        "--batch", type=positive, default=10, help="images labeled in each round (default 10)"
    )
    p.add_argument(
        "--seeds",
        type=positive,
        default=5,
        help="pools drawn and sessions run per strategy, for the mean and its 95%% interval "
        "(default 5)",
    )
    p.add_argument(
        "--strategies",
        default="auto",
        help=f"comma-separated, of: {', '.join(available_strategies())} (default auto); random, "
        "the baseline, is always run",
    )
    p.add_argument(
        "--pools",
        default=",".join(POOLS),
        help=f"comma-separated pools to run on, of: {', '.join(POOLS)} (default both)",
    )
    p.add_argument(
        "--per-class",
        type=positive,
        default=300,
        help="images of each class in the balanced pool (default 300)",
    )
    p.add_argument(
        "--max-per-class",
        type=positive,
        default=500,
        help="images of the largest class in the long-tailed pool (default 500)",
    )
    p.add_argument(
        "--imbalance",
        type=float,
        default=10.0,
        help="largest over smallest class size in the long-tailed pool (default 10)",
    )
    p.add_argument(
        "--head",
        default=DEFAULT_HEAD,
        help=f"the head fitted after each round, a `labeler predict --method` (default "
        f"{DEFAULT_HEAD})",
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=Path("active.png"),
        help="PNG file for the curves, one panel per pool (default active.png)",
    )
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    from labeler.bench.data import fmnist_embeddings

    x, y = fmnist_embeddings("test")
    names = [RANDOM, *(s for s in args.strategies.split(",") if s and s != RANDOM)]
    results: dict[str, dict[str, list[Curve]]] = {}
    for kind in args.pools.split(","):
        results[kind] = {name: [] for name in names}
        for seed in range(args.seeds):
            idx = draw_pool(
                y,
                kind,
                seed=seed,
                per_class=args.per_class,
                max_per_class=args.max_per_class,
                imbalance=args.imbalance,
            )
            for name in names:
                results[kind][name].append(
                    simulate(
                        x[idx],
                        y[idx],
                        name,
                        rounds=args.rounds,
                        batch=args.batch,
                        seed=seed,
                        head=args.head,
                    )
                )
        n_pool = len(idx)
        print(
            f"{kind} pool (~{n_pool} images), head {args.head}, {args.seeds} seeds, accuracy after "
            f"{', '.join(map(str, results[kind][RANDOM][0].n_labels))} labels (mean ± 95%):"
        )
        print("\n".join(summarise(results[kind])), flush=True)
    plot(results, args.plot)
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
