"""`python -m labeler.bench` / `labeler bench`: the few-shot benchmark against the peers.

With `--active`, the active-learning simulation instead (`python -m labeler.bench.active`): every
argument after the flag goes to that benchmark (`--active --help` lists them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from labeler.bench.fewshot import DATASETS, OUR_METHODS, evaluate, feasible_settings, make_task
from labeler.bench.peers import PEERS
from labeler.cliargs import int_at_least
from labeler.errors import LabelerError

DEFAULT_SHOTS = (1, 5, 10, 20)
DEFAULT_SEEDS = 10
DEFAULT_OUT = Path("bench-results")
ACTIVE_PROG = "labeler bench --active"  # how the active benchmark's usage line names itself here


class _ActiveArguments(argparse.Action):
    """`--active ARG…`: keep the arguments after the flag for the active-learning benchmark, and
    refuse few-shot options given before it (they would be ignored)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        given = [
            "--" + dest.replace("_", "-")
            for dest, value in vars(namespace).items()
            if dest != self.dest and value != parser.get_default(dest)
        ]
        if given:
            parser.error(
                f"{option_string} runs the active-learning benchmark, which takes none of the "
                f"few-shot options, but got {' '.join(given)} before it; put that benchmark's "
                f"own options after {option_string} (see {option_string} --help)"
            )
        setattr(namespace, self.dest, values)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--datasets",
        nargs="+",
        default=list(DATASETS),
        choices=list(DATASETS),
        metavar="NAME",
        help=f"pools to draw tasks from (default all: {', '.join(DATASETS)})",
    )
    p.add_argument(
        "--shots",
        nargs="+",
        type=int_at_least(1),
        default=list(DEFAULT_SHOTS),
        help=f"labeled images per class (default {' '.join(map(str, DEFAULT_SHOTS))})",
    )
    p.add_argument(
        "--seeds",
        type=int_at_least(1),
        default=DEFAULT_SEEDS,
        help=f"tasks per setting (default {DEFAULT_SEEDS})",
    )
    p.add_argument(
        "--ways", type=int_at_least(2), default=None, help="classes per task (default: all)"
    )
    p.add_argument(
        "--methods", nargs="*", default=list(OUR_METHODS), help="our heads (default all)"
    )
    p.add_argument(
        "--peers",
        nargs="*",
        default=list(PEERS),
        choices=list(PEERS),
        metavar="NAME",
        help=f"peers run on the same tasks (default all: {', '.join(PEERS)}); none: --peers",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the CSV and plot (default {DEFAULT_OUT})",
    )
    p.add_argument(
        "--active",
        nargs=argparse.REMAINDER,
        action=_ActiveArguments,
        help="run the active-learning simulation instead (python -m labeler.bench.active), "
        "passing it every argument after this flag, e.g. --active --seeds 3 --strategies "
        "auto,random; --active --help lists them",
    )


def run(args: argparse.Namespace) -> int:
    if args.active is not None:
        from labeler.bench.active import main as run_active

        return run_active(args.active, prog=ACTIVE_PROG)
    return run_fewshot(args)


def run_fewshot(args: argparse.Namespace) -> int:
    from labeler.bench.report import headline, plot, summarise, table, write_csv
    from labeler.heads import available_heads

    unknown = [m for m in args.methods if m not in available_heads()]
    if unknown:
        raise LabelerError(
            f"unknown method {', '.join(map(repr, unknown))} in --methods; available: "
            f"{', '.join(available_heads())}"
        )
    pairs, notes = feasible_settings(args.datasets, args.shots)
    for note in notes:
        print(note, file=sys.stderr)
    if not pairs:
        raise LabelerError("no setting left to run; choose smaller --shots")
    args.out.mkdir(parents=True, exist_ok=True)
    methods = list(args.methods) + list(args.peers)
    settings = [(d, k, s) for d, k in pairs for s in range(args.seeds)]
    records = []
    for dataset, shots, seed in tqdm(settings, desc="tasks", unit="task", file=sys.stderr):
        task = make_task(dataset, shots, seed, ways=args.ways)
        for method in methods:
            figures = evaluate(method, task)
            records.append(
                {"dataset": dataset, "shots": shots, "method": method, "seed": seed} | figures
            )
    summary = summarise(records)
    write_csv(records, args.out / "fewshot.csv")
    plot(summary, args.out / "fewshot-accuracy.png")
    print(table(summary))
    text, _ = headline(summary)
    if text:
        print("\n" + text)
    print(
        f"\nper-task figures in {args.out / 'fewshot.csv'}, plot in {args.out}/fewshot-accuracy.png"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labeler.bench", description=__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except LabelerError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
