"""Batched embedding of image files: decode and preprocess, then forward in batches.

Each file is decoded with ``labeler.ingest.load_image`` and preprocessed by the embedder; the
network runs on whole batches in the main process. A file that cannot be decoded never stops the
run: its row is zeros, ``ok`` is False and ``errors`` holds the reason.

Where decoding runs (``num_workers=None``):

* On an accelerator, in worker processes (a torch DataLoader, pinned memory): all cores but one,
  at most ``EMBED_MAX_ACCELERATOR_WORKERS``; the main process only feeds the device, which
  outruns the decoding (measured figures in ``labeler.config``).
* On the CPU, the forward needs the cores too, and a worker that takes a core from torch's
  threads stalls the forward at every parallel region. So the first ``EMBED_PROBE_BATCHES``
  batches are decoded in-process, timing decode against forward, and :func:`plan_cpu_workers`
  picks workers and torch threads for the rest. Measured on 2 cores at 112 px: for 28 px PNGs
  (decode ~6% of the forward) in-process decoding reaches the model-only rate while one worker
  loses ~13%; for 512 px PNGs (decode ~1.3x the forward) one worker plus one torch thread is
  ~30% faster than in-process decoding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, default_collate

from labeler.config import (
    DEFAULT_BATCH_SIZE,
    EMBED_MAX_ACCELERATOR_WORKERS,
    EMBED_MAX_WORKERS,
    EMBED_PROBE_BATCHES,
    EMBED_WORKER_MIN_GAIN,
)
from labeler.embed.base import Embedder
from labeler.errors import ImageError, LabelerError

Batch = tuple[torch.Tensor, torch.Tensor, list[str]]
_log = logging.getLogger(__name__)
CHANGED = (
    "the file changed while init ran (its bytes are no longer those the scan read); run init "
    "again to take it in as it is now"
)


@dataclass
class EmbedResult:
    """Vectors of N files, in the order of the paths given.

    Attributes:
        vectors: (N, D) float32 raw features; rows of failed files are zeros.
        ok: (N,) bool, False for files that could not be decoded.
        errors: index -> reason, for the failed files.
    """

    vectors: np.ndarray
    ok: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)


class ImageFileDataset(Dataset):
    """Item i: ``(i, (3, S, S) float32 tensor, reason)``; reason is "" on success, and the
    tensor zeros on failure. With `hashes` (the sha256 of each file as scanned), a file whose
    bytes are no longer those fails (`CHANGED`): its vector would be kept under the hash of
    other content."""

    def __init__(
        self,
        paths: Sequence[Path],
        preprocess: Callable[[Image.Image], torch.Tensor],
        image_size: int,
        hashes: Sequence[str] | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.preprocess = preprocess
        self.image_size = int(image_size)
        self.hashes = hashes

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, str]:
        from labeler.ingest import load_image
        from labeler.ingest.scan import sha256_file

        path = self.paths[index]
        try:
            image = self.preprocess(load_image(path))
            # After decoding: content changed before or during the decode is caught.
            if self.hashes is not None and sha256_file(path) != self.hashes[index]:
                return index, torch.zeros(3, self.image_size, self.image_size), CHANGED
            return index, image, ""
        except ImageError as exc:
            reason = str(exc) or type(exc).__name__
        except Exception as exc:  # a bad file must not stop a run over thousands
            reason = f"{type(exc).__name__}: {exc}"
        return index, torch.zeros(3, self.image_size, self.image_size), reason


def collate_items(items: list[tuple[int, torch.Tensor, str]]) -> Batch:
    """-> indices (B,) int64, images (B, 3, S, S) float32, reasons (B,) ("" when decoded)."""
    indices = torch.tensor([item[0] for item in items], dtype=torch.int64)
    images = default_collate([item[1] for item in items])  # in shared memory inside a worker
    return indices, images, [item[2] for item in items]


def available_cpus() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_num_workers(device: torch.device, n_files: int, batch_size: int) -> int:
    """Decode workers without measuring: none for a single batch (starting processes costs
    more) or on the CPU (see :func:`plan_cpu_workers`), all cores but one on an accelerator."""
    if n_files <= batch_size or device.type == "cpu":
        return 0
    return max(1, min(EMBED_MAX_ACCELERATOR_WORKERS, available_cpus() - 1))


def plan_cpu_workers(
    decode_s: float, forward_s: float, *, cpus: int, threads: int
) -> tuple[int, int]:
    """Decode workers and torch threads for a CPU run, from one batch's timings.

    Args:
        decode_s: seconds to decode and preprocess the batch in one thread.
        forward_s: seconds of its forward with ``threads`` torch threads.
        cpus: cores available.
        threads: torch threads now.

    Returns:
        ``(workers, threads)`` minimising the predicted time per batch: in-process decoding
        costs ``decode + forward``; ``w`` workers beside ``t = cpus - w`` threads cost
        ``max(forward * threads / t, decode / w)``. Workers must win by ``EMBED_WORKER_MIN_GAIN``.
    """
    best_time, best = decode_s + forward_s, (0, threads)
    for workers in range(1, min(EMBED_MAX_WORKERS, cpus - 1) + 1):
        t = max(1, min(threads, cpus - workers))
        predicted = max(forward_s * threads / t, decode_s / workers)
        if predicted < best_time * (1 - EMBED_WORKER_MIN_GAIN):
            best_time, best = predicted, (workers, t)
    return best


def embed_files(
    embedder: Embedder,
    paths: Sequence[Path],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_workers: int | None = None,
    progress: bool = True,
    on_vectors: Callable[[np.ndarray, np.ndarray], None] | None = None,
    hashes: Sequence[str] | None = None,
) -> EmbedResult:
    """Embed image files with ``embedder``.

    Args:
        embedder: any :class:`~labeler.embed.base.Embedder`.
        paths: N image files.
        batch_size: images per forward pass.
        num_workers: decode processes; None chooses (see the module docstring), 0 decodes in
            this process.
        progress: show one tqdm bar on stderr (unit "img").
        on_vectors: called after each batch with the indices into ``paths`` (B,) int64 of the
            files it embedded and their vectors (B, D) float32, so that a caller can keep them
            before the run ends (an interrupted run then loses one batch, not all).
        hashes: (N,) sha256 of each file as a scan read it; a file whose content changed since
            fails with the reason `CHANGED`, rather than give its vector to that hash.

    Returns:
        An :class:`EmbedResult` with (N, D) float32 vectors in the order of ``paths``.

    Raises:
        LabelerError: bad ``batch_size`` / ``num_workers``, or the device ran out of memory.
    """
    from tqdm.auto import tqdm

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise LabelerError(f"batch size must be a positive integer, got {batch_size!r}")
    if num_workers is not None and (
        isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0
    ):
        raise LabelerError(f"number of workers must be an integer >= 0, got {num_workers!r}")
    n = len(paths)
    result = EmbedResult(np.zeros((n, embedder.dim), dtype=np.float32), np.zeros(n, dtype=bool))
    if n == 0:
        return result
    preprocess = getattr(embedder, "preprocessor", None) or embedder.preprocess
    dataset = ImageFileDataset(paths, preprocess, embedder.image_size, hashes)
    threads = torch.get_num_threads()
    start = 0
    with tqdm(total=n, unit="img", file=sys.stderr, disable=not progress, desc="embed") as bar:
        if num_workers is None and embedder.device.type == "cpu":
            start = min(n, EMBED_PROBE_BATCHES * batch_size)
            decode_s, forward_s = _run(
                embedder, _loader(dataset, 0, start, batch_size, 0), result, bar, on_vectors
            )
            num_workers, threads = plan_cpu_workers(
                decode_s, forward_s, cpus=available_cpus(), threads=threads
            )
            if start < n:
                _log.info(
                    "decode %.1f ms, forward %.1f ms a batch: %d decode workers, %d torch threads",
                    *(1e3 * decode_s, 1e3 * forward_s, num_workers, threads),
                )
        elif num_workers is None:
            num_workers = default_num_workers(embedder.device, n, batch_size)
        if start < n:
            loader = _loader(dataset, start, n, batch_size, num_workers, embedder.device)
            with _torch_threads(threads):
                _run(embedder, loader, result, bar, on_vectors)
    return result


def _loader(
    dataset: ImageFileDataset,
    start: int,
    stop: int,
    batch_size: int,
    num_workers: int,
    device: torch.device | None = None,
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=range(start, stop),
        num_workers=num_workers,
        collate_fn=collate_items,
        pin_memory=device is not None and device.type == "cuda",
    )


def _run(
    embedder: Embedder,
    loader: DataLoader,
    result: EmbedResult,
    bar,
    on_vectors: Callable[[np.ndarray, np.ndarray], None] | None,
) -> tuple[float, float]:
    """Embed the loader's batches into ``result``, telling ``on_vectors`` (see `embed_files`);
    -> (decode s, forward s) of the last batch."""
    decode_s = forward_s = 0.0
    batches = iter(loader)
    while True:
        tick = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            return decode_s, forward_s
        tock = time.perf_counter()
        rows = _embed_batch(embedder, batch, result)
        if on_vectors is not None and len(rows):
            on_vectors(rows, result.vectors[rows])
        bar.update(len(batch[0]))
        decode_s, forward_s = tock - tick, time.perf_counter() - tock


def _embed_batch(embedder: Embedder, batch: Batch, result: EmbedResult) -> np.ndarray:
    """Embed one batch into ``result``; -> the (B,) int64 indices it embedded."""
    indices, images, reasons = batch
    good = torch.tensor([not r for r in reasons], dtype=torch.bool)
    for index, reason in zip(indices.tolist(), reasons, strict=True):
        if reason:
            result.errors[index] = reason
    if not good.any():
        return np.zeros(0, dtype=np.int64)
    images = images if bool(good.all()) else images[good]
    rows = indices[good].numpy()
    try:
        out = embedder.forward(images)
    except torch.cuda.OutOfMemoryError as exc:
        raise LabelerError(
            f"the {embedder.device.type} device ran out of memory at batch size {len(indices)}; "
            "pass a smaller --batch-size"
        ) from exc
    if out.shape != (len(images), embedder.dim):
        raise LabelerError(
            f"embedder {embedder.key!r} returned shape {tuple(out.shape)} for a batch of "
            f"{len(images)}; expected ({len(images)}, {embedder.dim})"
        )
    result.vectors[rows] = out
    result.ok[rows] = True
    return rows.astype(np.int64)


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` torch intra-op threads, restoring the previous number after."""
    before = torch.get_num_threads()
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
