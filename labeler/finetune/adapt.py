"""Domain adaptation of the backbone's batch-norm statistics to a project's own images (AdaBN).

A backbone's batch-norm layers normalise with the mean and variance of ImageNet activations.
Re-estimating them on the project's images (Li et al. 2016, "Revisiting batch normalization for
practical domain adaptation") needs no labels: the pool is run through the network once with
those layers counting. Re-estimating only the last few layers keeps the early, generic filters
as trained; `python -m labeler.bench.adapt` measures what it does (all layers hurt, the last
four help, on two real sets). The adapted weights are saved as a checkpoint, so the project's
vectors get a new model key and the old ones stay cached.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from labeler.errors import ImageError, LabelerError

ADAPT_BN_LAYERS = 4  # the last batch-norm layers re-estimated on the project's images
ADAPT_SAMPLE = 2000  # images the statistics are estimated from (a seeded sample of a bigger pool)
ADAPT_BATCH = 64
ADAPTED_DIR = "adapted"


def adapt_batchnorm(
    model: nn.Module, batches: Iterable[torch.Tensor], *, layers: int | None
) -> int:
    """Re-estimate the running mean and variance of the last `layers` (None: all) batch-norm
    layers of
    `model` from `batches` ((B, 3, H, W) float32 tensors on the model's device), each batch's
    statistics weighted equally; all other weights and statistics stay as they were. The model
    is left in eval mode. Returns the number of images seen."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise LabelerError(
            f"{type(model).__name__} has no batch-norm layers to adapt; adaptation works on "
            "convolutional backbones such as the default efficientnet_lite0"
        )
    if layers is not None and not 1 <= layers <= len(norms):
        raise LabelerError(
            f"--layers must be from 1 to {len(norms)} (the batch-norm layers of "
            f"{type(model).__name__}), got {layers}"
        )
    chosen = norms if layers is None else norms[-layers:]
    momenta = [m.momentum for m in chosen]
    model.eval()
    for m in chosen:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches, not an exponential one
        m.train()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch)
                seen += len(batch)
    finally:
        for m, momentum in zip(chosen, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    if seen == 0:
        raise LabelerError("no images to adapt the batch-norm statistics to")
    return seen


def adapt_checkpoint(
    folder: Path,
    files: list[Path],
    *,
    backbone: str,
    image_size: int,
    checkpoint: Path | None,
    device: str = "auto",
    layers: int = ADAPT_BN_LAYERS,
    progress: bool = True,
) -> Path:
    """Adapt `backbone` (at `image_size`, from `checkpoint` or its own weights) to the image
    files; save the weights under folder/adapted/ and return the checkpoint's path."""
    from labeler.embed import create_embedder
    from labeler.finetune.checkpoint import save_checkpoint
    from labeler.ingest.decode import load_image

    embedder = create_embedder(
        backbone, device=device, image_size=image_size, checkpoint=checkpoint
    )
    model = getattr(embedder, "model", None)
    if not isinstance(model, nn.Module):
        raise LabelerError(f"backbone {backbone!r} has no network whose statistics could adapt")

    def batches():
        bar = tqdm(
            total=len(files), desc="adapt", unit="img", file=sys.stderr, disable=not progress
        )
        for start in range(0, len(files), ADAPT_BATCH):
            chunk = files[start : start + ADAPT_BATCH]
            tensors = []
            for f in chunk:
                with suppress(ImageError):  # changed or gone since the scan: the next one says
                    tensors.append(embedder.preprocess(load_image(f)))
            if tensors:
                yield torch.stack(tensors).to(embedder.device)
            bar.update(len(chunk))
        bar.close()

    adapt_batchnorm(model, batches(), layers=layers)
    return save_checkpoint(model, folder / ADAPTED_DIR, backbone)


def sample_files(files: list[Path], *, size: int = ADAPT_SAMPLE, seed: int = 0) -> list[Path]:
    """All files, or a seeded sample of `size` of them in their original order."""
    if len(files) <= size:
        return list(files)
    keep = np.sort(np.random.default_rng(seed).choice(len(files), size, replace=False))
    return [files[i] for i in keep]
