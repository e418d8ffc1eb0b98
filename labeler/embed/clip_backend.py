"""CLIP through open_clip, from local weights only: the "clip" embedder (image tower) and text
embeddings of class names in the same space, for zero-shot labels (labeler.heads.zeroshot).

Off unless CLIP weights are on this machine: nothing is downloaded. `--backbone clip --checkpoint
FILE` names an open_clip checkpoint of the architecture in LABELER_CLIP_MODEL (default ViT-B-32).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from labeler.embed.base import register_embedder
from labeler.embed.timm_backend import TimmEmbedder, keyed_embedder
from labeler.errors import LabelerError

CLIP_NAME = "clip"
DEFAULT_CLIP_MODEL = "ViT-B-32"
PROMPTS = ("a photo of a {}.", "an image of a {}.", "a close-up photo of a {}.")


def clip_model_name() -> str:
    return os.environ.get("LABELER_CLIP_MODEL", DEFAULT_CLIP_MODEL)


def load_clip(checkpoint: Path | str, *, model_name: str | None = None, device: str = "cpu"):
    """(model in eval mode, its tokenizer) from a local open_clip checkpoint file."""
    import open_clip

    model_name = model_name or clip_model_name()
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise LabelerError(
            f"CLIP weights {str(checkpoint)!r} not found; zero-shot labels need a local open_clip "
            f"checkpoint of {model_name} (nothing is downloaded)"
        )
    try:
        model, _, _ = open_clip.create_model_and_transforms(
            model_name, pretrained=str(checkpoint), device=device
        )
    except (RuntimeError, KeyError, ValueError) as exc:
        raise LabelerError(
            f"cannot load {str(checkpoint)!r} as open_clip {model_name} ({exc}); set "
            "LABELER_CLIP_MODEL to the checkpoint's architecture"
        ) from exc
    return model.eval(), open_clip.get_tokenizer(model_name)


class _ClipVision(torch.nn.Module):
    """CLIP's image tower as a backbone returning (B, D) image embeddings."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.clip = model
        self.num_features = int(model.text_projection.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(x)


@register_embedder(CLIP_NAME)
def create_clip_embedder(
    *, device: torch.device, image_size: int | None = None, checkpoint: Path | None = None
) -> TimmEmbedder:
    """Image embeddings of CLIP's vision tower, in the space of its text embeddings."""
    if checkpoint is None:
        raise LabelerError(
            "the clip backbone needs local weights: --checkpoint FILE (an open_clip checkpoint)"
        )
    model, _ = load_clip(checkpoint)
    cfg = model.visual.preprocess_cfg
    size = int(np.atleast_1d(cfg["size"])[-1])
    return keyed_embedder(
        _ClipVision(model),
        name=f"{CLIP_NAME}-{clip_model_name()}",
        image_size=size,
        checkpoint=checkpoint,
        data=cfg,
        device=device,
    )


def text_embeddings(
    class_names: Sequence[str], checkpoint: Path | str, *, prompts: Sequence[str] = PROMPTS
) -> np.ndarray:
    """(C, D) float32 unit text prototypes: the mean of each name's prompt embeddings."""
    model, tokenizer = load_clip(checkpoint)
    out = []
    with torch.inference_mode():
        for name in class_names:
            tokens = tokenizer([p.format(name) for p in prompts])
            e = torch.nn.functional.normalize(model.encode_text(tokens).float(), dim=1)
            out.append(e.mean(dim=0).numpy())
    out = np.stack(out)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)
