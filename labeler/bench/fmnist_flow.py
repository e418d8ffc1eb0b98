"""The new user's flow on real images, through the command line, with the accuracy it reaches.

    python -m labeler.bench.fmnist_flow [--n 2000] [--shots 5] [--method protonet] [--seed 0]

Writes n Fashion-MNIST test images as PNG files, then runs `labeler init`, `label` (shots images
per class), `predict` and `export`, and prints the share of correct auto labels.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from labeler.bench.fmnist import balanced_sample, load_fashion_mnist, write_pngs
from labeler.cli import main as cli


def run(*, n: int, shots: int, method: str, seed: int, workdir: Path) -> float:
    images, labels = load_fashion_mnist("test")
    idx = balanced_sample(labels, n // 10, seed=seed)
    truth = dict(write_pngs(workdir / "images", images[idx], labels[idx], prefix="fmnist"))
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[str]] = {}
    for path, label in truth.items():
        by_class.setdefault(label, []).append(path)
    support = [(p, c) for c, paths in by_class.items() for p in rng.choice(paths, shots, False)]
    with (workdir / "labels.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *support])

    project, out = str(workdir / "project"), workdir / "export.csv"
    for argv in (
        ["init", project, "--images", str(workdir / "images")],
        ["label", project, "--csv", str(workdir / "labels.csv")],
        ["predict", project, "--method", method],
        ["export", project, str(out)],
    ):
        t0 = time.perf_counter()
        if cli(argv) != 0:
            raise SystemExit(f"labeler {argv[0]} failed")
        print(f"  labeler {argv[0]}: {time.perf_counter() - t0:.1f} s")
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    auto = [r for r in rows if r["source"] == "auto"]
    human = [r for r in rows if r["source"] == "human"]
    correct = sum(r["label"] == truth[r["path"]] for r in auto)
    print(f"rows {len(rows)} (of {n} images), human {len(human)}, auto {len(auto)}")
    accuracy = correct / max(1, len(auto))
    print(f"auto-label accuracy: {accuracy:.1%} ({correct}/{len(auto)})")
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--method", default="protonet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labeler-flow-") as tmp:
        run(n=args.n, shots=args.shots, method=args.method, seed=args.seed, workdir=Path(tmp))


if __name__ == "__main__":
    main()
