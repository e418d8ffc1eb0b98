"""Open image files safely: header probe with a pixel limit, integrity check, full decode to RGB.

Every failure becomes a labeler.errors.ImageError whose message is the short reason sentence
that a scan records for a skipped file. PIL's global ImageFile.LOAD_TRUNCATED_IMAGES is never
changed, so a truncated file raises instead of being silently padded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from labeler.config import MAX_PIXELS
from labeler.errors import ImageError
from labeler.ingest.dicom import inspect_dicom, is_dicom, load_dicom
from labeler.ingest.reasons import short_detail, too_large_reason
from labeler.ingest.tonemap import to_rgb8

ORIENTATION_TAG = 0x0112  # EXIF orientation; values 5..8 swap width and height
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_PIL_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _pil_bomb_check_off() -> Iterator[None]:
    """Switch off PIL's own decompression-bomb check while a header is read.

    We apply `max_pixels` to the header size ourselves, with a clearer message and a limit the
    caller chooses. PIL's limit is process-global, so it is changed under a lock and restored.
    """
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def describe_failure(exc: BaseException) -> str:
    """Turn an exception raised while reading an image into a short reason sentence."""
    if isinstance(exc, ImageError):
        return str(exc)
    if isinstance(exc, UnidentifiedImageError):
        return "not an image: cannot identify image file"
    if isinstance(exc, Image.DecompressionBombError):
        return f"image too large: {short_detail(exc)}"
    if isinstance(exc, PermissionError):
        return "cannot read file: permission denied (make it readable, e.g. chmod a+r)"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"cannot read file: {exc.strerror or short_detail(exc)}"
    return f"truncated or corrupt image: {short_detail(exc)}"


def _check_file(path: Path) -> None:
    """Raise ImageError when `path` is missing, not a regular file, or empty."""
    try:
        if not path.exists():
            raise ImageError(f"no such file: {path} (deleted or moved since it was listed?)")
        if not path.is_file():
            raise ImageError(f"not a file: {path} (a folder or a device, not an image)")
        if path.stat().st_size == 0:
            raise ImageError("empty file (0 bytes)")
    except OSError as exc:
        raise ImageError(describe_failure(exc)) from exc


def open_checked(path: Path, *, max_pixels: int) -> Image.Image:
    """Open `path` lazily (header only, no decode) and refuse more than `max_pixels` pixels.

    Returns an unloaded PIL image that the caller must close. Raises ImageError.
    """
    try:
        with _pil_bomb_check_off():
            image = Image.open(path)
    except Exception as exc:
        raise ImageError(describe_failure(exc)) from exc
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageError(too_large_reason(width, height, max_pixels))
    return image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8) of an unloaded image, read without decoding pixels.

    PNG keeps EXIF after the pixel data at times, and PIL then decodes the whole image to find
    it; such late EXIF is ignored here. Unreadable EXIF counts as no orientation (1).
    """
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def probe_with_identity(
    path: Path | str, *, max_pixels: int = MAX_PIXELS, dicom: bool | None = None
) -> tuple[int, int, str | None, int]:
    """Check an image file without decoding its pixels; return its upright (width, height),
    for a DICOM file its `dicom.pixel_identity` (None for other files), and its number of
    frames (DICOM NumberOfFrames, the pages of a TIFF, the frames of an animated WebP or
    PNG; 1 for a still image), from one reading of its header.

    Reads the header, applies the pixel limit, then runs PIL's `verify()` (for PNG this checks
    every chunk's CRC, which catches truncated files). `dicom` says whether the file is DICOM
    when the caller knows it already (a scan has read the first bytes); None: found out here.
    Raises ImageError with the reason.
    """
    path = Path(path)
    _check_file(path)
    dicom = is_dicom(path) if dicom is None else dicom
    if dicom:
        return inspect_dicom(path, max_pixels=max_pixels)
    image = open_checked(path, max_pixels=max_pixels)
    try:
        width, height = image.size
        if _orientation(image) in _SWAPPING_ORIENTATIONS:
            width, height = height, width
        # From the frame headers: no pixels decoded. A JPEG's extra images (MPO: a phone's
        # depth map, a stereo pair's other eye) are no frames of a series: the photo is one.
        frames = 1 if image.format == "MPO" else getattr(image, "n_frames", 1)
        image.verify()
    except Exception as exc:
        raise ImageError(describe_failure(exc)) from exc
    finally:
        image.close()
    return width, height, None, frames


def _upright(image: Image.Image) -> Image.Image:
    """A copy of a loaded image with its EXIF orientation applied; a plain copy if EXIF is bad."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image.copy()


def load_image(path: Path | str, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an image file fully into an upright 8-bit RGB PIL image (first frame only).

    DICOM files are rendered by `labeler.ingest.dicom`. EXIF orientation is applied; 16-bit and
    float greyscale are stretched to 0..255 between the 0.5 and 99.5 percentiles; transparency
    is composited on white; palette, greyscale, CMYK and the like become RGB. Raises ImageError
    with the reason sentence for a missing, empty, truncated, corrupt, non-image or too large
    (> `max_pixels` pixels) file.
    """
    path = Path(path)
    _check_file(path)
    if is_dicom(path):
        return Image.fromarray(load_dicom(path, max_pixels=max_pixels))
    with open_checked(path, max_pixels=max_pixels) as raw:
        try:
            raw.load()
            return to_rgb8(_upright(raw))
        except Exception as exc:
            raise ImageError(describe_failure(exc)) from exc
