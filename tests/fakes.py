"""Test doubles: an embedder without a neural network.

``FakeEmbedder`` satisfies :class:`labeler.embed.Embedder` with cheap, deterministic features of
the image resized to 32x32, so tests of everything downstream of embedding (cache, index, heads,
project) run in milliseconds. ``register_fake()`` makes it available as ``create_embedder("fake")``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

FAKE_NAME = "fake"
FAKE_SIZE = 32
FAKE_DIM = 16


class FakePreprocessor:
    """PIL image -> (3, S, S) float32 in [0, 1], bilinear resize (no crop). Picklable."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32) / 255.0  # (S, S, 3)
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


class FakeEmbedder:
    """16-d features of the image resized to S x S (S = 32 by default): 3 channel means (minus
    0.5), 3 channel stds, the grey level at the centres of a 3x3 grid (minus the mean grey
    level) and the mean absolute horizontal gradient. Deterministic; key ``"fake@<S>"``.

    Like a real embedder, images of one colour class are close (cosine ~0.95-0.99) but,
    unless identical, not near-duplicates, and different colours are far apart.
    """

    dim = FAKE_DIM

    def __init__(self, *, image_size: int = FAKE_SIZE, device: torch.device | None = None) -> None:
        if image_size < 3:
            raise ValueError(f"image_size must be >= 3, got {image_size}")
        self.image_size = int(image_size)
        self.key = f"{FAKE_NAME}@{self.image_size}"
        self.device = device if device is not None else torch.device("cpu")
        self.preprocessor = FakePreprocessor(self.image_size)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> (3, S, S) float32 in [0, 1]."""
        return self.preprocessor(image)

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        """(B, 3, S, S) float32 -> (B, 16) float32."""
        x = batch.detach().to("cpu", torch.float64)
        means = x.mean(dim=(2, 3))  # (B, 3)
        stds = x.std(dim=(2, 3), correction=0)  # (B, 3)
        grey = x.mean(dim=1)  # (B, S, S)
        centres = [(2 * i + 1) * self.image_size // 6 for i in range(3)]
        grid = torch.stack([grey[:, r, c] for r in centres for c in centres], dim=1)  # (B, 9)
        gradient = (grey[:, :, 1:] - grey[:, :, :-1]).abs().mean(dim=(1, 2))
        level = grey.mean(dim=(1, 2))
        features = torch.cat([means - 0.5, stds, grid - level[:, None], gradient[:, None]], dim=1)
        return features.numpy().astype(np.float32)


def register_fake() -> None:
    """Register ``FakeEmbedder`` as ``create_embedder("fake")`` (idempotent).

    Its input size is always 32 (key ``"fake@32"``), whatever ``image_size`` is asked for, as
    a backbone with a fixed input size would.
    """
    from labeler.embed import register_embedder

    @register_embedder(FAKE_NAME)
    def _create_fake(
        *, device: torch.device, image_size: int | None = None, checkpoint: Path | None = None
    ) -> FakeEmbedder:
        return FakeEmbedder(image_size=FAKE_SIZE, device=device)
