"""Pixel conversions to 8-bit RGB: high-bit-depth greyscale stretching and alpha compositing."""

from __future__ import annotations

import numpy as np
from PIL import Image

from labeler.errors import ImageError

HIGH_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
BACKGROUND = (255, 255, 255, 255)  # transparent pixels are composited on white


def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map any numeric image to 0..255 with a robust min–max stretch.

    values: (H, W) array of any integer or float dtype (e.g. uint16, >u2, int32, float32).
    Returns an (H, W) uint8 array. The 0.5 and 99.5 percentiles of the finite values map to 0 and
    255 and everything outside is clipped, so a 12-bit image in a 16-bit container uses the full
    range and a few hot pixels do not darken the rest. When those percentiles coincide the true
    min and max are used; a constant image (or one with no finite value) becomes all zeros.
    Ordering is preserved: a larger input never maps to a smaller output. NaN maps to 0.
    """
    data = np.asarray(values, dtype=np.float32)  # exact for 16-bit values; 4 bytes a pixel
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, dtype=np.uint8)
    valid = data[finite]
    low, high = (float(v) for v in np.percentile(valid, [LOW_PERCENTILE, HIGH_PERCENTILE]))
    if high <= low:
        low, high = float(valid.min()), float(valid.max())
    if high <= low:
        return np.zeros(data.shape, dtype=np.uint8)
    scaled = (np.clip(data, low, high) - low) * np.float32(255.0 / (high - low))
    scaled[~finite] = 0.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def has_alpha(image: Image.Image) -> bool:
    """Whether `image` carries transparency: an alpha band or a transparent colour key."""
    return image.mode in ALPHA_MODES or "transparency" in image.info


def to_rgb8(image: Image.Image) -> Image.Image:
    """Convert a decoded image of any mode to 8-bit RGB.

    16-bit, 32-bit integer and float greyscale are stretched with `stretch_to_uint8`;
    transparent images are composited on white; palette, greyscale, CMYK and YCbCr are
    converted with PIL. Raises ImageError for a colour mode PIL cannot turn into RGB.
    """
    if image.mode in HIGH_DEPTH_MODES:
        grey = stretch_to_uint8(np.asarray(image))
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "RGB":
        return image
    try:
        if has_alpha(image):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, BACKGROUND)
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(
            f"unsupported colour mode {image.mode!r}: cannot convert it to RGB ({exc}); "
            "save the image as 8-bit RGB or greyscale"
        ) from exc
