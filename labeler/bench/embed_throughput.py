"""Embedding throughput: the whole pipeline beside the model alone, same run, same settings.

    python -m labeler.bench.embed_throughput [--n 1000] [--batch-size 64] [--image-size 112]
                                             [--device auto] [--workers N] [--repeats 5]
                                             [--format png|dicom|dicom-jpegls] [--side PX]

Writes N real images (the Fashion-MNIST test set, 28x28 greyscale, from Debian's
``dataset-fashion-mnist`` via ``labeler.bench.fmnist``; synthetic ones when it is absent) as
files of ``--format`` to a temporary folder: PNG, or 12-bit DICOM with a window (uncompressed,
or JPEG-LS as PACS often store it), upscaled to ``--side`` pixels if given, then times

* pipeline: ``embed_files`` on those files (decode, resize, normalise, forward), and
* model only: ``embedder.forward`` on the same images already preprocessed in memory,

at the same batch size and resolution, alternately, each best of ``--repeats`` runs (shared
machines stall now and then), and prints both and their ratio. Exits with status 1 when the
ratio is below ``--min-ratio`` (default 0.9).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def synthetic_images(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    """(n, size, size) uint8 blobs and stripes, a stand-in when Fashion-MNIST is absent."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size), dtype=np.uint8)
    for i in range(n):
        cx, cy, r, f = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4), i % 5
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r**2)
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (f + 1) * xx)
        out[i] = np.clip(255 * (0.7 * blob + 0.3 * stripes), 0, 255).astype(np.uint8)
    return out


FORMATS = ("png", "dicom", "dicom-jpegls")
DICOM_SCALE = 16  # 8-bit pixels stored as 12-bit values, x16, under a window that maps them back


def upscaled(images: np.ndarray, side: int) -> np.ndarray:
    """(N, H, W) uint8 → (N, side, side) uint8, bilinear: study-sized images for decode costs."""
    return np.stack([np.asarray(Image.fromarray(im).resize((side, side))) for im in images])


def write_images(images: np.ndarray, folder: Path, form: str) -> list[Path]:
    """Write (N, H, W) uint8 images as files of format `form` (one of FORMATS); their paths."""
    from labeler.bench.dicomgen import recompress, write_dicom

    paths = []
    for i, pixels in enumerate(images):
        if form == "png":
            path = folder / f"img-{i:05d}.png"
            Image.fromarray(pixels).save(path)
        else:
            path = write_dicom(
                folder / f"img-{i:05d}.dcm",
                pixels.astype(np.uint16) * DICOM_SCALE,
                bits_stored=12,
                # DICOM's LINEAR window maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] to 0..255
                WindowCenter=255 * DICOM_SCALE / 2 + 0.5,
                WindowWidth=255 * DICOM_SCALE + 1,
            )
            if form == "dicom-jpegls":
                recompress(path, path, "JPEGLSLossless")
        paths.append(path)
    return paths


def time_model_only(embedder, batches: list[torch.Tensor]) -> float:
    """Seconds for ``forward`` over the preprocessed batches."""
    start = time.perf_counter()
    for batch in batches:
        embedder.forward(batch)
    if embedder.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def time_pipeline(embedder, paths: list[Path], batch_size: int, workers: int | None) -> float:
    from labeler.embed import embed_files

    start = time.perf_counter()
    result = embed_files(
        embedder, paths, batch_size=batch_size, num_workers=workers, progress=False
    )
    elapsed = time.perf_counter() - start
    if not result.ok.all():
        raise SystemExit(f"{(~result.ok).sum()} images failed: {result.errors}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    from labeler.bench.fmnist import FMNIST_DIR, load_fashion_mnist
    from labeler.embed import create_embedder
    from labeler.errors import LabelerError
    from labeler.ingest import load_image

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="images (default 1000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--workers", type=int, default=None, help="default: the pipeline's")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many runs each")
    parser.add_argument("--min-ratio", type=float, default=0.9)
    parser.add_argument("--format", choices=FORMATS, default="png", help="files to embed")
    parser.add_argument("--side", type=int, default=0, help="upscale the images to SIDE px")
    args = parser.parse_args(argv)

    try:
        images, source = load_fashion_mnist("test")[0][: args.n], f"Fashion-MNIST ({FMNIST_DIR})"
    except LabelerError as exc:
        images, source = synthetic_images(args.n), f"synthetic ({exc})"
    if args.side:
        images = upscaled(images, args.side)
    embedder = create_embedder(args.backbone, device=args.device, image_size=args.image_size)
    n, workers = len(images), args.workers
    print(f"images: {n} x {images.shape[2]}x{images.shape[1]} {args.format}, {source}")
    print(
        f"embedder: {embedder.key} on {embedder.device}, batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads, decode workers: "
        + ("chosen by embed_files (logged below)" if workers is None else str(workers))
    )
    logging.basicConfig(stream=sys.stdout, format="  embed_files: %(message)s")
    logging.getLogger("labeler.embed.pipeline").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="labeler-bench-") as tmp:
        paths = write_images(images, Path(tmp), args.format)
        tensors = [embedder.preprocess(load_image(p)) for p in paths]
        batches = [
            torch.stack(tensors[i : i + args.batch_size]) for i in range(0, n, args.batch_size)
        ]
        embedder.forward(batches[0])  # warm-up: allocator, kernels, thread pool
        model_s, pipe_s = [], []
        for _ in range(max(1, args.repeats)):
            model_s.append(time_model_only(embedder, batches))
            pipe_s.append(time_pipeline(embedder, paths, args.batch_size, workers))
    model_rate, pipe_rate = n / min(model_s), n / min(pipe_s)
    ratio = pipe_rate / model_rate
    print(f"model only: {model_rate:8.1f} img/s  (runs: {_fmt(n, model_s)})")
    print(f"pipeline:   {pipe_rate:8.1f} img/s  (runs: {_fmt(n, pipe_s)})")
    verdict = "met" if ratio >= args.min_ratio else "NOT met"
    print(f"ratio:      {ratio:8.1%}  (target >= {args.min_ratio:.0%}: {verdict})")
    return 0 if ratio >= args.min_ratio else 1


def _fmt(n: int, seconds: list[float]) -> str:
    return ", ".join(f"{n / s:.1f}" for s in seconds)


if __name__ == "__main__":
    sys.exit(main())
