"""Writing DICOM files from arrays, for benchmarks and tests: uncompressed, then re-encoded by
GDCM in another transfer syntax (JPEG-LS, JPEG lossless, RLE, …) as PACS store them."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", **tags) -> Path:
    """Write `pixels` as an uncompressed DICOM file (Secondary Capture) with extra header `tags`.

    pixels: (H, W) or (frames, H, W) integer greyscale, or (H, W, 3) uint8 for RGB; signed
    integers are stored with PixelRepresentation 1. `bits_stored` in tags overrides the default
    of the dtype's full width.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName = "OT", "Synthetic^Test"
    bits = tags.pop("bits_stored", 8 * pixels.dtype.itemsize)
    ds.set_pixel_data(pixels, photometric, bits_stored=bits)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def recompress(source: Path, out: Path, syntax: str) -> Path:
    """Write DICOM file `source` again at `out` in transfer syntax `syntax`, a name of
    `gdcm.TransferSyntax` ("JPEGLSLossless", "JPEGLosslessProcess14_1", "RLELossless", …)."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    if not reader.Read():
        raise ValueError(f"GDCM cannot read {source}")
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax)))
    change.SetInput(reader.GetImage())
    if not change.Change():
        raise ValueError(f"GDCM cannot re-encode {source} as {syntax}")
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(out))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise ValueError(f"GDCM cannot write {out}")
    return out


def write_bare(
    source: Path, out: Path, *, implicit_vr: bool = True, file_meta: bool = False
) -> Path:
    """Write DICOM file `source` again at `out` as a bare dataset, as ACR-NEMA and older PACS
    exports are: no 128-byte preamble, no DICM marker, little endian in implicit or explicit VR,
    after its file meta group (0002) only when `file_meta`."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    ds = pydicom.dcmread(source)
    ds.preamble = None
    if file_meta:
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian
        )
    else:
        ds.file_meta = FileMetaDataset()
    ds.save_as(out, implicit_vr=implicit_vr, little_endian=True)
    return out
