"""`python -m labeler.bench` / `labeler bench`: the few-shot benchmark against the peers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from labeler.bench.fewshot import DATASETS, OUR_METHODS, evaluate, make_task
from labeler.bench.peers import PEERS

DEFAULT_SHOTS = (1, 5, 10, 20)
DEFAULT_SEEDS = 10
DEFAULT_OUT = Path("bench-results")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--shots", nargs="+", type=int, default=list(DEFAULT_SHOTS))
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="tasks per setting")
    p.add_argument("--ways", type=int, default=None, help="classes per task (default: all)")
    p.add_argument("--methods", nargs="*", default=list(OUR_METHODS), help="our heads")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the CSV and plot")


def run(args: argparse.Namespace) -> int:
    from labeler.bench.report import headline, plot, summarise, table, write_csv

    args.out.mkdir(parents=True, exist_ok=True)
    methods = list(args.methods) + list(args.peers)
    settings = [(d, k, s) for d in args.datasets for k in args.shots for s in range(args.seeds)]
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
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
