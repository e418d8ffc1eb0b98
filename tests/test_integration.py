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


def _as_dicom(png: Path, out: Path, *, inverted: bool) -> None:
    """`png` (8-bit greyscale) as a 16-bit DICOM whose window renders it back exactly: stored
    values 0..255 under window centre 128, width 256 (DICOM's LINEAR window then maps x to x);
    `inverted` stores 255 − x as MONOCHROME1, which the viewer's inversion undoes."""
    from imagegen import write_dicom
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.uint16)
    photometric = "MONOCHROME1" if inverted else "MONOCHROME2"
    stored = (255 - pixels if inverted else pixels).astype(np.uint16)
    write_dicom(out, stored, photometric, WindowCenter=128, WindowWidth=256)


def test_dicom_copies_of_real_images_are_labeled_like_the_originals(
    demo, tmp_path: Path, capsys
) -> None:
    """40 demo images as PNG and as DICOM (windowed 16-bit `.dcm`, and extensionless inverted
    MONOCHROME1 as from a PACS export): the same labels give the same auto-labels."""
    folder, truth = demo
    chosen = sorted(p for p in truth if "/" not in p)[:40]
    pngs, dicoms = tmp_path / "png", tmp_path / "dicom"
    pngs.mkdir()
    dicoms.mkdir()
    name = {}  # PNG name -> DICOM name
    for i, p in enumerate(chosen):
        shutil.copy(folder / p, pngs / p)
        name[p] = f"IM{i:04d}" if i % 2 else f"{Path(p).stem}.dcm"
        _as_dicom(folder / p, dicoms / name[p], inverted=bool(i % 2))
    support = chosen[::4]
    exported = {}
    for kind, images, rename in (("png", pngs, lambda p: p), ("dicom", dicoms, name.get)):
        project, labels = str(tmp_path / f"p-{kind}"), tmp_path / f"{kind}.csv"
        with labels.open("w", newline="") as f:
            csv.writer(f).writerows([("path", "label"), *((rename(p), truth[p]) for p in support)])
        assert main(["init", project, "--images", str(images)]) == 0
        assert main(["label", project, "--csv", str(labels)]) == 0
        assert main(["predict", project]) == 0
        assert main(["export", project, str(tmp_path / f"{kind}-out.csv")]) == 0
        with (tmp_path / f"{kind}-out.csv").open(newline="", encoding="utf-8") as f:
            exported[kind] = {r["path"]: (r["label"], r["source"]) for r in csv.DictReader(f)}
    assert "skipped" not in capsys.readouterr().out
    assert len(exported["dicom"]) == len(chosen)
    assert {p: exported["dicom"][name[p]] for p in chosen} == exported["png"]
