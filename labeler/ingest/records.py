"""The records that a folder scan produces: accepted images, skipped files and their reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImageFile:
    """An image file that passed the scan's checks and can be decoded with `load_image`.

    `path` is relative to the scanned root with forward slashes; `hash` is the sha256 hex digest
    of the file bytes, so renamed or duplicated files share it. `width` and `height` are the
    size that `load_image` returns, i.e. after the EXIF orientation is applied. `pixels`, for a
    DICOM file, is the digest of its image alone (`labeler.ingest.dicom.pixel_identity`), which
    header edits keep; None for other files. `frames`: how many frames the file holds (a
    multi-frame DICOM, multi-page TIFF, animated WebP or PNG), of which only the first is
    shown, embedded and labeled; counted only for content the scan probed, 1 for content it knew
    from before (see `scan`'s `known`).
    """

    path: str
    abs_path: Path
    hash: str
    size: int
    width: int
    height: int
    pixels: str | None = None
    frames: int = 1


# What a project knows of content it has checked: (width, height, DICOM pixel identity or None).
Known = tuple[int, int, str | None]


@dataclass(frozen=True)
class Skipped:
    """A file that the scan left out, with a short human sentence saying why."""

    path: str
    reason: str


@dataclass
class ScanResult:
    """Everything a scan found: `images` and `skipped`, each sorted by `path`."""

    images: list[ImageFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
