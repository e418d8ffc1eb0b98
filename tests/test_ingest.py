"""Tests for labeler.ingest: folder scan, safe header checks and decoding to 8-bit RGB."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from imagegen import BOMB_SIDE, bomb_png_bytes, noise_rgb, write_bad_files, write_multi_frame_set
from PIL import Image, ImageFile

from labeler.errors import ImageError, LabelerError
from labeler.ingest import ImageFile as IngestedImage
from labeler.ingest import ScanResult, Skipped, load_image, scan
from labeler.ingest.tonemap import stretch_to_uint8


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def bomb_bytes() -> bytes:
    return bomb_png_bytes()


@pytest.fixture
def bad_files(tmp_path: Path, bomb_bytes: bytes) -> dict[str, Path]:
    """Bad image candidates written under tmp_path/bad, keyed by a short name."""
    return write_bad_files(tmp_path / "bad", bomb_bytes)


def _by_path(result: ScanResult) -> tuple[dict[str, IngestedImage], dict[str, Skipped]]:
    return {i.path: i for i in result.images}, {s.path: s for s in result.skipped}


# ----- scan: good files ----------------------------------------------------------------------


def test_scan_accepts_every_supported_format_with_header_sizes(tmp_path: Path) -> None:
    noise_rgb(10, 20, seed=1).save(tmp_path / "a.png")
    noise_rgb(11, 21, seed=2).save(tmp_path / "b.JPG", format="JPEG")
    noise_rgb(12, 22, seed=3).save(tmp_path / "c.bmp")
    noise_rgb(13, 23, seed=4).save(tmp_path / "d.webp")
    noise_rgb(14, 24, seed=5).save(tmp_path / "e.tiff")
    result = scan(tmp_path, progress=False)
    assert result.skipped == []
    sizes = {i.path: (i.width, i.height) for i in result.images}
    assert sizes == {
        "a.png": (20, 10),
        "b.JPG": (21, 11),
        "c.bmp": (22, 12),
        "d.webp": (23, 13),
        "e.tiff": (24, 14),
    }
    for item in result.images:
        assert item.abs_path.is_absolute() and item.abs_path.is_file()
        assert item.size == item.abs_path.stat().st_size
        assert item.hash == hashlib.sha256(item.abs_path.read_bytes()).hexdigest()


def test_scanning_png_and_jpeg_files_opens_none_to_look_for_dicom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labeler.ingest import dicom

    def refuse(file: object, *_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"opened {file} to look for DICOM bytes")

    monkeypatch.setattr(dicom, "open", refuse, raising=False)
    noise_rgb(8, 8, seed=1).save(tmp_path / "a.png")
    noise_rgb(8, 8, seed=2).save(tmp_path / "b.jpg")
    assert [i.path for i in scan(tmp_path, progress=False).images] == ["a.png", "b.jpg"]


def test_content_checked_before_is_only_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rescan probes only new content: known hashes keep their size, and a changed file (new
    bytes under an old name) is probed again."""
    import sys

    scanning = sys.modules["labeler.ingest.scan"]  # the module: labeler.ingest.scan is its function

    noise_rgb(8, 6, seed=1).save(tmp_path / "a.png")
    noise_rgb(5, 4, seed=2).save(tmp_path / "b.png")
    first = {i.path: i for i in scan(tmp_path, progress=False).images}
    known = {i.hash: (i.width, i.height, i.pixels) for i in first.values()}
    probed = []
    probe = scanning.probe_with_identity
    monkeypatch.setattr(
        scanning, "probe_with_identity", lambda path, **kw: probed.append(path) or probe(path, **kw)
    )
    again = {i.path: i for i in scan(tmp_path, progress=False, known=known).images}
    assert probed == [] and again == first
    noise_rgb(7, 3, seed=3).save(tmp_path / "b.png")  # other bytes, same name
    again = {i.path: i for i in scan(tmp_path, progress=False, known=known).images}
    assert [p.name for p in probed] == ["b.png"]
    assert (again["b.png"].width, again["b.png"].height) == Image.open(tmp_path / "b.png").size


def test_scan_paths_are_relative_posix_sorted_and_skip_hidden(tmp_path: Path) -> None:
    sub = tmp_path / "sub dir"
    sub.mkdir()
    noise_rgb(8, 8).save(sub / "é 1.png")
    noise_rgb(8, 8, seed=9).save(tmp_path / "z.png")
    noise_rgb(8, 8, seed=8).save(tmp_path / "A.png")
    (tmp_path / ".hidden").mkdir()
    noise_rgb(8, 8).save(tmp_path / ".hidden" / "secret.png")
    noise_rgb(8, 8).save(tmp_path / ".dot.png")
    result = scan(str(tmp_path), progress=False)
    assert [i.path for i in result.images] == ["A.png", "sub dir/é 1.png", "z.png"]
    assert result.skipped == []


def test_duplicate_bytes_share_a_hash_and_different_bytes_do_not(tmp_path: Path) -> None:
    noise_rgb(16, 16, seed=1).save(tmp_path / "one.png")
    (tmp_path / "copy.png").write_bytes((tmp_path / "one.png").read_bytes())
    noise_rgb(16, 16, seed=2).save(tmp_path / "other.png")
    images, _ = _by_path(scan(tmp_path, progress=False))
    assert images["one.png"].hash == images["copy.png"].hash
    assert images["one.png"].hash != images["other.png"].hash
    assert len(images["one.png"].hash) == 64


def test_symlink_loop_is_not_followed_forever(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    noise_rgb(8, 8).save(tmp_path / "inner" / "p.png")
    os.symlink(tmp_path, tmp_path / "inner" / "loop")
    images, skipped = _by_path(scan(tmp_path, progress=False))
    assert list(images) == ["inner/p.png"]
    assert "already scanned" in skipped["inner/loop"].reason


def test_progress_bar_goes_to_stderr_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    noise_rgb(8, 8).save(tmp_path / "p.png")
    scan(tmp_path, progress=False)
    quiet = capsys.readouterr()
    scan(tmp_path, progress=True)
    loud = capsys.readouterr()
    assert quiet.err == "" and quiet.out == "" and loud.out == ""
    assert "Scanning images" in loud.err


def test_progress_bar_counts_every_file_the_scan_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Images and skipped files alike, also those skipped by type before any is opened."""
    noise_rgb(8, 8, seed=1).save(tmp_path / "one.png")
    (tmp_path / "copy.png").write_bytes((tmp_path / "one.png").read_bytes())
    (tmp_path / "broken.png").write_bytes(b"no png")
    (tmp_path / "notes.bin").write_bytes(b"no image")  # skipped by type in the walk
    (tmp_path / "notes.txt").write_text("left out unlisted")
    result = scan(tmp_path, progress=True)
    assert (len(result.images), len(result.skipped)) == (2, 2)
    bar = capsys.readouterr().err.split("\r")[-1]
    assert "| 4/4 [" in bar


# ----- scan: bad files -----------------------------------------------------------------------


def test_scan_skips_each_bad_file_with_its_reason(
    tmp_path: Path, bad_files: dict[str, Path]
) -> None:
    noise_rgb(8, 8).save(tmp_path / "bad" / "good.png")
    (tmp_path / "bad" / "photo.heic").write_text("hello", encoding="utf-8")
    (tmp_path / "bad" / "README").write_text("hello", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's DecompressionBombWarning must not leak
        images, skipped = _by_path(scan(tmp_path, progress=False))
    assert list(images) == ["bad/good.png"]
    reasons = {path.removeprefix("bad/"): s.reason for path, s in skipped.items()}
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["x.jpg"] == "not an image: cannot identify image file"
    assert reasons["truncated.png"].startswith("truncated or corrupt image: ")
    assert reasons["bomb.png"] == (
        "image too large: 30000x30000 pixels exceeds the limit of 100,000,000, which keeps a "
        "decode from filling the memory; downscale the image or crop its region"
    )
    assert reasons["photo.heic"].startswith("unsupported file type '.heic' (supported: .bmp, ")
    assert reasons["README"].startswith("unsupported file type (no extension)")
    assert [s.path for s in skipped.values()] == sorted(skipped)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # PIL's global limit is restored


JUNK = [
    "Thumbs.db", "desktop.ini", "DESKTOP.INI", ".DS_Store", "._one.png", "~$labels.xlsx",
    "~$notes", "labels.csv", "notes.txt", "meta.json", "study.xml", "README.md", "report.pdf",
    "a.doc", "a.docx", "b.xls", "b.XLSX", "all.zip", "run.log", "setup.ini", "cache.db",
    "convert.py", "index.html",
]  # fmt: skip


def test_operating_system_junk_and_documents_are_left_out_unlisted(
    tmp_path: Path, bad_files: dict[str, Path]
) -> None:
    """Junk is never listed as skipped (it would bury real problems on every rescan); broken
    images, unsupported image types and files with no or an odd extension still are: DICOM
    files are found by their content under such names."""
    from imagegen import write_dicom

    noise_rgb(8, 8).save(tmp_path / "one.png")
    sub = tmp_path / "sub"
    sub.mkdir()
    for name in [*JUNK, "IM0001", "scan.dat", "photo.heic"]:
        (sub / name).write_text("not an image", encoding="utf-8")
    ramp = np.arange(64, dtype=np.uint16).reshape(8, 8)
    for name in ("IM0002", "1.2.840.113619.2.55.3.320"):  # DICOM without a DICOM extension
        write_dicom(sub / name, ramp)
    images, skipped = _by_path(scan(tmp_path, progress=False))
    assert sorted(images) == ["one.png", "sub/1.2.840.113619.2.55.3.320", "sub/IM0002"]
    assert sorted(skipped) == sorted(
        [f"bad/{p.name}" for p in bad_files.values()]
        + ["sub/IM0001", "sub/photo.heic", "sub/scan.dat"]
    )


def test_max_pixels_is_the_callers_limit_not_pils(tmp_path: Path, bomb_bytes: bytes) -> None:
    (tmp_path / "big.png").write_bytes(bomb_bytes)
    noise_rgb(40, 40).save(tmp_path / "small.png")
    roomy = scan(tmp_path, max_pixels=10**9, progress=False)
    assert [(i.path, i.width, i.height) for i in roomy.images] == [
        ("big.png", BOMB_SIDE, BOMB_SIDE),
        ("small.png", 40, 40),
    ]
    tight = scan(tmp_path, max_pixels=1_000, progress=False)
    assert tight.images == []
    assert "40x40 pixels exceeds the limit of 1,000" in tight.skipped[1].reason


def test_unreadable_file_is_skipped_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noise_rgb(8, 8).save(tmp_path / "locked.png")

    def deny(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", deny)
    result = scan(tmp_path, progress=False)
    assert result.images == []
    assert result.skipped[0].path == "locked.png"
    assert "permission denied" in result.skipped[0].reason


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_root_raises_one_clear_labeler_error(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "nowhere"
    if kind == "file":
        root = tmp_path / "one.png"
        noise_rgb(4, 4).save(root)
    with pytest.raises(
        LabelerError, match=r"images (folder not found|path is not a folder)"
    ) as info:
        scan(root, progress=False)
    assert str(root) in str(info.value)


# ----- load_image ----------------------------------------------------------------------------


def test_load_image_bad_files_raise_image_error(bad_files: dict[str, Path]) -> None:
    expected = {
        "empty": "empty file (0 bytes)",
        "truncated": "truncated or corrupt image: ",
        "text_as_jpg": "not an image: cannot identify image file",
        "bomb": "image too large: 30000x30000 pixels",
    }
    for name, path in bad_files.items():
        with pytest.raises(ImageError) as info:
            load_image(path)
        assert str(info.value).startswith(expected[name]), name


def test_truncated_jpeg_raises_instead_of_padding(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jpg"
    noise_rgb(64, 64).save(whole, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    assert load_image(whole).size == (64, 64)
    with pytest.raises(ImageError, match="truncated or corrupt image"):
        load_image(cut)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_load_image_rgb_roundtrip_is_exact_for_lossless(tmp_path: Path) -> None:
    source = noise_rgb(9, 7, seed=5)
    source.save(tmp_path / "n.png")
    loaded = load_image(tmp_path / "n.png")
    assert loaded.mode == "RGB"
    assert np.array_equal(np.asarray(loaded), np.asarray(source))


def test_sixteen_bit_tiff_uses_full_range_and_keeps_order(tmp_path: Path) -> None:
    values = _rng(7).permutation(4096).reshape(64, 64).astype(np.uint16)  # 12-bit in 16-bit
    Image.fromarray(values).save(tmp_path / "micro.tif")
    assert Image.open(tmp_path / "micro.tif").mode.startswith("I;16")
    loaded = load_image(tmp_path / "micro.tif")
    grey = np.asarray(loaded)[..., 0]
    assert loaded.mode == "RGB" and grey.dtype == np.uint8
    assert grey.min() == 0 and grey.max() == 255
    assert np.all(np.diff(grey.ravel()[np.argsort(values.ravel())].astype(int)) >= 0)
    assert len(np.unique(grey)) > 200  # not collapsed to a few levels


@pytest.mark.parametrize("dtype", [">u2", "<i4", "<f4"])
def test_stretch_handles_other_depths_and_constant_images(dtype: str) -> None:
    ramp = np.arange(1000, 1000 + 400, dtype=dtype).reshape(20, 20)
    out = stretch_to_uint8(ramp)
    assert out.dtype == np.uint8 and out.shape == (20, 20)
    assert out[0, 0] == 0 and out[-1, -1] == 255
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero warning
        flat = stretch_to_uint8(np.full((5, 6), 300, dtype=dtype))
    assert flat.shape == (5, 6) and not flat.any()


def test_stretch_maps_nan_to_zero() -> None:
    data = np.array([[np.nan, 0.0], [1.0, 2.0]], dtype=np.float32)
    out = stretch_to_uint8(data)
    assert out[0].tolist() == [0, 0] and out[1, 1] == 255
    assert out[1, 0] in (127, 128)


def test_rgba_transparent_pixel_becomes_white(tmp_path: Path) -> None:
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 0] = 200  # red, opaque except one fully transparent pixel
    pixels[..., 3] = 255
    pixels[0, 0, 3] = 0
    Image.fromarray(pixels, mode="RGBA").save(tmp_path / "a.png")
    rgb = np.asarray(load_image(tmp_path / "a.png"))
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[1, 1].tolist() == [200, 0, 0]


def test_palette_and_greyscale_become_rgb(tmp_path: Path) -> None:
    palette = noise_rgb(6, 6, seed=2).quantize(colors=4)
    palette.save(tmp_path / "p.png")
    grey = Image.fromarray(np.arange(36, dtype=np.uint8).reshape(6, 6), mode="L")
    grey.save(tmp_path / "g.png")
    loaded_palette = load_image(tmp_path / "p.png")
    loaded_grey = np.asarray(load_image(tmp_path / "g.png"))
    assert loaded_palette.mode == "RGB"
    assert np.array_equal(np.asarray(loaded_palette), np.asarray(palette.convert("RGB")))
    assert loaded_grey.shape == (6, 6, 3)
    assert np.array_equal(loaded_grey[..., 2], np.arange(36).reshape(6, 6))


def test_exif_orientation_6_swaps_width_and_height(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    noise_rgb(20, 40).save(tmp_path / "r.jpg", exif=exif)
    assert Image.open(tmp_path / "r.jpg").size == (40, 20)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)
    (item,) = scan(tmp_path, progress=False).images
    assert (item.width, item.height) == (20, 40)  # scan reports the upright size too


def test_multiframe_tiff_loads_first_frame(tmp_path: Path) -> None:
    first, second = noise_rgb(5, 5, seed=1), noise_rgb(5, 5, seed=2)
    first.save(tmp_path / "stack.tif", save_all=True, append_images=[second])
    assert Image.open(tmp_path / "stack.tif").n_frames == 2
    assert np.array_equal(np.asarray(load_image(tmp_path / "stack.tif")), np.asarray(first))


def test_scan_counts_the_frames_of_new_content(tmp_path: Path) -> None:
    """Multi-page TIFF, animated PNG and WebP, multi-frame DICOM: their frames counted from the
    header; content known from a previous scan is not probed, so not counted again (1)."""
    frames = write_multi_frame_set(tmp_path)
    found = scan(tmp_path, progress=False).images
    stills = {"still_1.png": 1, "still_2.png": 1, "phone.jpg": 1}
    assert {i.path: i.frames for i in found} == frames | stills
    known = {i.hash: (i.width, i.height, i.pixels) for i in found}
    assert {i.frames for i in scan(tmp_path, progress=False, known=known).images} == {1}


def test_cmyk_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (3, 2), (0, 255, 255, 0)).save(tmp_path / "c.tif")
    rgb = load_image(tmp_path / "c.tif")
    assert rgb.mode == "RGB" and rgb.size == (3, 2)
    assert rgb.getpixel((0, 0)) == (255, 0, 0)


def test_load_image_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"no such file: .*absent\.png \(deleted or moved"):
        load_image(tmp_path / "absent.png")
    with pytest.raises(ImageError, match=r"not a file: .* \(a folder or a device"):
        load_image(tmp_path)
