"""DICOM files: header checks without decoding, and rendering to 8-bit RGB as a viewer shows it.

A file is DICOM when its name ends in `.dcm` or `.dicom`, or when it has no extension and carries
the DICOM magic bytes (PACS exports often name files `IM0001`). Rendering follows the standard's
greyscale pipeline: the modality rescale (slope, intercept), then the file's own VOI LUT or
window (centre, width) when it has one, else a robust stretch between the 0.5 and 99.5
percentiles (as for other 16-bit images); MONOCHROME1 is inverted so that bone is white.
Colour (RGB, YBR, palette) becomes RGB. Multi-frame files give their first frame. Only pixels
are read: nothing from the header (patient data included) is stored or exported.

Compressed pixel data is decoded by pydicom's plugins: Pillow (JPEG baseline, JPEG 2000) and
python-gdcm (JPEG lossless, JPEG-LS and the rest); a file whose compression has no decoder
installed is skipped with a reason that says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labeler.errors import ImageError
from labeler.ingest.reasons import short_detail, too_large_reason
from labeler.ingest.tonemap import stretch_to_uint8

DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
_MAGIC_OFFSET, _MAGIC = 128, b"DICM"  # after the 128-byte preamble of a DICOM file
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def is_dicom(path: Path) -> bool:
    """Whether `path` is read as DICOM: by its suffix, or, with no suffix, by its magic bytes."""
    suffix = path.suffix.lower()
    if suffix:
        return suffix in DICOM_SUFFIXES
    try:
        with open(path, "rb") as f:
            head = f.read(_MAGIC_OFFSET + len(_MAGIC))
    except OSError:
        return False
    return head[_MAGIC_OFFSET:] == _MAGIC


def probe_dicom(path: Path, *, max_pixels: int) -> tuple[int, int]:
    """(width, height) of a DICOM image after checking, without decoding, that it can be
    decoded: pixel data present and, when uncompressed, complete; at most `max_pixels` pixels a
    frame; a decoder installed for its compression. Raises ImageError with the reason."""
    ds = _read(path)
    _check(ds, max_pixels=max_pixels)
    return int(ds.Columns), int(ds.Rows)


def load_dicom(path: Path, *, max_pixels: int) -> np.ndarray:
    """The first frame of a DICOM image, rendered: (H, W, 3) uint8 RGB. Raises ImageError."""
    from pydicom.pixels import pixel_array

    ds = _read(path)
    _check(ds, max_pixels=max_pixels)
    try:
        frame = pixel_array(ds, index=0)
        return _render(frame, ds)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"cannot decode DICOM pixel data: {short_detail(exc)}") from exc


def _read(path: Path):
    """The parsed DICOM dataset of `path` (pixel bytes read, not decoded)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise ImageError(
            "not a DICOM file: no DICOM header (a .dcm name, or the DICM marker, but other content)"
        ) from exc
    except OSError:
        raise  # reported by the caller like any file that cannot be read
    except Exception as exc:
        raise ImageError(f"truncated or corrupt DICOM file: {short_detail(exc)}") from exc


def _check(ds, *, max_pixels: int) -> None:
    """Raise ImageError unless dataset `ds` holds pixel data that can be decoded in full."""
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise ImageError(
            "DICOM file without pixel data (a report, directory or other non-image object)"
        )
    rows, columns = ds.get("Rows"), ds.get("Columns")
    if not rows or not columns:
        raise ImageError("DICOM file without image size (Rows, Columns); it may be corrupt")
    if rows * columns > max_pixels:
        raise ImageError(too_large_reason(int(columns), int(rows), max_pixels))
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise ImageError("DICOM file without a transfer syntax in its header; it may be corrupt")
    _check_decodable(ds, syntax)


def _check_decodable(ds, syntax) -> None:
    """Raise ImageError when no installed decoder reads `syntax`, or native data is short."""
    from pydicom.pixels import get_decoder
    from pydicom.pixels.utils import get_expected_length

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise ImageError(
            f"DICOM pixel data in an unsupported transfer syntax {syntax.name} ({syntax})"
        ) from exc
    if not decoder.is_available:
        raise ImageError(
            f"cannot decode DICOM pixel data compressed as {syntax.name}: no decoder installed "
            "(pip install python-gdcm)"
        )
    if syntax.is_compressed or "PixelData" not in ds:
        return
    try:
        expected = get_expected_length(ds, unit="bytes")
    except Exception as exc:
        raise ImageError(f"DICOM image description is invalid: {short_detail(exc)}") from exc
    if len(ds.PixelData) < expected:
        raise ImageError(
            f"truncated DICOM file: pixel data has {len(ds.PixelData)} of {expected} bytes"
        )


def _render(frame: np.ndarray, ds) -> np.ndarray:
    """One decoded frame (H, W) or (H, W, 3) of any dtype → (H, W, 3) uint8 RGB."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(frame, ds)  # uint8 or uint16 entries, by the palette's bit depth
        return _linear(rgb[..., :3], 0.0, float(np.iinfo(rgb.dtype).max))
    if frame.ndim == 3:  # RGB (YBR is converted to RGB by pydicom)
        return _linear(frame[..., :3], 0.0, float(2 ** int(ds.get("BitsStored", 8)) - 1))
    grey = _grey(frame, ds)
    if photometric == "MONOCHROME1":  # low values are white
        grey = 255 - grey
    return np.repeat(grey[..., None], 3, axis=2)


def _grey(frame: np.ndarray, ds) -> np.ndarray:
    """(H, W) stored values → (H, W) uint8: modality rescale, then VOI LUT, window or stretch."""
    from pydicom.pixels import apply_modality_lut, apply_voi

    values = apply_modality_lut(frame, ds)
    if "VOILUTSequence" in ds:
        lut = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64)
        return _linear(apply_voi(values, ds), float(lut.min()), float(lut.max()))
    window = _window(ds)
    if window is not None:
        centre, width = window
        # DICOM PS3.3 C.11.2.1.2.1, LINEAR: [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] spans 0..255.
        low = centre - 0.5 - (width - 1) / 2
        return _linear(values, low, low + width - 1)
    return stretch_to_uint8(values)


def _window(ds) -> tuple[float, float] | None:
    """The first (centre, width) of the file's window, or None when absent or unusable."""
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is None or width is None:
        return None
    try:
        centre, width = (float(v[0] if hasattr(v, "__len__") else v) for v in (centre, width))
    except (TypeError, ValueError, IndexError):
        return None
    return (centre, width) if width > 1 and np.isfinite(centre) else None


def _linear(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map [low, high] linearly to 0..255 (clipped): any shape → the same shape, uint8."""
    if high <= low:
        return stretch_to_uint8(values)
    scaled = (np.asarray(values, dtype=np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
