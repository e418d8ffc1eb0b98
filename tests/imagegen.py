"""Tiny seeded images for tests: planted colour classes, and the bad files users meet."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from labeler.bench.dicomgen import write_dicom

BOMB_SIDE = 30_000
COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (40, 60, 200)}


def noise_rgb(height: int, width: int, seed: int = 0) -> Image.Image:
    """A (height, width) RGB image of uniform uint8 noise."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def coloured(colour: tuple[int, int, int], *, seed: int, size: int = 24) -> Image.Image:
    """A size x size RGB image of one colour with seeded noise (±30 per channel)."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(colour, dtype=np.int16) + rng.integers(-30, 31, size=(size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def write_colour_set(folder: Path, per_class: int, *, start_seed: int = 0) -> dict[str, str]:
    """Write per_class PNGs of each class in COLOURS; return {relative path: class}."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for k, (name, colour) in enumerate(COLOURS.items()):
        for i in range(per_class):
            seed = start_seed + 1000 * k + i
            path = f"img_{seed:05d}.png"
            coloured(colour, seed=seed).save(folder / path)
            truth[path] = name
    return truth


def write_multi_frame_set(folder: Path) -> dict[str, int]:
    """Write images of several frames, and two single-frame PNGs, under folder; return
    {relative path: frames} of the multi-frame ones: a 3-page TIFF, a 2-frame animated PNG, a
    2-frame animated WebP and an uncompressed DICOM of 4 frames (NumberOfFrames 4). Also a JPEG
    with a second image (MPO, as phones write a depth map): one photo, not a series."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = {"stack.tif": 3, "cine.png": 2, "clip.webp": 2}
    for seed, (name, n) in enumerate(frames.items()):
        first, *rest = (noise_rgb(12, 10, seed=10 * seed + k) for k in range(n))
        first.save(folder / name, save_all=True, append_images=rest)
    pixels = np.random.default_rng(7).integers(0, 256, size=(4, 12, 10), dtype=np.uint8)
    write_dicom(folder / "loop.dcm", pixels)
    for seed in (1, 2):
        noise_rgb(12, 10, seed=100 + seed).save(folder / f"still_{seed}.png")
    photo, depth = noise_rgb(12, 10, seed=200), noise_rgb(12, 10, seed=201)  # a phone's MPO JPEG
    photo.save(folder / "phone.jpg", format="MPO", save_all=True, append_images=[depth])
    return frames | {"loop.dcm": 4}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png_bytes(side: int = BOMB_SIDE) -> bytes:
    """A valid side x side 1-bit PNG of zeros (~100 KB) built without allocating the pixels."""
    row = bytes(1 + (side + 7) // 8)  # filter byte, then packed bits
    compressor = zlib.compressobj(1)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def write_bad_files(folder: Path, bomb: bytes | None = None) -> dict[str, Path]:
    """Bad image candidates written under folder, keyed by a short name."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "source.png.bin"
    noise_rgb(48, 48, seed=3).save(good, format="PNG")
    data = good.read_bytes()
    good.unlink()
    files = {
        "empty": folder / "empty.png",
        "truncated": folder / "truncated.png",
        "text_as_jpg": folder / "x.jpg",
        "bomb": folder / "bomb.png",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["text_as_jpg"].write_text("this is not a picture\n", encoding="utf-8")
    files["bomb"].write_bytes(bomb if bomb is not None else bomb_png_bytes())
    return files


def write_jpeg_dicom(path: Path, pixels: np.ndarray, quality: int = 95) -> Path:
    """Write `pixels` as a DICOM file whose pixel data is one JPEG baseline frame (Pillow's
    encoder), encapsulated as a PACS stores it.

    pixels: (H, W) uint8 greyscale (MONOCHROME2) or (H, W, 3) uint8 RGB (stored as JPEG's
    YCbCr with subsampled colour: YBR_FULL_422).
    """
    import io

    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds = pydicom.dcmread(write_dicom(path, pixels, "RGB" if pixels.ndim == 3 else "MONOCHROME2"))
    jpeg = io.BytesIO()
    Image.fromarray(pixels).save(jpeg, format="JPEG", quality=quality)
    ds.PixelData = encapsulate([jpeg.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    if pixels.ndim == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.save_as(path, enforce_file_format=True)
    return path
