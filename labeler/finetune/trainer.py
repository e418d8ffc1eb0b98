"""The training loop of `finetune_backbone` (see the package doc)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from labeler.config import ALL_BLOCKS
from labeler.errors import LabelerError

# Fashion-MNIST, 10 labels a class (labeler.bench.finetune): 150 steps on 2 blocks overfit the
# labels (ProtoNet +3, auto −2 points); 50 steps on the last block help both (+2.3, +1.0).
FINETUNE_STEPS = 50  # optimiser steps, unless the time budget ends first
FINETUNE_BATCH = 32
BACKBONE_LR = 1e-4  # small: the pretrained features are only nudged
HEAD_LR = 1e-2  # larger: the classifier starts from the class means
WEIGHT_DECAY = 1e-4
TRAIN_BLOCKS = 1  # last blocks of the backbone trained; 0 = only the layers after the blocks
CLASSIFIER_TEMPERATURE = 0.1  # cosine classifier: logits = cos / this
CROP_SCALE = (0.6, 1.0)  # random resized crop: share of the image kept


@dataclass(frozen=True)
class FinetuneReport:
    steps: int
    seconds: float
    device: str
    mixed_precision: bool
    trained_parameters: int
    first_loss: float  # mean training loss of the first and of the last tenth of the steps
    last_loss: float


def trainable_parameters(model: nn.Module, blocks: int | None) -> list[nn.Parameter]:
    """The parameters from the start of the last `blocks` entries of `model.blocks` onwards
    (named_parameters order: the later blocks and the layers after them); all of them when
    blocks is None or the model has no `blocks`. LabelerError when the model has fewer blocks.
    """
    named = list(model.named_parameters())
    stages = getattr(model, "blocks", None)
    if blocks is None or not isinstance(stages, nn.Sequential):
        return [p for _, p in named]
    if blocks > len(stages):
        raise LabelerError(
            f"cannot fine-tune the last {blocks} blocks: the backbone has {len(stages)}; pass "
            f"--blocks from 0 to {len(stages)}, or {ALL_BLOCKS} to train the whole backbone"
        )
    first = len(stages) - blocks
    if first < len(stages):
        begins = f"blocks.{first}."
        start = next(i for i, (name, _) in enumerate(named) if name.startswith(begins))
    else:  # no block: the layers after them (e.g. EfficientNet's conv_head, bn2)
        last_block = max(i for i, (name, _) in enumerate(named) if name.startswith("blocks."))
        start = last_block + 1
    return [p for _, p in named[start:]]


def finetune_backbone(
    model: nn.Module,
    images: Sequence[Image.Image],
    labels: np.ndarray,
    *,
    preprocess: Callable[[Image.Image], torch.Tensor],
    image_size: int,
    device: torch.device,
    steps: int = FINETUNE_STEPS,
    time_limit_s: float | None = None,
    blocks: int | None = TRAIN_BLOCKS,
    augment: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> FinetuneReport:
    """Train `model` (a backbone returning (B, D) pooled features) in place on labeled images.

    Args:
        images: N PIL images; labels: (N,) int classes 0..C-1, two classes or more.
        preprocess: PIL image → (3, S, S) float32 normalised tensor (the embedder's).
        image_size: S, the side of the random crops.
        blocks: last blocks trained (None: the whole backbone).
    The model is left in eval mode on `device`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(images) != len(labels) or len(np.unique(labels)) < 2:
        raise LabelerError(
            f"fine-tuning needs one label per image and two classes or more; got {len(images)} "
            f"images, {len(labels)} labels, {len(np.unique(labels))} classes"
        )
    if steps < 1:
        raise LabelerError(f"fine-tuning needs at least one step, got {steps}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = model.to(device)
    params = trainable_parameters(model, blocks)
    trainable = {id(p) for p in params}
    for p in model.parameters():
        p.requires_grad_(id(p) in trainable)
    augment_image = augmenter(image_size) if augment else None
    classifier = _init_classifier(model, images, labels, preprocess, device)
    opt = torch.optim.AdamW(
        [
            {"params": params, "lr": BACKBONE_LR},
            {"params": classifier.parameters(), "lr": HEAD_LR},
        ],
        weight_decay=WEIGHT_DECAY,
    )
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    losses: list[float] = []
    start = time.perf_counter()
    bar = tqdm(total=steps, desc="fine-tune", unit="step", file=sys.stderr, disable=not progress)
    _train_mode(model, trainable)
    for _ in range(steps):
        rows = rng.choice(len(images), min(FINETUNE_BATCH, len(images)), replace=False)
        batch = torch.stack(
            [preprocess(augment_image(images[i]) if augment_image else images[i]) for i in rows]
        ).to(device)
        target = torch.from_numpy(labels[rows]).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            logits = classifier(model(batch))
            loss = nn.functional.cross_entropy(logits.float(), target)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
    bar.close()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    tenth = max(1, len(losses) // 10)
    return FinetuneReport(
        steps=len(losses),
        seconds=time.perf_counter() - start,
        device=str(device),
        mixed_precision=amp,
        trained_parameters=sum(p.numel() for p in params),
        first_loss=float(np.mean(losses[:tenth])),
        last_loss=float(np.mean(losses[-tenth:])),
    )


class _CosineClassifier(nn.Module):
    def __init__(self, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(prototypes.clone())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        cos = (
            nn.functional.normalize(features, dim=1) @ nn.functional.normalize(self.weight, dim=1).T
        )
        return cos / CLASSIFIER_TEMPERATURE


def _init_classifier(model, images, labels, preprocess, device) -> _CosineClassifier:
    """A cosine classifier whose weights are the class means of the unit features, so that
    training starts from nearest-prototype predictions rather than from chance."""
    model.eval()
    feats = []
    with torch.no_grad():
        for start in range(0, len(images), FINETUNE_BATCH):
            batch = torch.stack([preprocess(im) for im in images[start : start + FINETUNE_BATCH]])
            feats.append(nn.functional.normalize(model(batch.to(device)).float(), dim=1))
    F = torch.cat(feats)
    target = torch.from_numpy(labels).to(device)
    sums = torch.zeros(int(labels.max()) + 1, F.shape[1], device=device).index_add_(0, target, F)
    return _CosineClassifier(nn.functional.normalize(sums, dim=1)).to(device)


def _train_mode(model: nn.Module, trainable: set[int]) -> None:
    """Train mode only for modules with trainable parameters: frozen batch-norm layers keep
    their running statistics."""
    model.eval()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and all(id(p) in trainable for p in own):
            module.train()


def augmenter(size: int) -> Callable[[Image.Image], Image.Image]:
    """Random resized crop to size x size, horizontal flip, mild brightness and contrast."""
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=CROP_SCALE, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.2, contrast=0.2),
        ]
    )
