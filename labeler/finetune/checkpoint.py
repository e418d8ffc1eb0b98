"""Fine-tune a project's embedder on labeled image files and save the weights as a checkpoint
that `create_embedder(backbone, checkpoint=...)` loads like any other local weights file."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch

from labeler.atomic import atomic_file
from labeler.errors import LabelerError
from labeler.finetune.trainer import FINETUNE_STEPS, TRAIN_BLOCKS, FinetuneReport, finetune_backbone

FINETUNED_DIR = "finetuned"


def finetune_checkpoint(
    folder: Path,
    files: list[Path],
    labels: list[str],
    *,
    backbone: str,
    image_size: int,
    checkpoint: Path | None,
    device: str = "auto",
    steps: int = FINETUNE_STEPS,
    time_limit_s: float | None = None,
    blocks: int | None = TRAIN_BLOCKS,
    progress: bool = True,
) -> tuple[Path, FinetuneReport]:
    """Fine-tune `backbone` (at `image_size`, from `checkpoint` or its own weights) on the image
    files with their labels; save the state dict under folder/finetuned/; return its path."""
    from labeler.embed import create_embedder
    from labeler.ingest.decode import load_image

    embedder = create_embedder(
        backbone, device=device, image_size=image_size, checkpoint=checkpoint
    )
    model = getattr(embedder, "model", None)
    if not isinstance(model, torch.nn.Module):
        raise LabelerError(f"backbone {backbone!r} has no trainable network to fine-tune")
    _, y = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    images = [load_image(f) for f in files]
    report = finetune_backbone(
        model,
        images,
        y,
        preprocess=embedder.preprocess,
        image_size=embedder.image_size,
        device=embedder.device,
        steps=steps,
        time_limit_s=time_limit_s,
        blocks=blocks,
        progress=progress,
    )
    return save_checkpoint(model, folder / FINETUNED_DIR, backbone), report


def save_checkpoint(model: torch.nn.Module, out: Path, backbone: str) -> Path:
    """Save the model's state dict as out/BACKBONE-DIGEST.pt (atomically; DIGEST is of the
    file's bytes, so equal weights share a file) and return its path."""
    out.mkdir(exist_ok=True)
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:12]
    path = out / f"{backbone.replace('/', '_').replace(':', '_')}-{digest}.pt"
    with atomic_file(path) as f:
        f.write(data)
    return path
