"""What the grid marks as "fits no class" on the bundled demo images, end to end.

    python -m labeler.bench.demo_ood [--labeled trouser bag sandal sneaker] [--per-class 14]

Builds a project on assets/demo in a temporary folder (the default offline backbone), labels the
first `--per-class` images (by file name) of each `--labeled` class, and prints how many of the
unlabeled images the browser marks, split by whether their true class (assets/demo_truth.csv) was
labeled. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"
TRUTH = ROOT / "assets" / "demo_truth.csv"


def marked(labeled: list[str], per_class: int) -> tuple[int, int, int, int]:
    """(marked, total) unlabeled images of the other classes, then of the labeled classes."""
    from labeler.project import Project

    with TRUTH.open(newline="", encoding="utf-8") as f:
        truth = {r["path"]: r["label"] for r in csv.DictReader(f)}
    unknown = sorted(set(labeled) - set(truth.values()))
    if unknown:
        raise SystemExit(f"no demo class {unknown}; choose from {sorted(set(truth.values()))}")
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = Project.init(Path(tmp) / "demo", images=DEMO, progress=False)
        try:
            picks = [
                p for c in labeled for p in sorted(q for q in truth if truth[q] == c)[:per_class]
            ]
            project.label([(p, truth[p]) for p in picks], annotator="bench")
            wb = project.workbench()
            snap = wb.snapshot()
            rows = np.flatnonzero(~snap.labeled)
            known = np.array([truth[wb.paths[r]] in labeled for r in rows])
            flags = snap.ood[rows] if snap.ood is not None else np.zeros(len(rows), dtype=bool)
        finally:
            project.close()
    return (
        int(flags[~known].sum()),
        int((~known).sum()),
        int(flags[known].sum()),
        int(known.sum()),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labeled", nargs="+", default=["trouser", "bag", "sandal", "sneaker"])
    p.add_argument("--per-class", type=int, default=14)
    args = p.parse_args(argv)
    other, others, kept, knowns = marked(args.labeled, args.per_class)
    print(f"labeled: {args.per_class} images of each of {', '.join(args.labeled)}")
    print(
        f"marked 'fits no class': {other} of {others} images of the other classes, "
        f"{kept} of {knowns} unlabeled images of the labeled classes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
