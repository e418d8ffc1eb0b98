"""DICOM files: recognising them, header checks without decoding, and decoding the first frame.

A file is DICOM when its name ends in `.dcm` or `.dicom`, or when it has no image extension and
carries the DICOM magic bytes: PACS exports often name files `IM0001`, or by their UID
(`1.2.840.113619.2.55.3.320`, whose suffix is `.320`). Files written without the 128-byte
preamble and DICM marker (bare datasets: ACR-NEMA and older PACS exports) are read too: under a
DICOM suffix always, under another name when their first bytes open a DICOM data element (see
`starts_bare_dataset`).

Rendering (labeler/ingest/dicomrender.py) is the standard's greyscale pipeline, as a viewer
shows the image. Multi-frame files give their first frame, and only that frame is read from
disk: the header is parsed with large values left on disk, so neither a probe nor a load holds
a whole cine loop in memory. Only pixels are read: nothing from the header (patient data
included) is stored or exported.

Compressed pixel data is decoded by pydicom's plugins: Pillow (JPEG baseline, JPEG 2000) and
python-gdcm (JPEG lossless, JPEG-LS and the rest); a file whose compression has no decoder
installed is skipped with a reason that says so. What the libraries print about a bad file
(pydicom's warnings, libjpeg's and OpenJPEG's messages) goes into its reason, not to stderr.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import struct
from pathlib import Path

import numpy as np

from labeler.config import DICOM_SUFFIXES, HASH_CHUNK, IMAGE_SUFFIXES
from labeler.errors import ImageError
from labeler.ingest.dicomrender import render
from labeler.ingest.reasons import library_output, one_line, short_detail, too_large_reason

_MAGIC_OFFSET, _MAGIC = 128, b"DICM"  # after the 128-byte preamble of a DICOM file
# A bare dataset (no preamble) starts with its file meta (group 0002) or its identification
# (group 0008); it is read in the little-endian encoding pydicom guesses from its first bytes.
_BARE_START_GROUPS = frozenset({0x0002, 0x0008})
_NOT_DICOM = (
    "not a DICOM file: a DICOM name, but neither the DICM marker nor a DICOM data set at its "
    "start; export it again from the PACS, or give it the extension of what it holds"
)
# What libjpeg prints when a JPEG ends before its data (JWRN_JPEG_EOF, JWRN_HIT_MARKER): it
# fills in the rest and returns, where Pillow refuses a plain JPEG as truncated.
_TRUNCATION_SIGNS = ("premature end",)
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
DEFER_BYTES = 1 << 16  # header values larger than this (pixel data) stay on disk until read
_JPEG_SYNTAXES = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")  # baseline, extended
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2})  # start of frame: baseline, extended, progressive
# What `pixel_identity` takes from the header beside the pixel data: how to read the values.
_PIXEL_DESCRIPTION = (
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
)
_IDENTITY_PREFIX = b"labeler DICOM pixels 1\0"  # a new meaning of the digest gets a new number
_UNDEFINED_LENGTH = 0xFFFFFFFF  # encapsulated (compressed) pixel data: items up to a delimiter
_log = logging.getLogger(__name__)


def is_dicom(path: Path) -> bool:
    """Whether `path` is read as DICOM: by its suffix, or, with no suffix or one that is not an
    image suffix (the last digits of a UID), by its first 132 bytes: the DICM marker after the
    preamble, or the start of a bare dataset (`starts_bare_dataset`)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return suffix in DICOM_SUFFIXES
    try:
        with open(path, "rb") as f:
            head = f.read(_MAGIC_OFFSET + len(_MAGIC))
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    return head[_MAGIC_OFFSET:] == _MAGIC or starts_bare_dataset(head, size)


def starts_bare_dataset(head: bytes, size: int) -> bool:
    """Whether `head`, the first bytes of a file of `size` bytes, opens a DICOM dataset written
    without preamble and marker: a known element of group 0002 or 0008, little endian, with a
    valid VR and its 16- or 32-bit length (explicit VR) or a 32-bit length (implicit VR), even
    and within the file. A cheap, conservative test: pydicom's force=True reads anything,
    guessing the encoding from the same bytes, so a file with another name is tried only then.
    """
    element = _first_element(head)
    if element is None:
        return False
    tag, value_start, length = element
    from pydicom.datadict import dictionary_has_tag

    known = tag & 0xFFFF == 0 or dictionary_has_tag(tag)  # element 0000: the group's length
    return known and length % 2 == 0 and value_start + length <= size


def _first_element(head: bytes) -> tuple[int, int, int] | None:
    """(tag, offset of the value, value length) of the data element that `head` starts with,
    read as little endian, explicit VR when bytes 4..5 are a VR, else implicit VR; None when
    `head` is too short or the group is not one a bare dataset starts with."""
    if len(head) < 12 or struct.unpack_from("<H", head)[0] not in _BARE_START_GROUPS:
        return None
    from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR

    group, element = struct.unpack_from("<HH", head)
    tag = group << 16 | element
    try:
        vr = VR(head[4:6].decode("ascii"))
    except ValueError:  # UnicodeDecodeError included: implicit VR, a 32-bit length follows
        return tag, 8, struct.unpack_from("<L", head, 4)[0]
    if vr not in EXPLICIT_VR_LENGTH_32:
        return tag, 8, struct.unpack_from("<H", head, 6)[0]
    if head[6:8] != b"\0\0":  # two reserved bytes before a 32-bit length
        return None
    return tag, 12, struct.unpack_from("<L", head, 8)[0]


def inspect_dicom(path: Path, *, max_pixels: int) -> tuple[int, int, str, int]:
    """(width, height, `pixel_identity`, number of frames) of a DICOM image, from one reading
    of its header, after checking, without decoding, that it can be decoded: pixel data present
    and, when uncompressed, complete; an image description that the decoder accepts; at most
    `max_pixels` pixels a frame; a decoder installed for its compression. Raises ImageError
    with the reason."""
    ds = _opened(path, max_pixels=max_pixels)
    return int(ds.Columns), int(ds.Rows), _identity(ds, path), _frames(ds)


def _frames(ds) -> int:
    """How many frames dataset `ds` holds: its NumberOfFrames, 1 when absent or empty."""
    return int(ds.get("NumberOfFrames") or 1)


def pixel_identity(path: Path, *, max_pixels: int) -> str:
    """The sha256 hex digest of the image a DICOM file holds: its pixel data as stored, with
    the attributes that say how to read it (`_PIXEL_DESCRIPTION`) and the byte order.

    Edits to the rest of the header (de-identification, a PACS re-export with new UIDs or
    tags) keep it, so the image keeps its label though the file's bytes changed. The window and
    rescale are left out too: a new window changes how the image is shown (the file is embedded
    again), not the image the expert labeled. Reads the pixel data from disk in chunks.
    Raises ImageError as `inspect_dicom` does, or OSError.
    """
    return _identity(_opened(path, max_pixels=max_pixels), path)


def _identity(ds, path: Path) -> str:
    """`pixel_identity` of dataset `ds`, read from `path` (where deferred pixel data lies)."""
    import hashlib
    import json

    keyword = next(k for k in _PIXEL_KEYWORDS if k in ds)
    description = [keyword, ds.file_meta.TransferSyntaxUID.is_little_endian]
    description += [_plain(ds.get(k)) for k in _PIXEL_DESCRIPTION]
    digest = hashlib.sha256(_IDENTITY_PREFIX + json.dumps(description).encode())
    elem = ds.get_item(keyword, keep_deferred=True)
    if elem.value is not None:
        digest.update(elem.value)
        return digest.hexdigest()
    with open(path, "rb") as handle:  # the value was left on disk: read it from there
        handle.seek(elem.value_tell)
        left = elem.length if elem.length != _UNDEFINED_LENGTH else None  # None: to the end
        while chunk := handle.read(HASH_CHUNK if left is None else min(HASH_CHUNK, left)):
            digest.update(chunk)
            left = None if left is None else left - len(chunk)
    return digest.hexdigest()


def _plain(value) -> str | int | float | None:
    """A header value as JSON takes it, the same across pydicom versions: numbers as numbers,
    the rest as their stripped text (None when absent)."""
    if value is None or isinstance(value, int | float):
        return value
    return str(value).strip()


def load_dicom(path: Path, *, max_pixels: int) -> np.ndarray:
    """The first frame of a DICOM image, rendered: (H, W, 3) uint8 RGB. Raises ImageError,
    also when the decoder reports that the compressed data ends early (and fills in the rest).
    """
    from pydicom.pixels import pixel_array

    ds = _opened(path, max_pixels=max_pixels)
    syntax = ds.file_meta.TransferSyntaxUID
    # A path lets pydicom read the first frame alone; a deflated file is inflated whole by _read.
    # The syntax is passed on for a bare dataset, whose file has no file meta to name it.
    source = ds if syntax.is_deflated else path
    said: list[str] = []
    try:
        with library_output(c_stderr=syntax.is_compressed) as said:
            frame = pixel_array(
                source, index=0, transfer_syntax_uid=syntax, **_jpeg_colour(ds, path)
            )
            rgb = render(frame, ds)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"cannot decode DICOM pixel data: {short_detail(exc, said)}") from exc
    _check_decoder_said(said, path)
    return rgb


def _check_decoder_said(said: list[str], path: Path) -> None:
    """Raise ImageError when what the decoder printed while it decoded `path` says that the
    data ends early; other messages (the image decoded) are logged at INFO level."""
    if any(sign in line.lower() for line in said for sign in _TRUNCATION_SIGNS):
        raise ImageError(f"truncated DICOM pixel data: {one_line(said)}")
    if said:
        _log.info("%s: the decoder said: %s", path, "; ".join(said))


def _jpeg_colour(ds, path: Path) -> dict:
    """Decoding options for a JPEG whose header says RGB while its data is YCbCr, as some
    encoders (GDCM's among them) write it: {"photometric_interpretation": "YBR_FULL_422"}, else
    {}. Told by the first frame's markers as libjpeg tells them: an Adobe marker's transform
    flag, else a JFIF marker (YCbCr), else component ids 'R', 'G', 'B' (RGB, else YCbCr)."""
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax not in _JPEG_SYNTAXES or str(ds.get("PhotometricInterpretation")) != "RGB":
        return {}
    from pydicom.encaps import get_frame

    elem, frames = ds.get_item("PixelData", keep_deferred=True), _frames(ds)
    if elem.value is not None:  # read with the header (small)
        frame = get_frame(elem.value, 0, number_of_frames=frames)
    else:  # left on disk: read the first frame alone
        with open(path, "rb") as f:
            f.seek(elem.value_tell)
            frame = get_frame(f, 0, number_of_frames=frames)
    return {"photometric_interpretation": "YBR_FULL_422"} if _is_ycbcr(frame) else {}


def _is_ycbcr(jpeg: bytes) -> bool:
    """Whether a JPEG codestream holds YCbCr (libjpeg's rule; see `_jpeg_colour`)."""
    i, jfif, components = 2, False, b""
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker, length = jpeg[i + 1], int.from_bytes(jpeg[i + 2 : i + 4], "big")
        data = jpeg[i + 4 : i + 2 + length]
        if marker == 0xEE and data.startswith(b"Adobe") and len(data) > 11:
            return data[11] != 0  # transform 0: RGB; 1: YCbCr
        jfif |= marker == 0xE0 and data.startswith(b"JFIF")
        if marker in _SOF_MARKERS and len(data) >= 6:
            components = data[6 : 6 + 3 * data[5] : 3]
        if marker == 0xDA:  # start of scan: the headers are over
            break
        i += 2 + length
    return jfif or components != b"RGB"


def _opened(path: Path, *, max_pixels: int):
    """The dataset of DICOM file `path` (see `_read`) once `_check` passes; what pydicom warns
    on the way is not shown (the reason says it). Raises ImageError, or OSError."""
    with library_output(c_stderr=False):
        ds = _read(path)
        _check(ds, path, max_pixels=max_pixels)
    return ds


def _read(path: Path):
    """The parsed DICOM dataset of `path`, its values over DEFER_BYTES left unread on disk.

    A file without the DICM marker is read as a bare dataset (pydicom's force=True) and kept
    when it holds pixel data or starts as a DICOM dataset does (an element of group 0002 or
    0008); its file meta then names the transfer syntax it was read in, when it did not.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_BYTES, force=True)
    except OSError:
        raise  # reported by the caller like any file that cannot be read
    except Exception as exc:
        raise ImageError(f"truncated or corrupt DICOM file: {short_detail(exc)}") from exc
    if ds.preamble is None:
        _adopt_bare(ds)
    return ds


def _adopt_bare(ds) -> None:
    """Take dataset `ds`, read without the DICM marker, as DICOM: give its file meta the
    uncompressed transfer syntax pydicom read it in, unless it names one. Raises ImageError
    when `ds` has no pixel data and does not start as a DICOM dataset."""
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    first = next(itertools.chain(ds.file_meta.keys(), ds.keys()), None)
    starts_as_dicom = first is not None and first.group in _BARE_START_GROUPS
    if not starts_as_dicom and not any(k in ds for k in _PIXEL_KEYWORDS):
        raise ImageError(_NOT_DICOM)
    if "TransferSyntaxUID" not in ds.file_meta:
        implicit, little = ds.original_encoding
        syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        ds.file_meta.TransferSyntaxUID = syntax if little else ExplicitVRBigEndian


def _check(ds, path: Path, *, max_pixels: int) -> None:
    """Raise ImageError unless dataset `ds` of file `path` holds pixel data that can be decoded
    in full."""
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        raise ImageError(_no_pixels_reason(ds))
    rows, columns = ds.get("Rows"), ds.get("Columns")
    if not rows or not columns:
        raise ImageError("DICOM file without image size (Rows, Columns); it may be corrupt")
    if rows * columns > max_pixels:
        raise ImageError(too_large_reason(int(columns), int(rows), max_pixels))
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise ImageError("DICOM file without a transfer syntax in its header; it may be corrupt")
    _check_decodable(ds, syntax, keyword, _stored_bytes(ds, keyword, path))


def _no_pixels_reason(ds) -> str:
    """Why dataset `ds`, which has no pixel data, gives no image."""
    if "Rows" not in ds and ("SOPClassUID" in ds or "DirectoryRecordSequence" in ds):
        return "DICOM file without pixel data (a report, directory or other non-image object)"
    return (
        "truncated or corrupt DICOM file: it ends before its pixel data (the file is cut short, "
        "or its pixel data was removed)"
    )


def _stored_bytes(ds, keyword: str, path: Path) -> int:
    """How many bytes of the `keyword` pixel data element file `path` holds (for a value left on
    disk: its declared length, cut at the end of the file)."""
    elem = ds.get_item(keyword, keep_deferred=True)
    if elem.value is not None:
        return len(elem.value)
    return max(0, min(elem.length, path.stat().st_size - elem.value_tell))


def _check_decodable(ds, syntax, keyword: str, stored: int) -> None:
    """Raise ImageError when no installed decoder reads `syntax`, the decoder would refuse the
    image description of `ds`, or native `keyword` pixel data is shorter than its description
    (`stored` bytes are there)."""
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
    _check_description(ds, syntax, keyword)
    if syntax.is_compressed or "PixelData" not in ds:
        return
    expected = get_expected_length(ds, unit="bytes")
    if stored < expected:
        raise ImageError(f"truncated DICOM file: pixel data has {stored} of {expected} bytes")


def _check_description(ds, syntax, keyword: str) -> None:
    """Raise ImageError when the decoder would refuse the image description (group 0028) of
    `ds`, with its reason: pydicom's own check, run as `pixel_array` runs it before decoding
    (Bits Allocated 1 or a multiple of 8, Samples per Pixel 1 or 3, a known photometric
    interpretation, …), without reading the pixel data."""
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.utils import as_pixel_options

    runner = DecodeRunner(syntax)
    runner.set_source(io.BytesIO())  # a file, as `pixel_array(path)` gives it: not read here
    try:
        runner.set_options(**as_pixel_options(ds, pixel_keyword=keyword))
        runner.validate()
    except Exception as exc:
        raise ImageError(f"DICOM image description is invalid: {short_detail(exc)}") from exc
