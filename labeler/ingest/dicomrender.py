"""Rendering a decoded DICOM frame as a viewer shows it: (H, W) or (H, W, 3) stored values of
any dtype → (H, W, 3) uint8 RGB.

The standard's greyscale pipeline: the modality rescale (slope, intercept), then the file's own
VOI LUT or window (centre, width, and its function: LINEAR, LINEAR_EXACT or SIGMOID) when it has
a usable one, else a robust stretch between the 0.5 and 99.5 percentiles (as for other 16-bit
images); MONOCHROME1 is inverted so that bone is white. Enhanced multi-frame files (CT, MR) have
the first frame's rescale and window taken from their functional groups. Colour (RGB, YBR,
palette) becomes RGB.
"""

from __future__ import annotations

import numpy as np

from labeler.ingest.tonemap import stretch_to_uint8

_FULL_LUT = 1 << 16  # a LUT descriptor's entry count of 0 means 65536 entries
# Where enhanced multi-frame files keep the rescale and window: (sequence, its keywords).
_FRAME_GROUPS = (
    ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept")),
    ("FrameVOILUTSequence", ("WindowCenter", "WindowWidth", "VOILUTFunction")),
)


def render(frame: np.ndarray, ds) -> np.ndarray:
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
    from pydicom.pixels import apply_modality_lut

    _lift_frame_groups(ds)
    values = apply_modality_lut(frame, ds)
    lut = _voi_lut(ds)
    if lut is not None:
        first, entries = lut
        index = np.clip(np.rint(values) - first, 0, len(entries) - 1).astype(np.intp)
        return _linear(entries[index], float(entries.min()), float(entries.max()))
    window = _window(ds)
    if window is not None:
        return _windowed(values, *window)
    return stretch_to_uint8(values)


def _lift_frame_groups(ds) -> None:
    """Enhanced multi-frame files (CT, MR, …) keep the rescale and window in functional groups:
    copy the first frame's to the top level of `ds`, where the greyscale pipeline reads them.
    The per-frame group wins over the shared one; values already at the top level stay."""
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        item = (ds.get(groups) or [None])[0]
        if item is None:
            continue
        for sequence, keywords in _FRAME_GROUPS:
            inner = (item.get(sequence) or [None])[0]
            for keyword in keywords if inner is not None else ():
                if keyword in inner and keyword not in ds:
                    setattr(ds, keyword, inner[keyword].value)


def _voi_lut(ds) -> tuple[int, np.ndarray] | None:
    """The file's first VOI LUT as (first value mapped, entries (N,) int64), or None when it has
    none or it is unusable (no descriptor, or fewer entries than the descriptor says)."""
    items = ds.get("VOILUTSequence") or []
    if not items or "LUTDescriptor" not in items[0] or "LUTData" not in items[0]:
        return None
    descriptor, data = items[0].LUTDescriptor, items[0].LUTData
    if data is None or not hasattr(descriptor, "__len__") or len(descriptor) != 3:
        return None
    count, first = int(descriptor[0]) or _FULL_LUT, int(descriptor[1])
    if isinstance(data, bytes):  # VR OW: 16-bit words in the file's byte order
        order = "<" if ds.file_meta.TransferSyntaxUID.is_little_endian else ">"
        entries = np.frombuffer(data[: 2 * count], dtype=f"{order}u2")
    else:
        entries = np.atleast_1d(np.asarray(data))
    if len(entries) < count:
        return None
    return first, entries.astype(np.int64)


def _window(ds) -> tuple[float, float, str] | None:
    """The first (centre, width, VOI LUT function) of the file's window, or None when absent or
    unusable (a width the function cannot use, or a value that is not a finite number)."""
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is None or width is None:
        return None
    try:
        centre, width = (float(v[0] if hasattr(v, "__len__") else v) for v in (centre, width))
    except (TypeError, ValueError, IndexError):
        return None
    function = str(ds.get("VOILUTFunction") or "LINEAR").strip().upper()
    # LINEAR needs a width over 1 (1 is a threshold, left to the stretch); the others over 0.
    least = 0.0 if function in ("LINEAR_EXACT", "SIGMOID") else 1.0
    usable = np.isfinite(centre) and np.isfinite(width) and width > least
    return (centre, width, function) if usable else None


def _windowed(values: np.ndarray, centre: float, width: float, function: str) -> np.ndarray:
    """(H, W) values through a window of the VOI LUT `function` (DICOM PS3.3 C.11.2.1.2-3) →
    (H, W) uint8; an unknown function is taken as LINEAR."""
    if function == "SIGMOID":
        exponent = np.clip(-4.0 * (np.asarray(values, np.float64) - centre) / width, -700, 700)
        return np.rint(255.0 / (1.0 + np.exp(exponent))).astype(np.uint8)
    if function == "LINEAR_EXACT":
        return _linear(values, centre - width / 2, centre + width / 2)
    # LINEAR: [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] spans 0..255.
    low = centre - 0.5 - (width - 1) / 2
    return _linear(values, low, low + width - 1)


def _linear(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map [low, high] linearly to 0..255 (clipped): any shape → the same shape, uint8."""
    if high <= low:
        return stretch_to_uint8(values)
    scaled = (np.asarray(values, dtype=np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
