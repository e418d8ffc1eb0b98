"""Embedders built on timm models: the preprocessing, the batched forward, the generic backend.

Any timm model name works as a backbone (``"timm:resnet50"`` or plainly ``"resnet50"``). Its
pretrained weights are downloaded by timm, or read from a local file given as ``checkpoint``
(timm's own ``pretrained_cfg_overlay=dict(file=...)`` mechanism, which never touches the network
and drops the classifier of the file as the feature model has none).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from labeler.config import CHECKPOINT_KEY_HEX
from labeler.embed.weights import read_weights
from labeler.errors import LabelerError

_log = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"  # where timm's pretrained weights come from
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


@dataclass(frozen=True)
class ImagePreprocessor:
    """PIL image -> (3, S, S) float32 tensor: resize the short side to S, centre-crop, normalise.

    The crop box is computed on the source image and PIL resamples only that region, in one
    pass (``Image.resize(box=...)``); PIL's filters widen with the scale, so downscaling is
    antialiased, and ``reducing_gap`` first shrinks very large images by cheap integer
    reduction. Keeping the aspect ratio (rather than stretching) matches how timm evaluates
    models; a square source, the common case for tiles and scans, loses nothing. Small images
    are enlarged the same way (e.g. 28 -> 112 px).

    Picklable, so data-loader workers started with *spawn* receive it cheaply.
    """

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    reducing_gap: float | None = 3.0

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        box = (left, top, left + side, top + side)
        resample = _RESAMPLE.get(self.interpolation, Image.Resampling.BICUBIC)
        if image.size != (self.size, self.size):
            image = image.resize(
                (self.size, self.size), resample, box=box, reducing_gap=self.reducing_gap
            )
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8))  # (S, S, 3) uint8
        out = pixels.permute(2, 0, 1).contiguous().float()  # (3, S, S) float32, 0..255
        return out.sub_(self._shift).mul_(self._scale)

    @cached_property
    def _shift(self) -> torch.Tensor:
        return torch.tensor(self.mean, dtype=torch.float32).mul_(255.0).view(3, 1, 1)

    @cached_property
    def _scale(self) -> torch.Tensor:
        return torch.tensor(self.std, dtype=torch.float32).mul_(255.0).reciprocal_().view(3, 1, 1)


class TimmEmbedder:
    """An :class:`~labeler.embed.base.Embedder` around a timm model built with ``num_classes=0``.

    The model is put in eval mode on ``device``; on CUDA it runs in channels-last memory format
    under float16 autocast. :meth:`forward` always returns float32 numpy.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        key: str,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        interpolation: str = "bicubic",
        device: torch.device,
    ) -> None:
        self.key = key
        self.image_size = int(image_size)
        self.device = device
        self.dim = int(model.num_features)
        self.preprocessor = ImagePreprocessor(
            size=self.image_size,
            mean=tuple(float(v) for v in mean),
            std=tuple(float(v) for v in std),
            interpolation=interpolation,
        )
        self.channels_last = device.type == "cuda"
        self.autocast_dtype = torch.float16 if device.type == "cuda" else None
        model = model.eval().to(device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model

    def __repr__(self) -> str:
        return f"TimmEmbedder(key={self.key!r}, dim={self.dim}, device={self.device})"

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> (3, S, S) float32 tensor, normalised with the model's mean and std."""
        return self.preprocessor(image)

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        """(B, 3, S, S) float32 tensor -> (B, D) float32 numpy array of pooled features."""
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, S, S) batch, got shape {tuple(batch.shape)}")
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=self.device.type,
                dtype=self.autocast_dtype or torch.float32,
                enabled=self.autocast_dtype is not None,
            ),
        ):
            x = batch.to(self.device, non_blocking=True)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            features = self.model(x)
        return features.float().cpu().numpy()


def is_timm_model(name: str) -> bool:
    """Whether timm knows ``name`` (an architecture, optionally with a ``.tag``)."""
    import timm

    return bool(timm.is_model(name))


def file_digest(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def embedder_key(name: str, image_size: int, checkpoint: Path | None) -> str:
    """``name@size``, with ``+<content hash>`` of a local checkpoint: vectors of other weights
    never share a cache folder."""
    if checkpoint is None:
        return f"{name}@{image_size}"
    return f"{name}+{file_digest(checkpoint)[:CHECKPOINT_KEY_HEX]}@{image_size}"


def keyed_embedder(
    model: torch.nn.Module,
    *,
    name: str,
    image_size: int,
    checkpoint: Path | None,
    data: Mapping,
    device: torch.device,
) -> TimmEmbedder:
    """A :class:`TimmEmbedder` keyed by :func:`embedder_key`, normalised as ``data`` says.

    ``data`` holds ``mean``, ``std`` and optionally ``interpolation`` (default bicubic), as in
    timm's data config.
    """
    return TimmEmbedder(
        model,
        key=embedder_key(name, image_size, checkpoint),
        image_size=image_size,
        mean=data["mean"],
        std=data["std"],
        interpolation=data.get("interpolation", "bicubic"),
        device=device,
    )


def create_timm_embedder(
    model_name: str,
    *,
    device: torch.device,
    image_size: int | None = None,
    checkpoint: Path | None = None,
) -> TimmEmbedder:
    """Build a feature embedder from any timm model, pretrained or from a local file.

    ``image_size`` None takes the model's own input size. Models with a fixed input size (ViTs)
    are built for the requested size (timm resamples their position embeddings); when the
    architecture does not accept that, its own size is used and recorded in the key.
    """
    import timm
    from timm.data import resolve_model_data_config

    kwargs: dict = {"num_classes": 0}
    if checkpoint is not None:
        kwargs["pretrained_cfg_overlay"] = {"file": str(checkpoint)}
    cfg = timm.models.get_pretrained_cfg(model_name)
    fixed = cfg is not None and cfg.fixed_input_size
    if fixed and image_size is not None and image_size != cfg.input_size[-1]:
        kwargs["img_size"] = image_size  # ViTs resample their position embeddings
    try:
        model = _build(model_name, kwargs)
    except TypeError:
        kwargs.pop("img_size", None)
        model = _build(model_name, kwargs)
    if checkpoint is not None:
        _check_loaded(model, checkpoint, model_name)
    data = resolve_model_data_config(model)
    native = int(data["input_size"][-1])
    if image_size is None or (fixed and "img_size" not in kwargs):
        if image_size not in (None, native):
            _log.warning("%s takes %d px input only, not %d", model_name, native, image_size)
        image_size = native
    return keyed_embedder(
        model,
        name=f"timm:{model_name}",
        image_size=image_size,
        checkpoint=checkpoint,
        data=data,
        device=device,
    )


def _build(model_name: str, kwargs: dict) -> torch.nn.Module:
    """timm.create_model with our errors: a failed download, or a file that does not fit."""
    import timm

    checkpoint = kwargs.get("pretrained_cfg_overlay", {}).get("file")
    offline = checkpoint is None and not _hub_reachable()
    try:
        with _hub_offline(offline):
            return timm.create_model(model_name, pretrained=True, **kwargs)
    except TypeError:
        raise
    except Exception as exc:
        if checkpoint is not None:
            read_weights(Path(checkpoint))  # refuses a file that holds no weights at all
            raise LabelerError(
                f"checkpoint file {checkpoint!r} does not fit timm model {model_name!r} "
                f"({type(exc).__name__}: {_short(exc)}); pass weights saved from that architecture"
            ) from exc
        why = (
            f"{HUB_HOST} cannot be reached from this machine and they are not in its cache"
            if offline
            else f"{type(exc).__name__}: {_short(exc)}"
        )
        raise LabelerError(
            f"could not download pretrained weights for {model_name!r} ({why}); pass "
            "--checkpoint FILE with weights of that architecture (downloaded elsewhere), or use "
            "the offline default 'efficientnet_lite0'"
        ) from exc


def _hub_reachable() -> bool:
    """Whether the weights' host can be looked up (or a proxy may reach it): without, the hub's
    client would retry for most of a minute before failing."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return True
    try:
        socket.getaddrinfo(HUB_HOST, 443)
    except OSError:
        return False
    return True


@contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    """While `offline`, the Hugging Face hub client reads its cache only and fails at once."""
    import huggingface_hub.constants as hub

    was = hub.HF_HUB_OFFLINE
    hub.HF_HUB_OFFLINE = was or offline
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = was


def _check_loaded(model: torch.nn.Module, checkpoint: Path, model_name: str) -> None:
    """Refuse a checkpoint that timm loaded only partly (it loads non-strictly when it drops the
    classifier, so a file with half the keys renamed would leave random layers silently)."""
    from timm.models import load_state_dict

    saved = load_state_dict(str(checkpoint))
    wanted = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    present = [k for k in wanted if k in saved]
    if not present:
        return  # keys were converted by the model's checkpoint filter; timm checked the shapes
    missing = [k for k in wanted if k not in saved]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise LabelerError(
            f"checkpoint file {str(checkpoint)!r} lacks {len(missing)} of the {len(wanted)} "
            f"weights of timm model {model_name!r} ({shown}); pass weights saved from that "
            "architecture"
        )


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "ImagePreprocessor",
    "TimmEmbedder",
    "create_timm_embedder",
    "embedder_key",
    "file_digest",
    "is_timm_model",
    "keyed_embedder",
]
