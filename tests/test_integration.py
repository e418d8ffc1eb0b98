"""End to end on real images (the bundled demo set) with the real offline backbone, through the CLI.

The folder is seeded with the bad files users meet; they must be reported and every good image
exported.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from imagegen import write_bad_files

from labeler.cli import main

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SHOTS = 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("real") / "images"
    shutil.copytree(ASSETS / "demo", folder)
    with (ASSETS / "demo_truth.csv").open(newline="") as f:
        truth = {r["path"]: r["label"] for r in csv.DictReader(f)}
    odd = "sub dir/ünïcødé 名前 (1).png"
    (folder / "sub dir").mkdir()
    first = sorted(truth)[0]
    shutil.copy(folder / first, folder / odd)
    truth[odd] = truth[first]
    write_bad_files(folder / "bad")
    return folder, truth


def test_real_images_flow(demo, tmp_path: Path, capsys) -> None:
    folder, truth = demo
    project = str(tmp_path / "project")
    assert main(["init", project, "--images", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{len(truth)} images" in out and "efficientnet_lite0@112" in out
    assert "skipped 4 files" in out
    for name in ("empty.png", "truncated.png", "x.jpg", "bomb.png"):
        assert f"bad/{name}: " in out

    rng = np.random.default_rng(0)
    by_class: dict[str, list[str]] = {}
    for path, label in sorted(truth.items()):
        by_class.setdefault(label, []).append(path)
    support = [(p, c) for c, ps in by_class.items() for p in rng.choice(ps, SHOTS, replace=False)]
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *support])
    assert main(["label", project, "--csv", str(labels)]) == 0
    assert main(["predict", project]) == 0
    export = tmp_path / "export.csv"
    assert main(["export", project, str(export)]) == 0
    with export.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["path"] for r in rows) == sorted(truth)
    auto = [r for r in rows if r["source"] == "auto"]
    assert sum(r["source"] == "human" for r in rows) == len(support)
    accuracy = np.mean([r["label"] == truth[r["path"]] for r in auto])
    assert accuracy >= 0.5, f"auto-label accuracy {accuracy:.1%} on real images"
    # Re-running init on the same folder embeds nothing new.
    capsys.readouterr()
    assert main(["init", project, "--images", str(folder)]) == 0
    assert "embedded 0 with" in capsys.readouterr().out
