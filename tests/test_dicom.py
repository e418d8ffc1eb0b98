"""DICOM ingestion (labeler.ingest.dicom): rendering against a simple oracle, and bad files."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labeler.bench.dicomgen import recompress, write_bare
from labeler.errors import ImageError
from labeler.ingest import scan
from labeler.ingest.decode import load_image, probe_with_identity
from labeler.ingest.reasons import short_detail
from labeler.ingest.tonemap import stretch_to_uint8
from tests.imagegen import write_dicom, write_jpeg_dicom

RAMP = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)  # stored values 0..1999


def probe(path: Path) -> tuple[int, int]:
    """(width, height) as the scan's header check finds them."""
    return probe_with_identity(path)[:2]


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


@pytest.mark.parametrize(
    ("function", "oracle"),
    [
        ("SIGMOID", lambda x, c, w: 255 / (1 + np.exp(-4 * (x - c) / w))),
        ("LINEAR_EXACT", lambda x, c, w: np.clip((x - c) / w + 0.5, 0, 1) * 255),
    ],
)
def test_window_functions_as_the_standard_says(tmp_path: Path, function: str, oracle) -> None:
    path = write_dicom(
        tmp_path / "f.dcm",
        RAMP,
        WindowCenter=[1000, 300],  # the first window is the one shown
        WindowWidth=[400, 80],
        VOILUTFunction=function,
    )
    want = oracle(RAMP.astype(np.float64), 1000, 400)  # PS3.3 C.11.2.1.3, scaled to 0..255
    assert np.abs(_grey(path) - want).max() <= 0.5 + 1e-9


def _voi_lut_item(descriptor: list[int], entries: np.ndarray | None, vr: str = "US"):
    """A VOI LUT Sequence item; `entries` None leaves LUT Data out."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor = descriptor
    if entries is not None:
        data = entries.astype("<u2").tobytes() if vr == "OW" else entries.tolist()
        item.add_new("LUTData", vr, data)
    return item


@pytest.mark.parametrize("vr", ["US", "OW"])  # LUT Data is US or OW; OW is read back as bytes
def test_voi_lut_entries_of_either_vr(tmp_path: Path, vr: str) -> None:
    curve = np.rint((np.arange(2000) / 1999) ** 2 * 4095).astype(np.uint16)
    item = _voi_lut_item([2000, 0, 16], curve, vr)
    path = write_dicom(tmp_path / "lut.dcm", RAMP, VOILUTSequence=[item])
    want = np.rint(curve[RAMP].astype(np.float64) * 255 / 4095).astype(np.uint8)
    np.testing.assert_array_equal(_grey(path), want)


def test_voi_lut_of_8_bit_entries_starting_above_zero(tmp_path: Path) -> None:
    item = _voi_lut_item([256, 500, 8], np.arange(256))  # maps values 500..755
    got = _grey(write_dicom(tmp_path / "lut8.dcm", RAMP, VOILUTSequence=[item]))
    want = np.clip(RAMP.astype(int) - 500, 0, 255)  # below: the first entry; above: the last
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "make_sequence",
    [
        list,
        lambda: [_voi_lut_item([2000, 0, 16], None)],
        lambda: [_voi_lut_item([0, 0, 16], np.arange(10))],  # 0 means 65536 entries
    ],
    ids=["empty-sequence", "no-data", "fewer-entries-than-described"],
)
def test_unusable_voi_lut_gives_way_to_the_window(tmp_path: Path, make_sequence) -> None:
    window = {"WindowCenter": 1000, "WindowWidth": 500}
    path = write_dicom(tmp_path / "bad.dcm", RAMP, VOILUTSequence=make_sequence(), **window)
    np.testing.assert_array_equal(_grey(path), _window_oracle(RAMP, 1000, 500))


@pytest.mark.parametrize(
    ("centre", "width"),
    [(100, 0), (100, -5), (100, float("inf")), (float("nan"), 100)],
    ids=["zero", "negative", "infinite", "nan-centre"],
)
def test_unusable_window_falls_back_to_the_stretch(
    tmp_path: Path, centre: float, width: float
) -> None:
    path = write_dicom(tmp_path / "w.dcm", RAMP, WindowCenter=centre, WindowWidth=width)
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


def test_the_probe_gives_the_number_of_frames(tmp_path: Path) -> None:
    cine = write_dicom(tmp_path / "cine.dcm", np.stack([RAMP] * 4))
    still = write_dicom(tmp_path / "still.dcm", RAMP)  # no NumberOfFrames in its header
    assert probe_with_identity(cine)[3] == 4
    assert probe_with_identity(still)[3] == 1


def test_a_long_multi_frame_file_is_not_read_whole(tmp_path: Path) -> None:
    import tracemalloc

    frames = np.zeros((200, 128, 128), np.uint16)  # 6.5 MB of pixel data, 32 KB a frame
    frames[0] = np.arange(128 * 128).reshape(128, 128)
    path = write_dicom(tmp_path / "cine.dcm", frames)
    load_image(path)  # once first, so that imports do not count
    tracemalloc.start()
    try:
        assert probe(path) == (128, 128)
        grey = _grey(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(grey, stretch_to_uint8(frames[0]))
    # bytes: the first frame and its rendering, and a chunk of the pixel data as the probe
    # hashes it for the pixel identity: not all 200 frames (6.5 MB)
    assert peak < 3_000_000


@pytest.mark.parametrize(
    "syntax",
    [
        "JPEGLSLossless",
        "JPEGLosslessProcess14_1",
        "RLELossless",
        "JPEG2000Lossless",
        "ExplicitVRBigEndian",
        "ImplicitVRLittleEndian",
        "DeflatedExplicitVRLittleEndian",
    ],
)
def test_other_transfer_syntaxes_decode_like_the_plain_file(tmp_path: Path, syntax: str) -> None:
    plain = write_dicom(tmp_path / "plain.dcm", RAMP, WindowCenter=1000, WindowWidth=1500)
    recompress(plain, tmp_path / "packed.dcm", syntax)  # GDCM encodes; pydicom + GDCM decode
    packed = tmp_path / "packed.dcm"
    assert packed.read_bytes() != plain.read_bytes()
    np.testing.assert_array_equal(_grey(packed), _grey(plain))


def test_jpeg_baseline_decodes_close_to_its_source(tmp_path: Path) -> None:
    rows, columns = np.mgrid[0:48, 0:64]
    grey = (columns * 4).astype(np.uint8)
    rgb = np.stack([grey, 255 - grey, (rows * 5).astype(np.uint8)], axis=-1)
    assert np.abs(_grey(write_jpeg_dicom(tmp_path / "g.dcm", grey)).astype(int) - grey).max() <= 4
    colour = np.asarray(load_image(write_jpeg_dicom(tmp_path / "c.dcm", rgb))).astype(int)
    assert np.abs(colour - rgb).max() <= 8  # YBR_FULL_422 made RGB; JPEG loses a little


@pytest.mark.parametrize("side", [64, 900], ids=["read-with-header", "left-on-disk"])
def test_jpeg_with_an_rgb_header_over_ycbcr_data_gets_its_colours(
    tmp_path: Path, side: int
) -> None:
    """GDCM writes JPEG baseline with the header's RGB and YCbCr data, with no JFIF or Adobe
    marker to say so; decoded as the header says, colours were off by up to 251 levels."""
    import pydicom

    from labeler.ingest.dicom import DEFER_BYTES

    rows, columns = np.mgrid[0:side, 0:side]
    grey = (columns * 255 // side).astype(np.uint8)
    rgb = np.stack([grey, 255 - grey, (rows * 255 // side).astype(np.uint8)], axis=-1)
    plain = write_dicom(tmp_path / "rgb.dcm", rgb, "RGB")
    packed = recompress(plain, tmp_path / "jpeg.dcm", "JPEGBaselineProcess1")
    assert pydicom.dcmread(packed).PhotometricInterpretation == "RGB"
    assert (packed.stat().st_size > DEFER_BYTES) == (side > 64)
    assert np.abs(np.asarray(load_image(packed)).astype(int) - rgb).max() <= 8


def _segment(marker: int, data: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(data) + 2).to_bytes(2, "big") + data


def _codestream(*segments: bytes, ids: bytes = b"\x01\x02\x03") -> bytes:
    """SOI, `segments`, a baseline SOF with component `ids`, then SOS: headers only."""
    sof = b"\x08\x00\x10\x00\x10\x03" + b"".join(bytes([i, 0x11, 0]) for i in ids)
    return b"\xff\xd8" + b"".join(segments) + _segment(0xC0, sof) + _segment(0xDA, b"\x03")


@pytest.mark.parametrize(
    ("stream", "ycbcr"),
    [
        (_codestream(), True),  # no marker, ids 1, 2, 3: YCbCr, as libjpeg assumes
        (_codestream(ids=b"RGB"), False),  # ids 'R', 'G', 'B'
        (_codestream(_segment(0xE0, b"JFIF\x00\x01\x01")), True),
        (_codestream(_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00")), False),
        (_codestream(_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")), True),
    ],
    ids=["plain", "rgb-ids", "jfif", "adobe-rgb", "adobe-ycbcr"],
)
def test_jpeg_colour_space_is_told_as_libjpeg_tells_it(stream: bytes, ycbcr: bool) -> None:
    from labeler.ingest.dicom import _is_ycbcr

    assert _is_ycbcr(stream) is ycbcr


def test_a_decoder_failure_keeps_every_plugins_reason_on_one_line() -> None:
    exc = RuntimeError(
        "Unable to decode as exceptions were raised by all available plugins:\n"
        "  gdcm: GDCM does not support 12-bit\n  pillow: Pillow does not support 12-bit"
    )
    assert short_detail(exc) == (
        "Unable to decode as exceptions were raised by all available plugins: "
        "gdcm: GDCM does not support 12-bit; pillow: Pillow does not support 12-bit"
    )


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


def _truncated_jpeg(path: Path) -> Path:
    data = write_jpeg_dicom(path, RAMP.astype(np.uint8)).read_bytes()
    path.write_bytes(data[:-200])  # inside the JPEG frame: no end of the encapsulated data
    return path


def _marker_only(path: Path) -> Path:
    path.write_bytes(bytes(128) + b"DICM")  # the preamble and marker, nothing after
    return path


def _report(path: Path) -> Path:
    """A DICOM object without pixel data: a (bare) text report."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = BasicTextSRStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Modality = "SR"
    ds.save_as(path, enforce_file_format=True)
    return path


def _pixels_removed(path: Path) -> Path:
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
        (_truncated_jpeg, "truncated or corrupt DICOM file: it ends before its pixel data"),
        (_marker_only, "truncated or corrupt DICOM file: it ends before its pixel data"),
        (_pixels_removed, "truncated or corrupt DICOM file: it ends before its pixel data"),
        (_report, r"DICOM file without pixel data \(a report"),
        (_unknown_syntax, "unsupported transfer syntax"),
    ],
    ids=[
        "not-dicom",
        "truncated",
        "truncated-jpeg",
        "marker-only",
        "pixels-removed",
        "report",
        "unknown-syntax",
    ],
)
def test_bad_dicom_files_have_a_reason(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path / "bad.dcm")
    for read in (probe, load_image):
        with pytest.raises(ImageError, match=reason):
            read(path)


def test_too_many_pixels_are_refused_before_decoding(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "big.dcm", RAMP)
    with pytest.raises(ImageError, match="too large: 50x40 pixels exceeds the limit of 1,000"):
        load_image(path, max_pixels=1000)


def test_scan_reads_dicom_with_and_without_extension(tmp_path: Path) -> None:
    root = tmp_path / "pacs"
    (root / "IMAGES").mkdir(parents=True)
    write_dicom(root / "IMAGES" / "IM0001", RAMP)  # no extension: known by its magic bytes
    write_dicom(root / "1.2.840.113619.2.55.3.320", RAMP[:10])  # named by its UID: '.320'
    write_dicom(root / "b.DCM", RAMP[:20])
    _report(root / "SR0001")  # DICOM, but no image
    _marker_only(root / "CUT")
    (root / "NOTES").write_text("no extension, not DICOM")
    (root / "notes.320").write_text("another extension, not DICOM")
    result = scan(root, progress=False)
    sizes = {f.path: (f.width, f.height) for f in result.images}
    assert sizes == {
        "IMAGES/IM0001": (50, 40),
        "1.2.840.113619.2.55.3.320": (50, 10),
        "b.DCM": (50, 20),
    }
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["SR0001"].startswith("DICOM file without pixel data")
    assert reasons["CUT"].startswith("truncated or corrupt DICOM file")
    assert reasons["NOTES"].startswith("unsupported file type (no extension)")
    assert reasons["notes.320"].startswith("unsupported file type '.320'")


def test_scan_skips_a_dicomdir_and_reads_the_images_it_lists(tmp_path: Path) -> None:
    import pydicom
    from pydicom.fileset import FileSet

    ds = pydicom.dcmread(write_dicom(tmp_path / "source.dcm", RAMP))
    ds.PatientID, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "P1", "1", 1, 1
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4", "1.2.3.4.5"
    ds.StudyDate, ds.StudyTime = "20240101", "120000"
    fileset = FileSet()
    fileset.add(ds)
    fileset.write(tmp_path / "disc")
    result = scan(tmp_path / "disc", progress=False)
    assert [f.path for f in result.images] == ["PT000000/ST000000/SE000000/IM000000"]
    assert [(s.path, s.reason.split(" (")[0]) for s in result.skipped] == [
        ("DICOMDIR", "DICOM file without pixel data")
    ]


def test_the_ui_serves_dicom_as_a_png_thumbnail(tmp_path: Path) -> None:
    from labeler.ui.server import image_response

    path = write_dicom(tmp_path / "x.dcm", RAMP)
    response = image_response(path)
    assert response.media_type == "image/png" and response.body.startswith(b"\x89PNG")


@pytest.mark.parametrize("form", ["png", "dicom", "dicom-jpegls"])
def test_embed_benchmark_files_render_as_the_images_they_were_made_from(
    tmp_path: Path, form: str
) -> None:
    from labeler.bench.embed_throughput import synthetic_images, upscaled, write_images

    images = upscaled(synthetic_images(3), 40)  # study-sized in the bench; small here
    assert images.shape == (3, 40, 40) and images.dtype == np.uint8
    paths = write_images(images, tmp_path, form)
    assert len({p.suffix for p in paths}) == 1 and len(paths) == 3
    for path, pixels in zip(paths, images, strict=True):
        np.testing.assert_array_equal(np.asarray(load_image(path))[..., 0], pixels)


def _group(**values) -> object:
    """One functional-group item: its rescale and window sequences from `values`."""
    from pydicom.dataset import Dataset

    item = Dataset()
    for sequence, keywords in (
        ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept")),
        ("FrameVOILUTSequence", ("WindowCenter", "WindowWidth")),
    ):
        inner = Dataset()
        for keyword in keywords:
            if keyword in values:
                setattr(inner, keyword, values[keyword])
        if len(inner):
            setattr(item, sequence, [inner])
    return item


def test_enhanced_multi_frame_window_comes_from_the_functional_groups(tmp_path: Path) -> None:
    """Shared groups give the rescale and a window, the first frame's own group another window:
    rendered as if the first frame's values were at the top level."""
    frames = np.stack([RAMP, RAMP[::-1]])
    flat = write_dicom(
        tmp_path / "flat.dcm", RAMP, RescaleIntercept=-1024, RescaleSlope=1, WindowCenter=-200,
        WindowWidth=600,
    )  # fmt: skip
    enhanced = write_dicom(
        tmp_path / "enhanced.dcm",
        frames,
        SharedFunctionalGroupsSequence=[
            _group(RescaleIntercept=-1024, RescaleSlope=1, WindowCenter=40, WindowWidth=80)
        ],
        PerFrameFunctionalGroupsSequence=[
            _group(WindowCenter=-200, WindowWidth=600),
            _group(WindowCenter=500, WindowWidth=100),
        ],
    )
    np.testing.assert_array_equal(_grey(enhanced), _grey(flat))
    assert len(np.unique(_grey(flat))) > 100  # the window, not all black or all white


# -- bare datasets: no preamble, no DICM marker (ACR-NEMA, older PACS exports) ------------------


@pytest.mark.parametrize(
    ("name", "implicit_vr", "file_meta"),
    [
        ("bare.dcm", True, False),  # known by its suffix
        ("IM0001", True, False),  # no extension: known by its first element
        ("1.2.840.113619.2.55.3.321", False, False),  # explicit VR, named by its UID
        ("IM0002", False, True),  # the file meta group, without the preamble before it
    ],
    ids=["implicit-dcm", "implicit-no-extension", "explicit-uid-name", "file-meta-first"],
)
def test_a_bare_dataset_reads_like_the_file_it_was_made_from(
    tmp_path: Path, name: str, implicit_vr: bool, file_meta: bool
) -> None:
    plain = write_dicom(tmp_path / "plain.dcm", RAMP, WindowCenter=1000, WindowWidth=1500)
    (tmp_path / "pacs").mkdir()
    bare = write_bare(plain, tmp_path / "pacs" / name, implicit_vr=implicit_vr, file_meta=file_meta)
    assert bare.read_bytes()[128:132] != b"DICM"
    np.testing.assert_array_equal(_grey(bare), _grey(plain))
    result = scan(tmp_path / "pacs", progress=False)
    assert [(f.path, f.width, f.height) for f in result.images] == [(name, 50, 40)]


def test_a_cut_bare_dataset_has_a_reason_and_other_files_stay_unsupported(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "pacs"
    root.mkdir()
    data = write_bare(write_dicom(tmp_path / "plain.dcm", RAMP), root / "IM0001").read_bytes()
    (root / "IM0001").write_bytes(data[: len(data) - 4000 - 12])  # before its pixel data
    Image.fromarray(RAMP.astype(np.uint8)).save(root / "SCREEN", format="PNG")
    (root / "BLOB").write_bytes(b"\x08\x00\x16\x00" + bytes(range(200)))  # a group 0008 start
    reasons = {s.path: s.reason for s in scan(root, progress=False).skipped}
    assert reasons["IM0001"].startswith("truncated or corrupt DICOM file: it ends before")
    assert reasons["SCREEN"].startswith("unsupported file type (no extension)")
    assert reasons["BLOB"].startswith("unsupported file type (no extension)")


@pytest.mark.parametrize(
    ("head", "size", "bare"),
    [
        (b"\x08\x00\x16\x00UI\x1a\x00" + b"1.2" * 3, 100, True),  # explicit VR, 16-bit length
        (b"\x08\x00\x16\x00\x1a\x00\x00\x00" + b"1.2" * 3, 100, True),  # implicit VR
        (b"\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00", 100, True),  # reserved, 32-bit length
        (b"\x08\x00\x00\x00UL\x04\x00\x10\x00\x00\x00", 100, True),  # the group's length
        (b"\x08\x00\x16\x00\x1a\x00\x00\x00" + b"1.2" * 3, 30, False),  # past the file's end
        (b"\x08\x00\x16\x00\x1b\x00\x00\x00" + b"1.2" * 3, 100, False),  # odd length
        (b"\x08\x00\xf0\xff\x1a\x00\x00\x00" + b"1.2" * 3, 100, False),  # unknown element
        (b"\x02\x00\x01\x00OB\x01\x00\x02\x00\x00\x00", 100, False),  # reserved bytes set
        (b"\x10\x00\x10\x00PN\x06\x00Doe^J ", 100, False),  # group 0010 first
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 100, False),
        (b"\x08\x00\x16\x00", 4, False),  # too short for an element
    ],
)
def test_a_bare_dataset_is_told_by_its_first_element_only(
    head: bytes, size: int, bare: bool
) -> None:
    from labeler.ingest.dicom import starts_bare_dataset

    assert starts_bare_dataset(head, size) is bare


# -- the probe refuses what the decoder refuses ------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"BitsAllocated": 13}, "A (0028,0100) 'Bits Allocated' value of '13' is invalid"),
        ({"SamplesPerPixel": 2}, "A (0028,0002) 'Samples per Pixel' value of '2' is invalid"),
        ({"PixelRepresentation": 2}, "A (0028,0103) 'Pixel Representation' value of '2'"),
        ({"PhotometricInterpretation": "FOO"}, "Unknown (0028,0004) 'Photometric Interpretation'"),
    ],
    ids=["bits-13", "two-samples", "representation-2", "unknown-photometric"],
)
def test_the_probe_refuses_what_the_decoder_refuses_with_the_same_reason(
    tmp_path: Path, tags: dict, reason: str
) -> None:
    import pydicom

    path = write_dicom(tmp_path / "odd.dcm", RAMP)
    ds = pydicom.dcmread(path)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.save_as(path)
    reasons = []
    for read in (probe, load_image):
        with pytest.raises(ImageError) as info:
            read(path)
        reasons.append(str(info.value))
    (skipped,) = scan(tmp_path, progress=False).skipped
    assert reasons == [skipped.reason] * 2
    assert skipped.reason.startswith(f"DICOM image description is invalid: {reason}")


def test_the_scan_reads_the_head_of_a_file_named_by_its_uid_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    from labeler.ingest import dicom

    path = write_dicom(tmp_path / "1.2.840.113619.2.55.3.320", RAMP)
    opened = []

    def counting_open(file, *args, **kwargs):
        opened.append(Path(file).name)
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(dicom, "open", counting_open, raising=False)
    assert [f.path for f in scan(tmp_path, progress=False).images] == [path.name]
    assert opened == [path.name]


# -- what the libraries print about a bad file: its reason, not noise on stderr ----------------


def test_pydicom_warnings_about_a_cut_file_are_not_shown(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _truncated_jpeg(tmp_path / "cut.dcm")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for read in (probe, load_image):
            with pytest.raises(ImageError, match="truncated or corrupt DICOM file"):
                read(path)
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr().err == ""


def test_library_output_holds_back_pydicom_warnings_and_c_stderr_only(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import os

    from labeler.ingest.reasons import library_output

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with library_output(c_stderr=True) as said:
            warnings.warn_explicit("cut", UserWarning, "filereader.py", 1, "pydicom.filereader")
            warnings.warn("ours", RuntimeWarning, stacklevel=1)  # not pydicom's: shown
            os.write(2, b"Corrupt JPEG data\n\n")  # as a C library writes it
    assert [str(w.message) for w in caught] == ["ours"]
    assert said == ["Corrupt JPEG data"]
    assert capfd.readouterr().err == ""


def test_library_output_leaves_stderr_to_other_threads(capfd: pytest.CaptureFixture[str]) -> None:
    """Descriptor 2 is the whole process's: a thread that took it would swallow the others'."""
    import os
    import threading

    from labeler.ingest.reasons import library_output

    said: list[str] = []

    def decode() -> None:
        with library_output(c_stderr=True) as lines:
            os.write(2, b"from a server thread\n")
        said.extend(lines)

    thread = threading.Thread(target=decode)
    thread.start()
    thread.join()
    assert said == [] and capfd.readouterr().err == "from a server thread\n"


def _cut_first_frame(path: Path, *, end_marker: bool) -> Path:
    """Rewrite an encapsulated DICOM file with its one frame cut in half, the encapsulation
    intact; `end_marker` appends a JPEG end of image (FFD9), as a careless writer does."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(path)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[: len(frame) // 2] + b"\xff\xd9" * end_marker])
    ds.save_as(path)
    return path


@pytest.mark.parametrize(
    ("syntax", "dtype", "end_marker", "reason"),
    [
        (
            "JPEGBaselineProcess1",
            np.uint8,
            True,
            "truncated DICOM pixel data: Corrupt JPEG data: premature end of data segment",
        ),
        (
            "JPEGLosslessProcess14_1",
            np.uint16,
            True,
            "truncated DICOM pixel data: Corrupt JPEG data: premature end of data segment",
        ),
        (
            "JPEG2000Lossless",
            np.uint16,
            False,
            "cannot decode DICOM pixel data: Tile part length size inconsistent with stream length",
        ),
    ],
    ids=["jpeg-baseline", "jpeg-lossless", "jpeg-2000"],
)
def test_what_a_decoder_prints_about_a_cut_frame_becomes_the_reason(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    syntax: str,
    dtype,
    end_marker: bool,
    reason: str,
) -> None:
    """GDCM's libjpeg filled a cut JPEG in grey and printed to stderr; OpenJPEG printed why it
    failed, while the exception said "'NoneType' object has no attribute 'encode'"."""
    pixels = np.random.default_rng(3).integers(0, 250, size=(64, 64)).astype(dtype)
    packed = recompress(write_dicom(tmp_path / "plain.dcm", pixels), tmp_path / "p.dcm", syntax)
    cut = _cut_first_frame(packed, end_marker=end_marker)
    assert probe(cut) == (64, 64)  # the header is sound: only decoding finds the damage
    capfd.readouterr()
    with pytest.raises(ImageError, match=re.escape(reason)):
        load_image(cut)
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- pixel identity


def _edited_header(source: Path, out: Path, **tags) -> Path:
    """`source` with its header edited as an anonymiser or a PACS re-export does: patient data,
    dates and UIDs replaced, a private tag added, and `tags`."""
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(source)
    ds.PatientName, ds.PatientID, ds.StudyDate = "ANONYMOUS", "0001", "19000101"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.add_new(0x00091010, "LO", "site 7")
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(out)
    return out


# 40 x 50 uint16 is read with the header; 300 x 300 (180 kB) is left on disk until read.
@pytest.mark.parametrize("side", [None, 300])
@pytest.mark.parametrize("syntax", [None, "JPEGLSLossless"])
def test_pixel_identity_survives_header_edits_not_pixel_edits(
    tmp_path: Path, side: int | None, syntax: str | None
) -> None:
    from labeler.config import MAX_PIXELS
    from labeler.ingest.dicom import pixel_identity

    pixels = RAMP if side is None else (np.arange(side * side) % 2000).reshape(side, side)
    original = write_dicom(tmp_path / "a.dcm", pixels.astype(np.uint16), bits_stored=12)
    if syntax:
        original = recompress(original, tmp_path / "c.dcm", syntax)
    anon = _edited_header(original, tmp_path / "anon.dcm", WindowCenter=900, WindowWidth=1800)
    assert anon.read_bytes() != original.read_bytes()

    def identity(path: Path) -> str:
        return pixel_identity(path, max_pixels=MAX_PIXELS)

    assert identity(anon) == identity(original)
    # What says how to read the stored values is part of the image; so are the values.
    for tags in ({"PhotometricInterpretation": "MONOCHROME1"}, {"BitsStored": 16}):
        assert identity(_edited_header(original, tmp_path / "other.dcm", **tags)) != identity(
            original
        )
    other = pixels.astype(np.uint16).copy()
    other[0, 0] += 1
    changed = write_dicom(tmp_path / "b.dcm", other, bits_stored=12)
    if syntax:
        changed = recompress(changed, tmp_path / "bc.dcm", syntax)
    assert identity(changed) != identity(original)


def test_the_scan_gives_dicom_files_their_pixel_identity(tmp_path: Path) -> None:
    """Also for content it knew without one (a project made before identities), and only then
    does it read a known file's header again."""
    import sys

    from labeler.config import MAX_PIXELS
    from labeler.ingest import dicom
    from labeler.ingest.dicom import pixel_identity

    scanning = sys.modules["labeler.ingest.scan"]  # the module: labeler.ingest.scan is its function
    reads = []

    def counted(read):
        return lambda path: reads.append(path) or read(path)

    write_dicom(tmp_path / "IM0", RAMP)
    Image.fromarray(RAMP.astype(np.uint8)).save(tmp_path / "a.png")
    first = {i.path: i for i in scan(tmp_path, progress=False).images}
    assert first["IM0"].pixels == pixel_identity(tmp_path / "IM0", max_pixels=MAX_PIXELS)
    assert first["a.png"].pixels is None
    known = {i.hash: (i.width, i.height, None) for i in first.values()}
    again = {i.path: i for i in scan(tmp_path, progress=False, known=known).images}
    assert again == first
    known = {i.hash: (i.width, i.height, i.pixels) for i in first.values()}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scanning, "pixel_identity", lambda *a, **k: pytest.fail("read again"))
        assert {i.path: i for i in scan(tmp_path, progress=False, known=known).images} == first
        mp.setattr(dicom, "_read", counted(dicom._read))
        write_dicom(tmp_path / "IM1", RAMP[::-1])
        new = {i.path: i for i in scan(tmp_path, progress=False, known=known).images}
    assert new["IM1"].pixels == pixel_identity(tmp_path / "IM1", max_pixels=MAX_PIXELS)
    assert reads == [tmp_path / "IM1"]  # a new file's header is read once, not once a check
