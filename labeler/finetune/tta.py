"""Test-time augmentation of the support: each labeled image's vector becomes the mean of its
embeddings over a few augmented views (random resized crops, flips) and itself, a steadier
estimate of where its class lies than one view. No extra rows: held-out calibration is unchanged
(a view never lands in another row's fold)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from labeler.finetune.trainer import augmenter

TTA_VIEWS = 8  # augmented views per labeled image, besides the image itself


def support_views(
    embedder, images: list[Image.Image], *, views: int = TTA_VIEWS, seed: int = 0
) -> np.ndarray:
    """(N, D) float32: for each image, the mean embedding of itself and `views` augmentations."""
    torch.manual_seed(seed)
    augment = augmenter(embedder.image_size)
    out = []
    for image in images:
        batch = [embedder.preprocess(image)] + [
            embedder.preprocess(augment(image)) for _ in range(views)
        ]
        out.append(embedder.forward(torch.stack(batch)).mean(axis=0))
    return np.stack(out).astype(np.float32)
