"""Does fine-tuning help where frozen features are weak? Fashion-MNIST through the offline
ImageNet backbone (frozen: about 68% at 5 labels a class) before and after fine-tuning on the
labeled images, same pool, same labels, same heads; and test-time augmentation of the support
(frozen backbone, each labeled vector averaged over augmented views).

    python -m labeler.bench.finetune [--per-class 100] [--shots 10] [--steps 50] [--seeds 2]

Prints, per seed, the accuracy of `protonet` and `auto` on the unlabeled pool with frozen and
with fine-tuned features, and the time the fine-tuning took on this machine's device.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from PIL import Image

from labeler.bench.fmnist import balanced_sample, load_fashion_mnist
from labeler.config import DEFAULT_BACKBONE, DEFAULT_BATCH_SIZE
from labeler.embed import create_embedder
from labeler.finetune import finetune_backbone
from labeler.finetune.trainer import FINETUNE_STEPS, TRAIN_BLOCKS
from labeler.finetune.tta import support_views
from labeler.heads import create_head

HEADS = ("protonet", "auto")
IMAGE_SIZE = 112  # what `init` chooses for 28 px images


def embed(embedder, images: list[Image.Image]) -> np.ndarray:
    out = []
    for start in range(0, len(images), DEFAULT_BATCH_SIZE):
        batch = torch.stack(
            [embedder.preprocess(im) for im in images[start : start + DEFAULT_BATCH_SIZE]]
        )
        out.append(embedder.forward(batch))
    return np.concatenate(out)


def accuracies(
    x: np.ndarray, y: np.ndarray, support: np.ndarray, support_x: np.ndarray | None = None
) -> dict[str, float]:
    """Accuracy of each head on the pool rows outside `support` (whose vectors may be replaced
    by `support_x`)."""
    rest = np.setdiff1d(np.arange(len(y)), support)
    sx = x[support] if support_x is None else support_x
    out = {}
    for name in HEADS:
        head = create_head(name).fit(sx, y[support], X_pool=x)
        out[name] = float(np.mean(head.predict_pool_proba()[rest].argmax(axis=1) == y[rest]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labeler.bench.finetune", description=__doc__)
    p.add_argument("--per-class", type=int, default=100, help="pool images per class")
    p.add_argument("--shots", type=int, default=10, help="labeled images per class")
    p.add_argument("--steps", type=int, default=FINETUNE_STEPS)
    p.add_argument("--blocks", type=int, default=TRAIN_BLOCKS)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    pixels, labels = load_fashion_mnist("test")
    for seed in range(args.seeds):
        rows = balanced_sample(labels, args.per_class, seed=seed)
        images = [Image.fromarray(a).convert("RGB") for a in pixels[rows]]
        y = labels[rows]
        rng = np.random.default_rng(seed)
        support = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), args.shots, replace=False) for c in range(10)]
        )
        embedder = create_embedder(DEFAULT_BACKBONE, device=args.device, image_size=IMAGE_SIZE)
        frozen_x = embed(embedder, images)
        frozen = accuracies(frozen_x, y, support)
        views = support_views(embedder, [images[i] for i in support], seed=seed)
        tta = accuracies(frozen_x, y, support, views)
        start = time.perf_counter()
        report = finetune_backbone(
            embedder.model,
            [images[i] for i in support],
            y[support],
            preprocess=embedder.preprocess,
            image_size=embedder.image_size,
            device=embedder.device,
            steps=args.steps,
            blocks=args.blocks,
            seed=seed,
        )
        tuned = accuracies(embed(embedder, images), y, support)
        total = time.perf_counter() - start
        print(
            f"seed {seed}: {args.shots} labels a class, pool {len(y)}; fine-tuned {report.steps} "
            f"steps on {report.device} in {report.seconds:.0f} s (+ re-embedding: {total:.0f} s), "
            f"loss {report.first_loss:.2f} -> {report.last_loss:.2f}"
        )
        for name in HEADS:
            print(
                f"  {name:9s} frozen {100 * frozen[name]:5.1f}%  support TTA "
                f"{100 * tta[name]:5.1f}%  ({100 * (tta[name] - frozen[name]):+.1f} points)"
            )
            print(
                f"  {name:9s} frozen {100 * frozen[name]:5.1f}%  fine-tuned "
                f"{100 * tuned[name]:5.1f}%  ({100 * (tuned[name] - frozen[name]):+.1f} points)"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
