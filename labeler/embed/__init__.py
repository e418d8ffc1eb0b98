"""Image embedders: the protocol, the registry of backends, batched embedding, the vector cache.

>>> from labeler.embed import create_embedder, embed_files, VectorCache
>>> embedder = create_embedder("efficientnet_lite0", device="auto", image_size=112)
>>> result = embed_files(embedder, paths)          # result.vectors: (N, 1280) float32
>>> VectorCache(project / "vectors", embedder.key).put(hashes, result.vectors[result.ok])
"""

from labeler.embed import clip_backend as _clip  # noqa: F401  (registers "clip", local weights)
from labeler.embed import offline as _offline  # noqa: F401  (registers "efficientnet_lite0")
from labeler.embed.base import (
    Embedder,
    available_embedders,
    choose_image_size,
    create_embedder,
    register_embedder,
    resolve_device,
)
from labeler.embed.cache import VectorCache, safe_key
from labeler.embed.offline import load_offline_lite0_state_dict, offline_lite0_weights_path
from labeler.embed.pipeline import EmbedResult, default_num_workers, embed_files
from labeler.embed.timm_backend import ImagePreprocessor, TimmEmbedder

__all__ = [
    "EmbedResult",
    "Embedder",
    "ImagePreprocessor",
    "TimmEmbedder",
    "VectorCache",
    "available_embedders",
    "choose_image_size",
    "create_embedder",
    "default_num_workers",
    "embed_files",
    "load_offline_lite0_state_dict",
    "offline_lite0_weights_path",
    "register_embedder",
    "resolve_device",
    "safe_key",
]
