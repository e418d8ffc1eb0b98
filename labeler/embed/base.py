"""The embedder contract, the registry of backends, device and input-size choice.

An embedder turns images into raw feature vectors in two steps, so that the cheap first step can
run in data-loader worker processes and the costly second one batched on the accelerator::

    x = embedder.preprocess(image)            # PIL RGB image -> (3, S, S) float32, normalised
    v = embedder.forward(torch.stack(xs))     # (B, 3, S, S) -> (B, D) float32 numpy, raw pooled

Backends register a factory under a name with :func:`register_embedder`; :func:`create_embedder`
builds one by name. Names that are not registered are looked up as timm model names.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

from labeler.config import DEFAULT_BACKBONE, IMAGE_SIZE_RANGE, IMAGE_SIZES
from labeler.errors import LabelerError

TIMM_PREFIX = "timm:"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline, the cache and the project need from an image embedder.

    Attributes:
        key: identity of the vectors, e.g. ``"efficientnet_lite0@112"``; recorded with
            predictions and used as the vector-cache folder. Two embedders with the same key
            must produce the same vectors.
        dim: output dimension D.
        image_size: side S of the square network input.
        device: where :meth:`forward` runs.

    Implementations may also expose ``preprocessor``: a picklable callable equivalent to
    :meth:`preprocess`. Data-loader workers then receive it instead of the whole embedder (worker
    processes started with *spawn* or *forkserver* pickle what they are given).
    """

    key: str
    dim: int
    image_size: int
    device: torch.device

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL RGB image of any size -> (3, S, S) float32 tensor, normalised, on the CPU."""
        ...

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        """(B, 3, S, S) float32 CPU tensor -> (B, D) float32 numpy array of raw pooled features."""
        ...


EmbedderFactory = Callable[..., Embedder]
_REGISTRY: dict[str, EmbedderFactory] = {}


def register_embedder(name: str) -> Callable[[EmbedderFactory], EmbedderFactory]:
    """Register a factory ``(*, device, image_size, checkpoint) -> Embedder`` under ``name``.

    ``device`` is a resolved :class:`torch.device`, ``image_size`` an int or None (the backend's
    default), ``checkpoint`` a :class:`~pathlib.Path` or None. Registering a name again replaces
    the previous factory (so that tests and plugins can re-register idempotently).
    """
    if not name or name.startswith(TIMM_PREFIX) or "@" in name:
        raise ValueError(f"invalid embedder name {name!r}: must be non-empty, no '@', no 'timm:'")

    def decorator(factory: EmbedderFactory) -> EmbedderFactory:
        _REGISTRY[name] = factory
        return factory

    return decorator


def _registry() -> dict[str, EmbedderFactory]:
    """The registry, with the built-in backends in it: their modules register themselves when
    first imported, here rather than with the package (they bring torch and timm, which
    commands that only read vectors, such as `labeler status`, do not need)."""
    import labeler.embed.clip_backend
    import labeler.embed.offline  # noqa: F401

    return _REGISTRY


def available_embedders() -> list[str]:
    """Names registered with :func:`register_embedder`, sorted (timm names work besides these)."""
    return sorted(_registry())


def create_embedder(
    name: str = DEFAULT_BACKBONE,
    *,
    device: str | torch.device = "auto",
    image_size: int | None = None,
    checkpoint: str | Path | None = None,
) -> Embedder:
    """Build the embedder called ``name``.

    Args:
        name: a registered name (see :func:`available_embedders`), ``"timm:<model>"``, or a plain
            timm model name such as ``"resnet50"`` or ``"vit_small_patch14_dinov2.lvd142m"``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        image_size: side of the square network input; None for the backend's default.
        checkpoint: a local weights file to load instead of the backend's default weights.

    Raises:
        LabelerError: unknown name, bad size, missing checkpoint file, unavailable device, or
            weights that cannot be obtained.
    """
    resolved = resolve_device(device)
    low, high = IMAGE_SIZE_RANGE
    if image_size is not None and (
        isinstance(image_size, bool)
        or not isinstance(image_size, int)
        or not low <= image_size <= high
    ):
        raise LabelerError(
            f"image size must be a whole number of {low} to {high} pixels, got {image_size!r}; "
            f"try one of {', '.join(map(str, IMAGE_SIZES))}"
        )
    ckpt = None
    if checkpoint is not None:
        ckpt = Path(checkpoint).expanduser()
        if not ckpt.is_file():
            raise LabelerError(
                f"checkpoint file {str(ckpt)!r} does not exist; pass the path of a local "
                "weights file (.pth, .pt, .bin or .safetensors)"
            )
    factory = _registry().get(name)
    if factory is not None:
        return factory(device=resolved, image_size=image_size, checkpoint=ckpt)

    from labeler.embed.timm_backend import create_timm_embedder, is_timm_model

    model_name = name[len(TIMM_PREFIX) :] if name.startswith(TIMM_PREFIX) else name
    if model_name and is_timm_model(model_name):
        return create_timm_embedder(
            model_name, device=resolved, image_size=image_size, checkpoint=ckpt
        )
    raise LabelerError(
        f"unknown backbone {name!r}; available: {', '.join(available_embedders())}, "
        "or any timm model name (written 'timm:<name>' or plainly, see timm.list_models())"
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N" | "mps"`` into an available torch device.

    ``"auto"`` picks CUDA, then Apple MPS, then the CPU. Asking for an accelerator that torch
    cannot see raises :class:`LabelerError` instead of failing later inside the model.
    """
    text = str(device).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise LabelerError(
            f"unknown device {str(device)!r}; use one of {', '.join(DEVICE_CHOICES)}"
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA support"
            raise LabelerError(
                f"device {str(device)!r} was requested but torch {torch.__version__} ({build}) "
                "sees no CUDA GPU; use --device auto or cpu, or check the GPU driver"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise LabelerError(
                f"device {str(device)!r} was requested but only {count} CUDA GPU(s) are "
                f"visible (cuda:0 to cuda:{count - 1}); pick one of those or use --device auto"
            )
    if dev.type == "mps" and not _mps_available():
        raise LabelerError(
            f"device {str(device)!r} was requested but Apple MPS is not available on this "
            "machine; use --device auto or cpu"
        )
    return dev


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_image_size(sizes: Sequence[tuple[int, int]]) -> int:
    """Network input side for a collection of images given their ``(width, height)``.

    Returns the smallest of ``IMAGE_SIZES`` at least as large as the median short side, capped
    at the largest; the largest for an empty collection. Small sources (e.g. 28 px) need no
    224 px input, which costs about eight times the compute of 112 px.
    """
    if not sizes:
        return IMAGE_SIZES[-1]
    median_short = statistics.median(min(int(w), int(h)) for w, h in sizes)
    for candidate in IMAGE_SIZES:
        if candidate >= median_short:
            return candidate
    return IMAGE_SIZES[-1]
