"""DICOM ingestion (labeler.ingest.dicom): rendering against a simple oracle, and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labeler.errors import ImageError
from labeler.ingest import scan
from labeler.ingest.decode import load_image, probe
from labeler.ingest.tonemap import stretch_to_uint8
from tests.imagegen import write_dicom

RAMP = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)  # stored values 0..1999


def _grey(path: Path) -> np.ndarray:
    """The rendered file as (H, W) uint8, checking the three channels are equal."""
    rgb = np.asarray(load_image(path))
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    return rgb[..., 0]


def _window_oracle(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """DICOM's LINEAR window, written out plainly, pixel by pixel."""
    out = np.empty(values.shape, dtype=np.uint8)
    for idx, x in np.ndenumerate(values.astype(np.float64)):
        if x <= centre - 0.5 - (width - 1) / 2:
            out[idx] = 0
        elif x > centre - 0.5 + (width - 1) / 2:
            out[idx] = 255
        else:
            out[idx] = int(np.rint(((x - (centre - 0.5)) / (width - 1) + 0.5) * 255))
    return out


def test_rescale_then_window_as_the_standard_says(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "ct.dcm",
        RAMP,
        RescaleSlope=2,
        RescaleIntercept=-1024,
        WindowCenter=500,  # in rescaled units: stored values around 762
        WindowWidth=400,
    )
    hounsfield = RAMP.astype(np.float64) * 2 - 1024
    got = _grey(path)
    assert np.abs(got.astype(int) - _window_oracle(hounsfield, 500, 400)).max() <= 1
    assert got.min() == 0 and got.max() == 255  # the ramp runs past both ends of the window


def test_signed_pixels_and_a_multi_valued_window(tmp_path: Path) -> None:
    signed = (RAMP.astype(np.int16) - 1000).astype(np.int16)  # -1000..999
    path = write_dicom(tmp_path / "s.dcm", signed, WindowCenter=[0, 300], WindowWidth=[500, 80])
    assert np.abs(_grey(path).astype(int) - _window_oracle(signed, 0, 500)).max() <= 1


def test_without_a_window_values_are_stretched_like_other_16_bit_images(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "plain.dcm", RAMP, RescaleSlope=1, RescaleIntercept=-50)
    np.testing.assert_array_equal(_grey(path), stretch_to_uint8(RAMP.astype(np.float64) - 50))


@pytest.mark.parametrize("window", [{}, {"WindowCenter": 1000, "WindowWidth": 1000}])
def test_monochrome1_is_inverted(tmp_path: Path, window: dict) -> None:
    normal = _grey(write_dicom(tmp_path / "m2.dcm", RAMP, **window))
    inverted = _grey(write_dicom(tmp_path / "m1.dcm", RAMP, "MONOCHROME1", **window))
    np.testing.assert_array_equal(inverted, 255 - normal)


def test_voi_lut_is_applied_before_the_window(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    curve = np.rint((np.arange(2000) / 1999) ** 2 * 4095).astype(np.uint16)  # a gamma curve
    item = Dataset()
    item.LUTDescriptor = [2000, 0, 16]
    item.add_new("LUTData", "US", curve.tolist())
    path = write_dicom(
        tmp_path / "lut.dcm", RAMP, VOILUTSequence=[item], WindowCenter=10, WindowWidth=20
    )
    want = np.rint(curve[RAMP].astype(np.float64) * 255 / 4095).astype(np.uint8)
    np.testing.assert_array_equal(_grey(path), want)


def test_unusable_window_falls_back_to_the_stretch(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "w.dcm", RAMP, WindowCenter=100, WindowWidth=0)
    np.testing.assert_array_equal(_grey(path), stretch_to_uint8(RAMP))


def test_rgb_pixels_are_kept_exactly(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    path = write_dicom(tmp_path / "rgb.dcm", rgb, "RGB")
    np.testing.assert_array_equal(np.asarray(load_image(path)), rgb)
    assert probe(path) == (16, 12)  # (width, height)


def test_ybr_colour_becomes_rgb(tmp_path: Path) -> None:
    from pydicom.pixels import convert_color_space

    rgb = np.random.default_rng(1).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    path = write_dicom(tmp_path / "ybr.dcm", ybr, "YBR_FULL")
    got = np.asarray(load_image(path)).astype(int)
    assert np.abs(got - rgb).max() <= 2  # the colour conversion rounds twice


def test_palette_colour_is_looked_up(tmp_path: Path) -> None:
    index = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    entries = np.arange(256, dtype=np.uint16) * 257  # 16-bit entries, 0..65535
    path = write_dicom(
        tmp_path / "pal.dcm",
        index,
        "PALETTE COLOR",
        RedPaletteColorLookupTableDescriptor=[256, 0, 16],
        GreenPaletteColorLookupTableDescriptor=[256, 0, 16],
        BluePaletteColorLookupTableDescriptor=[256, 0, 16],
        RedPaletteColorLookupTableData=entries.tobytes(),
        GreenPaletteColorLookupTableData=(65535 - entries).tobytes(),
        BluePaletteColorLookupTableData=np.zeros(256, np.uint16).tobytes(),
    )
    rgb = np.asarray(load_image(path))
    np.testing.assert_array_equal(rgb[..., 0], index)
    np.testing.assert_array_equal(rgb[..., 1], 255 - index)
    assert (rgb[..., 2] == 0).all()


def test_multi_frame_gives_its_first_frame(tmp_path: Path) -> None:
    frames = np.stack([np.full((10, 12), 10 * (k + 1), np.uint8) for k in range(3)])
    frames[0, :5] = 200  # the first frame alone has two values
    path = write_dicom(tmp_path / "cine.dcm", frames)
    grey = _grey(path)
    assert grey.shape == (10, 12)
    assert grey[0, 0] > grey[-1, -1]  # bright top half, dark bottom: frame 0


@pytest.mark.parametrize("syntax", ["JPEGLSLossless", "JPEGLosslessProcess14_1", "RLELossless"])
def test_compressed_files_decode_like_the_uncompressed_one(tmp_path: Path, syntax: str) -> None:
    import gdcm  # python-gdcm, a runtime requirement: the decoder of these syntaxes

    plain = write_dicom(tmp_path / "plain.dcm", RAMP, WindowCenter=1000, WindowWidth=1500)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(plain))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax)))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(tmp_path / "packed.dcm"))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    packed = tmp_path / "packed.dcm"
    assert packed.read_bytes() != plain.read_bytes()
    np.testing.assert_array_equal(_grey(packed), _grey(plain))


# -- bad files: a clear reason, never a crash ---------------------------------------------------


def _not_dicom(path: Path) -> Path:
    path.write_bytes(b"not a dicom file at all" * 20)
    return path


def _unknown_syntax(path: Path) -> Path:
    import pydicom

    ds = pydicom.dcmread(write_dicom(path, RAMP))
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9999.1"  # no one's compression
    ds.save_as(path)
    return path


def _truncated(path: Path) -> Path:
    data = write_dicom(path, RAMP).read_bytes()
    path.write_bytes(data[:-500])
    return path


def _no_pixels(path: Path) -> Path:
    import pydicom

    ds = pydicom.dcmread(write_dicom(path, RAMP))
    del ds.PixelData
    ds.save_as(path)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_not_dicom, "not a DICOM file"),
        (_truncated, "truncated DICOM file: pixel data has 3500 of 4000 bytes"),
        (_no_pixels, "DICOM file without pixel data"),
        (_unknown_syntax, "unsupported transfer syntax"),
    ],
    ids=["not-dicom", "truncated", "no-pixels", "unknown-syntax"],
)
def test_bad_dicom_files_have_a_reason(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path / "bad.dcm")
    for read in (probe, load_image):
        with pytest.raises(ImageError, match=reason):
            read(path)


def test_too_many_pixels_are_refused_before_decoding(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "big.dcm", RAMP)
    with pytest.raises(ImageError, match="image too large: 50x40 pixels exceeds the limit of 1000"):
        load_image(path, max_pixels=1000)


def test_scan_reads_dicom_with_and_without_extension(tmp_path: Path) -> None:
    root = tmp_path / "pacs"
    (root / "IMAGES").mkdir(parents=True)
    write_dicom(root / "IMAGES" / "IM0001", RAMP)  # no extension: known by its magic bytes
    write_dicom(root / "b.DCM", RAMP[:20])
    _no_pixels(root / "DICOMDIR")  # DICOM, but no image
    (root / "NOTES").write_text("no extension, not DICOM")
    result = scan(root, progress=False)
    sizes = {f.path: (f.width, f.height) for f in result.images}
    assert sizes == {"IMAGES/IM0001": (50, 40), "b.DCM": (50, 20)}
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["DICOMDIR"].startswith("DICOM file without pixel data")
    assert reasons["NOTES"].startswith("unsupported file type (no extension)")


def test_the_ui_serves_dicom_as_a_png_thumbnail(tmp_path: Path) -> None:
    from labeler.ui.server import image_response

    path = write_dicom(tmp_path / "x.dcm", RAMP)
    response = image_response(path)
    assert response.media_type == "image/png" and response.body.startswith(b"\x89PNG")
