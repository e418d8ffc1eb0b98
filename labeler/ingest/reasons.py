"""Reason sentences for skipped files, shared by the decoders (PIL images and DICOM)."""

from __future__ import annotations

MAX_DETAIL = 160  # characters of a library's error message kept in a reason


def short_detail(exc: BaseException) -> str:
    """An exception's message on one line (its lines joined by '; '), shortened, or its type
    name when empty. pydicom lists why each of its decoders failed on the lines after the
    first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines).replace(":; ", ": ") if lines else type(exc).__name__
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def too_large_reason(width: int, height: int, max_pixels: int) -> str:
    """The reason sentence for an image whose header claims more than `max_pixels` pixels."""
    return (
        f"image too large: {width}x{height} pixels exceeds the limit of {max_pixels} "
        "(config.MAX_PIXELS)"
    )
